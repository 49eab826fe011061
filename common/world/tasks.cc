#include "common/world/tasks.h"

#include <algorithm>
#include <array>

#include "common/core/errors.h"

namespace gramrl::world {
namespace {

bool isDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A number in [0, 999] written canonically: one to three digits, no leading zero unless "0".
bool isAddend(const std::string& s) { return isDigits(s) && s.size() <= 3 && (s.size() == 1 || s[0] != '0'); }

std::string solve(const std::string& family, const std::string& input) {
  if (family == "srt") {
    std::string out = input;
    std::sort(out.begin(), out.end());
    return out;
  }
  if (family == "rev") return std::string(input.rbegin(), input.rend());
  if (family == "ddp") {
    std::array<bool, 10> seen{};
    std::string out;
    for (char c : input) {
      if (!seen[c - '0']) out.push_back(c);
      seen[c - '0'] = true;
    }
    return out;
  }
  if (family == "add") {
    const size_t plus = input.find('+');
    return std::to_string(std::stoi(input.substr(0, plus)) + std::stoi(input.substr(plus + 1)));
  }
  if (family == "inc") {
    std::string out = input;
    for (char& c : out) c = static_cast<char>('0' + (c - '0' + 1) % 10);
    return out;
  }
  GRAMRL_ASSERT(family == "rot", "no solver for family {}", family);
  return input.substr(1) + input.substr(0, 1);
}

std::string randomDigits(CounterRng& rng, int64_t length) {
  std::string out;
  for (int64_t i = 0; i < length; ++i) out.push_back(static_cast<char>('0' + rng.uniformInt(10)));
  return out;
}

}  // namespace

const std::vector<std::string>& familyNames() {
  static const std::vector<std::string> kNames{"srt", "rev", "ddp", "add", "inc", "rot"};
  return kNames;
}

const std::vector<std::string>& defaultHeldOutFamilies() {
  static const std::vector<std::string> kHeldOut{"rev", "inc"};
  return kHeldOut;
}

bool isFamily(const std::string& name) {
  const auto& names = familyNames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

Task makeTask(const std::string& family, const std::string& input) {
  GRAMRL_CHECK(isFamily(family), DataError,
               "world task: unknown family \"{}\" (expected one of srt, rev, ddp, add, inc, rot)", family);
  if (family == "add") {
    const size_t plus = input.find('+');
    const bool valid = plus != std::string::npos && isAddend(input.substr(0, plus)) && isAddend(input.substr(plus + 1));
    GRAMRL_CHECK(valid, DataError, "world task add: input \"{}\" is not a+b with a and b in [0, 999]", input);
  } else {
    GRAMRL_CHECK(isDigits(input) && input.size() <= kMaxInputDigits, DataError,
                 "world task {}: input \"{}\" is not a string of 1 to {} digits", family, input, kMaxInputDigits);
  }
  return Task{family, input, family + ":" + input, solve(family, input)};
}

Task parseTask(const std::string& prompt) {
  constexpr const char* kSpace = " \t\r\n";
  const size_t begin = prompt.find_first_not_of(kSpace);
  const std::string text =
      begin == std::string::npos ? "" : prompt.substr(begin, prompt.find_last_not_of(kSpace) + 1 - begin);
  const size_t colon = text.find(':');
  GRAMRL_CHECK(colon != std::string::npos, DataError, "world prompt \"{}\": expected \"family:input\"", prompt);
  try {
    return makeTask(text.substr(0, colon), text.substr(colon + 1));
  } catch (const DataError& e) {
    throw DataError(fmt::format("world prompt \"{}\": {}", prompt, e.what()));
  }
}

Task sampleTask(const std::string& family, CounterRng& rng) {
  GRAMRL_CHECK(isFamily(family), ConfigError,
               "world: unknown family \"{}\" (expected one of srt, rev, ddp, add, inc, rot)", family);
  if (family == "add") {
    const int64_t a = rng.uniformRange(0, 999);
    const int64_t b = rng.uniformRange(0, 999);
    return makeTask(family, std::to_string(a) + "+" + std::to_string(b));
  }
  if (family == "ddp") {
    // A small pool makes repeats likely, so that deduplication has something to do.
    std::array<char, 10> digits{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9'};
    const int64_t pool = rng.uniformRange(3, 5);
    for (int64_t i = 0; i < pool; ++i) std::swap(digits[i], digits[rng.uniformRange(i, 9)]);  // partial Fisher-Yates
    const int64_t length = rng.uniformRange(5, 7);
    std::string input;
    for (int64_t i = 0; i < length; ++i) input.push_back(digits[rng.uniformInt(pool)]);
    return makeTask(family, input);
  }
  return makeTask(family, randomDigits(rng, rng.uniformRange(4, 7)));
}

}  // namespace gramrl::world
