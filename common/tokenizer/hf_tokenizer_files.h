// Reading a Hugging Face tokenizer directory into plain structs (internal to HfTokenizer).
//
// Only the subset of tokenizer.json that byte-level BPE tokenizers (Llama-3.x, Qwen2.5, Qwen3)
// use is accepted; every other component or option is refused with a DataError that names the
// file and the field, so an unsupported tokenizer fails at load instead of encoding wrongly:
//   normalizer      null, NFC, or a Sequence of NFC
//   pre_tokenizer   Sequence of Split (Regex or String pattern, behavior Isolated, invert false)
//                   ending in ByteLevel (add_prefix_space false); or ByteLevel alone
//   model           BPE without dropout, byte_fallback, or word prefixes/suffixes;
//                   merges as "a b" strings or ["a", "b"] pairs; ignore_merges honoured
//   added_tokens    special or not; lstrip, rstrip, normalized honoured; single_word refused
//   post_processor  null, ByteLevel, TemplateProcessing (its `single` template), a Sequence
//   decoder         ByteLevel, or a Sequence of ByteLevel
//
// Threads: plain functions; blocks on file I/O. Throws DataError.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/tokenizer/tokenizer.h"

namespace gramrl::tokenizer {

struct HfAddedToken {
  TokenId id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;  // matched after the normalizer ran, not in the raw text
};

struct HfTokenizerFiles {
  std::string directory;       // as given (a directory, or the folder of the file given)
  std::string tokenizer_file;  // tokenizer.json or tokenizer.json.gz actually read

  // tokenizer.json
  std::vector<std::pair<std::string, TokenId>> vocab;  // model.vocab
  std::vector<std::pair<std::string, std::string>> merges;
  bool ignore_merges = false;
  std::optional<std::string> unk_token;
  bool nfc = false;
  std::vector<std::string> split_patterns;  // Oniguruma regexes, applied in order
  std::vector<HfAddedToken> added_tokens;
  std::vector<TokenId> prefix_ids;  // post_processor: added before / after the sequence
  std::vector<TokenId> suffix_ids;

  // tokenizer_config.json (optional)
  std::optional<std::string> bos_token, eos_token, pad_token;
  std::vector<std::string> additional_special_tokens;
  std::string chat_template;  // the template text, "" when absent

  // eos_token_id of config.json and generation_config.json (optional files)
  std::vector<TokenId> eos_token_ids;
};

// `path` is a directory holding tokenizer.json or tokenizer.json.gz, or one of those files.
HfTokenizerFiles readHfTokenizerFiles(const std::string& path);

// The whole content of a file, gunzipped when it is gzip-compressed. Throws DataError.
std::string readMaybeGzipFile(const std::string& path);

}  // namespace gramrl::tokenizer
