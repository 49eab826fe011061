// The task families of the synthetic instruction-following world (world.h): small functions over digit strings whose
// correct answer a program knows, so that gold rewards and preferences cost nothing and need no download.
//
//   family  input                     answer                 example
//   srt     4-7 digits                sorted ascending       srt:9371    -> 1379
//   rev     4-7 digits                reversed               rev:9371    -> 1739
//   ddp     5-7 digits from a pool    first occurrences      ddp:3133221 -> 312
//           of 3-5 distinct digits
//   add     a+b, a and b in [0, 999]  the decimal sum        add:347+85  -> 432
//   inc     4-7 digits                every digit +1 mod 10  inc:1239    -> 2340
//   rot     4-7 digits                rotated left by one    rot:1234    -> 2341
//
// A prompt is the text "fam:input"; parsing it gives back the task, so a rule reward can score
// (prompt, response) text alone. Everything here is a pure function; every function may be
// called from any thread.
#pragma once

#include <string>
#include <vector>

#include "common/world/rng.h"

namespace gramrl::world {

// All six families in a fixed order: srt, rev, ddp, add, inc, rot. Generators list families in
// this order whatever order they are given in.
const std::vector<std::string>& familyNames();
// The families held out of labeled data by default, as out-of-distribution tests: {"rev", "inc"}.
const std::vector<std::string>& defaultHeldOutFamilies();
bool isFamily(const std::string& name);

struct Task {
  std::string family;  // one of familyNames()
  std::string input;   // "9371", or "347+85" for add
  std::string prompt;  // family + ":" + input
  std::string answer;  // the one correct response
};

// The task for a family and an input. Throws DataError when the family is unknown or the input is
// not valid for it: list families take 1 to kMaxInputDigits digits; add takes "a+b" with a and b
// in [0, 999] written without leading zeros.
Task makeTask(const std::string& family, const std::string& input);
inline constexpr size_t kMaxInputDigits = 64;

// Parses "fam:input" (surrounding ASCII whitespace is ignored). Throws DataError naming the text
// when it is not the prompt of a known family with a valid input.
Task parseTask(const std::string& prompt);

// Draws a task of the family with the input distribution in the table above. Throws ConfigError
// for an unknown family.
Task sampleTask(const std::string& family, CounterRng& rng);

}  // namespace gramrl::world
