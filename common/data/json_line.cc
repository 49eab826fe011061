#include "common/data/json_line.h"

#include <unistd.h>

#include <filesystem>
#include <set>
#include <vector>

#include <fmt/core.h>

#include "common/core/errors.h"

namespace gramrl::data {
namespace {

constexpr int kMaxDepth = 64;

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
// becomes "invalid JSON at column 5: syntax error ..." (the line is ours, not nlohmann's).
std::string describeParseError(const nlohmann::json::exception& e) {
  std::string_view what = e.what();
  if (const size_t close = what.find("] "); what.rfind("[json.exception", 0) == 0 && close != what.npos) {
    what.remove_prefix(close + 2);
  }
  if (const size_t column = what.find("column "); what.rfind("parse error at line", 0) == 0 && column != what.npos) {
    const size_t colon = what.find(": ", column);
    if (colon != what.npos) {
      return fmt::format("invalid JSON at {}: {}", what.substr(column, colon - column), what.substr(colon + 2));
    }
  }
  return fmt::format("invalid JSON: {}", what);
}

}  // namespace

nlohmann::json parseJsonLine(std::string_view text, const std::string& where) {
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    throw DataError(fmt::format("{}: invalid JSON: NUL byte at column {}", where, nul + 1));
  }
  // One key set per open object or array (arrays hold none), so depth counts both.
  std::vector<std::set<std::string>> open;
  auto callback = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        GRAMRL_CHECK(static_cast<int>(open.size()) < kMaxDepth, DataError, "{}: JSON nested deeper than {} levels",
                     where, kMaxDepth);
        open.emplace_back();
        break;
      case Event::object_end:
      case Event::array_end:
        if (!open.empty()) open.pop_back();
        break;
      case Event::key: {
        GRAMRL_ASSERT(!open.empty() && parsed.is_string());
        const auto [it, fresh] = open.back().insert(parsed.get<std::string>());
        GRAMRL_CHECK(fresh, DataError,
                     "{}: key \"{}\" given twice in one object (JSON readers disagree on which one wins; keep one)",
                     where, *it);
        break;
      }
      case Event::value: break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("{}: {}", where, describeParseError(e)));
  }
}

void checkInputFile(const std::string& path, const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  GRAMRL_CHECK(fs::exists(status), DataError, "{} {}: no such file", what, path);
  GRAMRL_CHECK(!fs::is_directory(status), DataError, "{} {}: is a directory; expected a file (a JSONL file in it?)",
               what, path);
  GRAMRL_CHECK(fs::is_regular_file(status) || fs::is_fifo(status) || fs::is_character_file(status), DataError,
               "{} {}: not a regular file", what, path);
  GRAMRL_CHECK(::access(path.c_str(), R_OK) == 0, DataError, "{} {}: not readable (permissions)", what, path);
}

void checkOutputFile(const std::string& path, const std::string& what) {
  namespace fs = std::filesystem;
  GRAMRL_CHECK(!path.empty(), DataError, "{}: an empty output path", what);
  std::error_code ec;
  GRAMRL_CHECK(!fs::is_directory(path, ec), DataError, "{} {}: is a directory; give a file path (e.g. {}/out.jsonl)",
               what, path, path);
  GRAMRL_CHECK(path.back() != '/', DataError, "{} {}: ends in '/'; give a file path", what, path);
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::exists(parent, ec)) {
    fs::create_directories(parent, ec);
    GRAMRL_CHECK(!ec, DataError, "{} {}: cannot create the directory {}: {}", what, path, parent.string(),
                 ec.message());
  }
  GRAMRL_CHECK(fs::is_directory(parent, ec), DataError, "{} {}: {} is not a directory", what, path, parent.string());
  GRAMRL_CHECK(::access(parent.c_str(), W_OK | X_OK) == 0, DataError,
               "{} {}: cannot write in the directory {} (permissions)", what, path, parent.string());
}

}  // namespace gramrl::data
