// Shared test data: the tokenizer folders and reference.json under tests/data/tokenizers.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/tokenizer/hf_tokenizer.h"

namespace gramrl::tokenizer::testing {

std::string testDataDir();  // tests/data/tokenizers in the source tree
// Loaded on first use and kept for the process (one gtest case per ctest entry, so usually
// once per case). HfTokenizer is safe to share between threads.
const HfTokenizer& qwen3();
const HfTokenizer& llama31();
const HfTokenizer& byName(const std::string& name);  // "qwen3" or "llama3.1"
const nlohmann::json& reference();

// A fresh empty directory under the gtest temp dir.
std::string makeTempDir();
void writeFile(const std::string& path, const std::string& content);
std::string readFile(const std::string& path);

}  // namespace gramrl::tokenizer::testing
