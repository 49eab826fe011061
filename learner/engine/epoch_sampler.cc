#include "learner/engine/epoch_sampler.h"

#include <numeric>
#include <utility>

#include "common/core/errors.h"

namespace gramrl {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

EpochSampler::EpochSampler(int64_t size, uint64_t seed, DataCursor cursor) : size_(size), seed_(seed), cursor_(cursor) {
  GRAMRL_CHECK(size > 0, ConfigError, "the training set is empty: nothing to sample");
  GRAMRL_CHECK(cursor.epoch >= 0 && cursor.offset >= 0 && cursor.offset < size, DataError,
               "data cursor (epoch {}, offset {}) does not fit a data set of {} examples; was the data changed "
               "since the checkpoint?",
               cursor.epoch, cursor.offset, size);
  order_ = permutation(size_, seed_, cursor_.epoch);
}

std::vector<int64_t> EpochSampler::permutation(int64_t size, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(size));
  std::iota(order.begin(), order.end(), int64_t{0});
  const uint64_t stream = splitmix64(seed ^ splitmix64(static_cast<uint64_t>(epoch) + 0x5EEDull));
  for (int64_t i = size - 1; i > 0; --i) {
    // Multiply-shift maps 64 random bits onto [0, i] with negligible bias for any data set size.
    const uint64_t r = splitmix64(stream + static_cast<uint64_t>(i));
    const auto j = static_cast<int64_t>((static_cast<unsigned __int128>(r) * static_cast<uint64_t>(i + 1)) >> 64);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

std::vector<int64_t> EpochSampler::next(int64_t count) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(count));
  while (static_cast<int64_t>(out.size()) < count) {
    out.push_back(order_[static_cast<size_t>(cursor_.offset)]);
    if (++cursor_.offset == size_) {
      cursor_.offset = 0;
      ++cursor_.epoch;
      order_ = permutation(size_, seed_, cursor_.epoch);
    }
  }
  return out;
}

}  // namespace gramrl
