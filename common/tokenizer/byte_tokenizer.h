// The built-in tokenizer of the tiny models ("builtin:bytes"): one id per byte, plus special
// tokens for the `plain` chat template. It needs no files and represents any byte string,
// valid UTF-8 or not.
//
// The vocabulary (kByteVocabSize = 263 ids):
//   0..255  the byte of that value. Piece: the character itself for printable ASCII
//           0x21..0x7E, "<0xNN>" (two upper-case hex digits) for every other byte.
//   256 <|pad|>   257 <|bos|>   258 <|eos|>
//   259 <|system|>   260 <|user|>   261 <|assistant|>   262 <|end|>   (plain chat template)
// All seven are special: encode() turns their strings in the text into their ids (the longest
// match at the leftmost position, as Hugging Face does), so the literal text "<|user|>" cannot
// be encoded as bytes; decode() writes them back as text unless skip_special_tokens.
// encode(add_special_tokens=true) prepends <|bos|>. Generation stops at <|end|> (end of an
// assistant turn) or <|eos|>.
//
// Threads, ownership, throws: see Tokenizer (tokenizer.h); encode() never throws, decode()
// throws DataError for an id outside [0, 263).
#pragma once

#include <string>

#include "common/tokenizer/tokenizer.h"

namespace gramrl::tokenizer {

constexpr TokenId kBytePad = 256;
constexpr TokenId kByteBos = 257;
constexpr TokenId kByteEos = 258;
constexpr TokenId kByteSystem = 259;
constexpr TokenId kByteUser = 260;
constexpr TokenId kByteAssistant = 261;
constexpr TokenId kByteEnd = 262;
constexpr int32_t kByteVocabSize = 263;

class ByteTokenizer final : public Tokenizer {
 public:
  ByteTokenizer();

  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens = true) const override;
  using Tokenizer::decode;
  std::string decode(const TokenId* ids, size_t count, bool skip_special_tokens = false) const override;
  std::string idToPiece(TokenId id) const override;
  std::optional<TokenId> tokenToId(std::string_view piece) const override;
  int32_t vocabSize() const override { return kByteVocabSize; }
  bool isSpecial(TokenId id) const override { return id >= kBytePad && id < kByteVocabSize; }
  const SpecialTokenIds& specialTokens() const override { return special_; }
  const std::string& chatTemplateName() const override { return chat_template_; }
  const std::string& source() const override { return source_; }

  // The text of special token `id` (kBytePad..kByteEnd), e.g. "<|user|>".
  static const char* specialText(TokenId id);

 private:
  SpecialTokenIds special_;
  std::string chat_template_ = "plain";
  std::string source_ = "builtin:bytes";
};

}  // namespace gramrl::tokenizer
