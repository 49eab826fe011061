#include "common/checkpoint/json_util.h"

#include <set>
#include <vector>

#include "common/core/errors.h"

namespace gramrl::checkpoint::detail {

nlohmann::json parseJsonStrict(std::string_view text, std::string_view source, int max_depth) {
  // nlohmann treats NUL as the end of input, so "{...}\0anything" would parse.
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    throw DataError(fmt::format("{}: invalid JSON: NUL byte at offset {}", source, nul));
  }
  // One key set per open object; arrays push an empty marker so depth counts both.
  std::vector<std::set<std::string>> open;
  auto callback = [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        if (static_cast<int>(open.size()) >= max_depth) {
          throw DataError(fmt::format("{}: JSON nested deeper than {} levels", source, max_depth));
        }
        open.emplace_back();
        break;
      case Event::object_end:
      case Event::array_end:
        if (!open.empty()) open.pop_back();
        break;
      case Event::key: {
        GRAMRL_ASSERT(!open.empty() && parsed.is_string());
        auto [it, fresh] = open.back().insert(parsed.get<std::string>());
        if (!fresh) throw DataError(fmt::format("{}: duplicate key \"{}\" in one JSON object", source, *it));
        break;
      }
      case Event::value: break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true);
  } catch (const nlohmann::json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 5: ..." -> from "parse error".
    std::string_view what = e.what();
    if (const size_t close = what.find("] "); what.rfind("[json.exception", 0) == 0 && close != what.npos) {
      what.remove_prefix(close + 2);
    }
    throw DataError(fmt::format("{}: invalid JSON: {}", source, what));
  }
}

std::string brief(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::string_view typeName(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    case nlohmann::json::value_t::number_float: return "a number";
    case nlohmann::json::value_t::binary: return "binary";
    case nlohmann::json::value_t::discarded: return "nothing";
  }
  return "unknown";
}

}  // namespace gramrl::checkpoint::detail
