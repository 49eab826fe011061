// A Hugging Face tokenizer.json with byte-level BPE: Llama-3.x, Qwen2.5, Qwen3.
//
// encode() runs Hugging Face's pipeline: added tokens are found in the raw text first
// (added_tokens.h); the text between them is normalized (NFC for Qwen), split by the
// pre-tokenizer's regexes (pre_tokenizer.h), and each piece is turned into ids by byte-level
// BPE (bpe_model.h); the post-processor's template then adds <|begin_of_text|> for Llama-3
// when add_special_tokens. The ids equal those of Hugging Face's own implementations; the
// tests check them against transformers.js on the shipped Llama-3.1 and Qwen3 files.
//
// Threads, ownership: see Tokenizer and NOTE [Tokenizer thread safety] (tokenizer.h).
// Throws: load() throws DataError naming the file and field; encode() throws DataError for
// text that is not valid UTF-8 (naming the byte offset); decode()/idToPiece() throw DataError
// for ids outside the vocabulary.
#pragma once

#include <memory>
#include <string>

#include "common/tokenizer/tokenizer.h"

namespace gramrl::tokenizer {

class HfTokenizer final : public Tokenizer {
 public:
  // `path`: a directory with tokenizer.json (or tokenizer.json.gz, read through zlib) and,
  // optionally, tokenizer_config.json (bos/eos/pad tokens, chat template), config.json and
  // generation_config.json (eos_token_id lists for SpecialTokenIds::stop); or the path of the
  // tokenizer.json(.gz) itself. Blocks while reading (about a second for Llama-3's file).
  static std::unique_ptr<HfTokenizer> load(const std::string& path);
  ~HfTokenizer() override;

  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens = true) const override;
  using Tokenizer::decode;
  std::string decode(const TokenId* ids, size_t count, bool skip_special_tokens = false) const override;
  std::string idToPiece(TokenId id) const override;
  std::optional<TokenId> tokenToId(std::string_view piece) const override;
  int32_t vocabSize() const override;
  bool isSpecial(TokenId id) const override;
  const SpecialTokenIds& specialTokens() const override;
  const std::string& chatTemplateName() const override;
  const std::string& source() const override;

  // The chat_template text of tokenizer_config.json ("" when absent), for diagnostics.
  const std::string& chatTemplateText() const;

 private:
  struct Impl;
  explicit HfTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gramrl::tokenizer
