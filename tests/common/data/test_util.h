// Helpers shared by the data tests.
#pragma once

#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/core/errors.h"

namespace gramrl::data::testing {

// The message of the DataError that `f` throws; a test failure (and "") when it throws nothing
// or something else.
template <typename F>
std::string dataErrorOf(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a DataError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected a DataError, nothing was thrown";
  return "";
}

inline nlohmann::json row(const char* text) { return nlohmann::json::parse(text); }

inline void writeFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
  ASSERT_TRUE(out.good()) << path;
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace gramrl::data::testing
