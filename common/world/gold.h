// The world's gold judge: how close a response is to the correct answer, by edit distance.
// Pure functions; every function may be called from any thread.
#pragma once

#include <cstdint>
#include <string>

#include "common/world/tasks.h"

namespace gramrl::world {

// Levenshtein distance between byte strings: the fewest single-character insertions, deletions
// and substitutions that turn a into b.
int64_t levenshtein(const std::string& a, const std::string& b);

// 1 - levenshtein(response, answer) / max(|response|, |answer|), in [0, 1]: 1 exactly for the
// correct answer, 0 when no character can be kept in place. Two empty strings score 1 (they are
// equal); world answers are never empty, so that case only matters to callers of this formula.
double goldScore(const Task& task, const std::string& response);

// The same for prompt text "fam:input" (parseTask) and a response whose surrounding ASCII
// whitespace is ignored (a policy's generation may end in a newline). This is the rule reward of
// the embedded default. Throws DataError when the prompt does not parse.
double goldScore(const std::string& prompt, const std::string& response);

}  // namespace gramrl::world
