// The counter-based random numbers behind every draw of the synthetic world.
//
// NOTE [World determinism]
// Every generated row is a pure function of (seed, kind, row index): a CounterRng is keyed by
// those three numbers and counts its draws, so row i is the same whether 10 or 10^6 rows are
// asked for, and the same on every platform. Only integer arithmetic and exact conversions are
// used; std::uniform_int_distribution and friends are avoided because their outputs differ
// between standard libraries. The generator is splitmix64 (Steele, Lea and Flood, "Fast
// splittable pseudorandom number generators", OOPSLA 2014) started from a state derived from the
// key by the same mixing function.
#pragma once

#include <cstdint>

namespace gramrl::world {

// splitmix64's output function applied to x + golden ratio: a bijective 64-bit mixer.
inline uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A stream of random numbers for one (seed, stream, index) key. Threads: one thread at a time
// per object; objects are independent, cheap (16 bytes) and copyable. Never throws.
class CounterRng {
 public:
  CounterRng(uint64_t seed, uint64_t stream, uint64_t index)
      : state_(splitmix64(splitmix64(splitmix64(seed) ^ stream) ^ index)) {}

  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // An integer in [0, n) for n >= 1, by Lemire's multiply-shift. Its bias (at most n / 2^64) is
  // far below anything a test or a training run could see, and it needs no rejection loop.
  uint64_t uniformInt(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }
  // An integer in [lo, hi], lo <= hi.
  int64_t uniformRange(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(uniformInt(static_cast<uint64_t>(hi - lo) + 1));
  }
  // A double in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // True with probability p (p <= 0: never, p >= 1: always).
  bool bernoulli(double p) { return uniform01() < p; }

 private:
  uint64_t state_;
};

}  // namespace gramrl::world
