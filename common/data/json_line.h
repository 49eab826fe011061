// One JSONL row parsed strictly, and the checks on the files a command reads and writes. Every
// reader of user JSONL (common/data, gramrl world, reward score, generate --prompts, gram eval)
// goes through parseJsonLine, so a row means the same thing everywhere (issue 15).
//
// Threads: free functions; safe from any thread. Throws DataError naming `where` (file:line) or
// the path and the flag that gave it.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gramrl::data {

// Parses `text` as one JSON value. Stricter than nlohmann's default, which keeps the last of a
// repeated key silently and stops at a NUL byte as if the input ended: a key given twice in one
// object, a NUL byte and nesting deeper than 64 are errors. Messages read "<where>: invalid JSON
// at column 5: ..." or "<where>: key \"x\" given twice in one object".
nlohmann::json parseJsonLine(std::string_view text, const std::string& where);

// A file the command will read: it must exist and be a regular file (or a FIFO, such as
// /dev/stdin). `what` names where the path came from ("--data", "world score"). Throws DataError:
// "--data runs/x: is a directory; expected a JSONL file".
void checkInputFile(const std::string& path, const std::string& what);

// A file the command will write when its work is done: checked before the work starts, so that a
// long run does not end in a failed rename. It must not be a directory, and its directory must
// exist (or be creatable: it is created here) and be writable. Throws DataError naming `what`.
void checkOutputFile(const std::string& path, const std::string& what);

}  // namespace gramrl::data
