// Text <-> token ids for the policy and reward models.
//
// Two implementations sit behind one interface: HfTokenizer (a Hugging Face tokenizer.json
// with byte-level BPE: Llama-3.x, Qwen2.5, Qwen3) and ByteTokenizer (256 byte ids plus a few
// special tokens, for the tiny test models). loadTokenizer() picks one from a spec string.
//
// NOTE [Tokenizer thread safety]
// A Tokenizer is immutable after construction: every method is const and may be called from
// any number of threads at once (rollout workers, the reward client, the learner's data
// loader). The only shared mutable state is HfTokenizer's per-word BPE cache, which is guarded
// by its own mutex and held only for a lookup or an insert; it never changes results.
//
// NOTE [Decoded bytes]
// decode() returns the bytes the ids stand for. A byte-level token can hold part of a UTF-8
// character, so the bytes of an arbitrary id sequence (a generation cut at max_tokens, a
// single id) need not be valid UTF-8. Concatenating decode() of consecutive chunks gives the
// decode() of the whole, which is what streaming needs. Where valid text is required (JSON,
// logs, a reward model's prompt) pass the result through toValidUtf8() (common/tokenizer/
// unicode.h): that gives exactly what Hugging Face's decode() returns, U+FFFD included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gramrl::tokenizer {

using TokenId = int32_t;

// The ids of the tokens a model treats specially, when the tokenizer knows them.
struct SpecialTokenIds {
  std::optional<TokenId> bos;  // prepended by encode(add_special_tokens) where the format says so
  std::optional<TokenId> eos;  // end of sequence / end of turn, as tokenizer_config.json names it
  std::optional<TokenId> pad;
  // Ids that end a generation: eos plus the eos_token_id lists of config.json and
  // generation_config.json (Llama-3.1: <|end_of_text|>, <|eom_id|>, <|eot_id|>). Sorted.
  std::vector<TokenId> stop;
};

// Threads: see NOTE [Tokenizer thread safety]. Ownership: results are returned by value.
// Throws: DataError for text that is not valid UTF-8 (HfTokenizer only) and for ids outside
// the vocabulary; nothing else after construction.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text`. Special-token strings written in the text ("<|im_end|>") become their
  // ids, as in Hugging Face. add_special_tokens adds what the tokenizer's format adds around a
  // single sequence (Llama-3: <|begin_of_text|> in front; Qwen: nothing; ByteTokenizer: <|bos|>).
  // Chat prompts are encoded with add_special_tokens=false: the template writes them itself.
  virtual std::vector<TokenId> encode(std::string_view text, bool add_special_tokens = true) const = 0;

  // The bytes of the ids (NOTE [Decoded bytes]); special tokens are written as their text
  // unless skip_special_tokens. No clean-up of spaces is done (HF's clean_up_tokenization_spaces
  // is a presentation option that does not round-trip; it is never applied here).
  virtual std::string decode(const TokenId* ids, size_t count, bool skip_special_tokens = false) const = 0;
  std::string decode(const std::vector<TokenId>& ids, bool skip_special_tokens = false) const {
    return decode(ids.data(), ids.size(), skip_special_tokens);
  }

  // The vocabulary string of an id, as Hugging Face's convert_ids_to_tokens gives it
  // ("Ġworld", "<|im_end|>"; "<0x0A>" style for ByteTokenizer, see byte_tokenizer.h).
  virtual std::string idToPiece(TokenId id) const = 0;
  // The inverse of idToPiece; std::nullopt for a string that is not one token.
  virtual std::optional<TokenId> tokenToId(std::string_view piece) const = 0;
  // One past the largest id (added tokens included). A model's embedding may be larger
  // (Qwen3 pads 151669 up to 151936); ids past vocabSize() never come out of encode().
  virtual int32_t vocabSize() const = 0;
  // Whether the id is a special token (skipped by decode(skip_special_tokens=true)).
  virtual bool isSpecial(TokenId id) const = 0;
  virtual const SpecialTokenIds& specialTokens() const = 0;
  // The chat template (chat_template.h) this tokenizer's files ship, by name ("llama3",
  // "qwen2.5", "qwen3", "plain"), or "" when unknown.
  virtual const std::string& chatTemplateName() const = 0;
  // Where the tokenizer came from, for logs: a directory, or "builtin:bytes".
  virtual const std::string& source() const = 0;
};

// "builtin:bytes" -> ByteTokenizer; anything else is a directory holding tokenizer.json (or
// tokenizer.json.gz) and optionally tokenizer_config.json, config.json, generation_config.json
// (see HfTokenizer::load). Blocks while it reads and parses the files (about a second for
// Llama-3's 9 MB tokenizer.json). Throws DataError naming the file and field that is wrong.
std::unique_ptr<Tokenizer> loadTokenizer(const std::string& spec);

}  // namespace gramrl::tokenizer
