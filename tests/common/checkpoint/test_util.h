// Helpers for the checkpoint tests: temp dirs, printed seeds, file bytes, error-message matching.
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/seed.h"
#include "tests/support/temp_dir.h"

namespace gramrl::checkpoint::testing {

// A fresh directory (tests/support/temp_dir.h) named after this suite.
class TempDir : public ::gramrl::testing::TempDir {
 public:
  TempDir() : ::gramrl::testing::TempDir("grl-ckpt") {}
};

using ::gramrl::testing::testSeed;  // tests/support/seed.h

inline std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void writeBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline std::vector<std::string> listDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

inline std::string le64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

// A safetensors file with the given header text (not padded) and data bytes.
inline std::string rawFile(const std::string& header_json, const std::string& data) {
  return le64(header_json.size()) + header_json + data;
}

// The parts an error message must contain: a list, or strings.
inline std::vector<std::string> messageParts(std::vector<std::string> parts) { return parts; }
template <class... S>
std::vector<std::string> messageParts(const S&... parts) {
  return {std::string(parts)...};
}

// tests/data/checkpoint, found from this header's own path (the torch PCH forbids a -D for it,
// NOTE [Torch precompiled header]).
inline std::string dataDir() {
  return (std::filesystem::path(__FILE__).parent_path() / "../../data/checkpoint").lexically_normal().string();
}

}  // namespace gramrl::checkpoint::testing

// Expects `statement` to throw exactly `ErrorType` (not a subclass of something else) whose
// message contains every one of the given substrings.
#define EXPECT_THROW_WITH(statement, ErrorType, ...)                                             \
  do {                                                                                           \
    try {                                                                                        \
      statement;                                                                                 \
      ADD_FAILURE() << "expected " #ErrorType " from: " #statement;                              \
    } catch (const ErrorType& e) {                                                               \
      for (const std::string& part : ::gramrl::checkpoint::testing::messageParts(__VA_ARGS__)) { \
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos)                           \
            << "message of " #ErrorType " lacks \"" << part << "\": " << e.what();               \
      }                                                                                          \
    } catch (const std::exception& e) {                                                          \
      ADD_FAILURE() << "expected " #ErrorType ", got another exception: " << e.what();           \
    }                                                                                            \
  } while (0)
