// The order in which a trainer visits its examples: epoch after epoch, each a seeded shuffle.
//
// NOTE [Data cursor]
// The sampler's whole state is (epoch, offset): the next example is permutation(seed, epoch)
// [offset]. The permutation is a Fisher-Yates shuffle driven by splitmix64 of (seed, epoch,
// draw), computed here rather than with <random> distributions (whose outputs differ between
// standard libraries), so a checkpoint that stores the cursor resumes the exact same sequence
// on any machine. A global batch that runs past the end of an epoch continues into the next
// one; every rank draws the same global batch and takes its own slice of it (trainer.h), so the
// order does not depend on the number of ranks.
//
// Threads: one at a time. Throws ConfigError for an empty data set.
#pragma once

#include <cstdint>
#include <vector>

namespace gramrl {

struct DataCursor {
  int64_t epoch = 0;
  int64_t offset = 0;
};

class EpochSampler {
 public:
  EpochSampler(int64_t size, uint64_t seed, DataCursor cursor = {});

  // The next `count` example indices, advancing the cursor.
  std::vector<int64_t> next(int64_t count);
  const DataCursor& cursor() const { return cursor_; }
  int64_t size() const { return size_; }

  // permutation(seed, epoch) of [0, size).
  static std::vector<int64_t> permutation(int64_t size, uint64_t seed, int64_t epoch);

 private:
  int64_t size_;
  uint64_t seed_;
  DataCursor cursor_;
  std::vector<int64_t> order_;  // permutation of cursor_.epoch
};

}  // namespace gramrl
