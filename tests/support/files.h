// Whole-file reads and writes for tests (binary, no error handling beyond an empty read).
#pragma once

#include <fstream>
#include <iterator>
#include <string>

namespace gramrl::testing {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace gramrl::testing
