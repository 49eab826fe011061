// Strict JSON parsing for the checkpoint readers (safetensors headers, config.json, the shard
// index). Internal to common/checkpoint: only .cc files include it, so nlohmann/json stays out
// of the public headers.
//
// Threads: free functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gramrl::checkpoint::detail {

// Parses `text` as one JSON value. Stricter than nlohmann's default: a NUL byte anywhere, a key
// repeated within one object (nlohmann would keep the last silently) and nesting deeper than
// `max_depth` are errors. Throws DataError "<source>: ..." naming the byte offset or the key.
nlohmann::json parseJsonStrict(std::string_view text, std::string_view source, int max_depth);

// A short rendering of a value for error messages: the JSON text, cut to about 60 characters.
std::string brief(const nlohmann::json& value);

// "an integer", "a string", ... for "expected X, got Y" messages.
std::string_view typeName(const nlohmann::json& value);

}  // namespace gramrl::checkpoint::detail
