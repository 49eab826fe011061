// Corruptions: how the world makes plausible wrong responses from a correct one. Each is a small
// edit of the kind a weak policy makes, so that telling good from bad responses needs to know the
// task (a swapped or shifted digit) or only surface cues (a truncated answer, a copy of the
// input). Everything here is a pure function of its arguments and the rng; every function may be
// called from any thread with its own rng.
#pragma once

#include <string>
#include <vector>

#include "common/world/rng.h"
#include "common/world/tasks.h"

namespace gramrl::world {

enum class Corruption {
  kSwap,        // swap the characters at two distinct positions
  kDrop,        // delete one character
  kDuplicate,   // insert a copy of one character right after it
  kDigitShift,  // one digit +1 or -1 mod 10
  kTruncate,    // keep the first half, floor(|s| / 2) characters
  kCopyInput,   // replace the whole response with the task's input string
};
inline constexpr int kNumCorruptions = 6;

// "swap", "drop", "duplicate", "digit_shift", "truncate", "copy_input".
const char* corruptionName(Corruption kind);

// Applies one corruption with positions drawn from rng. The result may equal `s` (swapping two
// equal digits, a copy of an input that equals the answer) or be empty (truncating or dropping a
// single character); corrupt() redraws those. Never throws.
std::string applyCorruption(Corruption kind, const std::string& s, const Task& task, CounterRng& rng);

// A uniformly drawn corruption of `s` that differs from `s`, from every string in `avoid` and is
// not empty; the kind and positions are redrawn until it does. Never empty: a duplicate always
// qualifies unless `avoid` is huge. `kind` (optional) receives the corruption used.
std::string corrupt(const Task& task, const std::string& s, CounterRng& rng, const std::vector<std::string>& avoid = {},
                    Corruption* kind = nullptr);

}  // namespace gramrl::world
