#include "tests/common/tokenizer/test_data.h"

#include <stdlib.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>

#include <gtest/gtest.h>

#include "common/tokenizer/hf_tokenizer_files.h"

namespace gramrl::tokenizer::testing {

std::string testDataDir() { return GRAMRL_TOKENIZER_TEST_DATA; }

const HfTokenizer& qwen3() {
  static const std::unique_ptr<HfTokenizer> tok = HfTokenizer::load(testDataDir() + "/qwen3");
  return *tok;
}

const HfTokenizer& llama31() {
  static const std::unique_ptr<HfTokenizer> tok = HfTokenizer::load(testDataDir() + "/llama3.1");
  return *tok;
}

const HfTokenizer& byName(const std::string& name) {
  if (name == "qwen3") return qwen3();
  if (name == "llama3.1") return llama31();
  throw std::invalid_argument("no test tokenizer " + name);
}

const nlohmann::json& reference() {
  // GRAMRL_TOKENIZER_REFERENCE names a file of the same shape made by another implementation
  // (scripts/reference/hf/tokenizer_reference.py: the Rust tokenizers library and transformers'
  // apply_chat_template; the ctest tokenizer_vs_hf_python sets it).
  static const nlohmann::json data = [] {
    const char* other = std::getenv("GRAMRL_TOKENIZER_REFERENCE");
    const std::string path = other != nullptr && *other != '\0' ? other : testDataDir() + "/reference.json";
    return nlohmann::json::parse(readMaybeGzipFile(path));
  }();
  return data;
}

std::string makeTempDir() {
  std::string templ = ::testing::TempDir() + "gramrl_tokenizer_XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + templ);
  return templ;
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace gramrl::tokenizer::testing
