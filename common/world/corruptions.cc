#include "common/world/corruptions.h"

#include <algorithm>

#include "common/core/errors.h"

namespace gramrl::world {

const char* corruptionName(Corruption kind) {
  switch (kind) {
    case Corruption::kSwap: return "swap";
    case Corruption::kDrop: return "drop";
    case Corruption::kDuplicate: return "duplicate";
    case Corruption::kDigitShift: return "digit_shift";
    case Corruption::kTruncate: return "truncate";
    case Corruption::kCopyInput: return "copy_input";
  }
  return "unknown";
}

std::string applyCorruption(Corruption kind, const std::string& s, const Task& task, CounterRng& rng) {
  std::string out = s;
  const uint64_t n = s.size();
  switch (kind) {
    case Corruption::kSwap: {
      if (n < 2) return out;
      // Two distinct positions, each unordered pair equally likely.
      const uint64_t i = rng.uniformInt(n);
      const uint64_t j = (i + 1 + rng.uniformInt(n - 1)) % n;
      std::swap(out[i], out[j]);
      return out;
    }
    case Corruption::kDrop:
      if (n == 0) return out;
      out.erase(rng.uniformInt(n), 1);
      return out;
    case Corruption::kDuplicate: {
      if (n == 0) return out;
      const uint64_t i = rng.uniformInt(n);
      out.insert(out.begin() + static_cast<std::ptrdiff_t>(i), s[i]);
      return out;
    }
    case Corruption::kDigitShift: {
      std::vector<size_t> digits;
      for (size_t i = 0; i < n; ++i) {
        if (s[i] >= '0' && s[i] <= '9') digits.push_back(i);
      }
      if (digits.empty()) return out;
      const size_t i = digits[rng.uniformInt(digits.size())];
      const int delta = rng.bernoulli(0.5) ? 1 : 9;  // +9 = -1 mod 10
      out[i] = static_cast<char>('0' + (s[i] - '0' + delta) % 10);
      return out;
    }
    case Corruption::kTruncate: return s.substr(0, n / 2);
    case Corruption::kCopyInput: return task.input;
  }
  GRAMRL_ASSERT(false, "unknown corruption {}", static_cast<int>(kind));
}

std::string corrupt(const Task& task, const std::string& s, CounterRng& rng, const std::vector<std::string>& avoid,
                    Corruption* kind) {
  // Most draws succeed (a duplicate lengthens s, a digit shift changes one digit), so 10^4 failed
  // draws mean a bug, not bad luck.
  for (int attempt = 0; attempt < 10000; ++attempt) {
    const auto k = static_cast<Corruption>(rng.uniformInt(kNumCorruptions));
    std::string out = applyCorruption(k, s, task, rng);
    if (out.empty() || out == s || std::find(avoid.begin(), avoid.end(), out) != avoid.end()) continue;
    if (kind != nullptr) *kind = k;
    return out;
  }
  GRAMRL_ASSERT(false, "no corruption of \"{}\" for prompt \"{}\" differs from it", s, task.prompt);
}

}  // namespace gramrl::world
