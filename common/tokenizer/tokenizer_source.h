// Which tokenizer goes with a model, and how a saved model remembers it.
//
// NOTE [Tokenizer of a saved model]
// A Hugging Face checkpoint directory carries its tokenizer files (tokenizer.json,
// tokenizer_config.json). gramrl's trainers save models that may come from a built-in preset
// (the byte tokenizer) or use a tokenizer from another directory, so on saving they copy the
// tokenizer files into the model directory when there are any, and otherwise write
// "gramrl_tokenizer.json" ({"tokenizer": "builtin:bytes"}) naming the spec. Resolution order:
// an explicit tokenizer option; "builtin:bytes" for builtin:<preset> models; the model
// directory itself when it holds tokenizer.json[.gz]; the spec in gramrl_tokenizer.json.
//
// Threads: free functions. Throws ConfigError when no tokenizer can be found (naming what was
// tried), SystemError for I/O while saving.
#pragma once

#include <string>

namespace gramrl::tokenizer {

inline constexpr char kTokenizerReferenceFile[] = "gramrl_tokenizer.json";

std::string resolveTokenizerSpec(const std::string& model_source, const std::string& tokenizer_option);

// Makes `model_dir` self-describing: copies the tokenizer files of directory `spec` into it, or
// records a builtin spec in gramrl_tokenizer.json. Each file is written atomically.
void saveTokenizerReference(const std::string& model_dir, const std::string& spec);

}  // namespace gramrl::tokenizer
