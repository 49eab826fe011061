#include "learner/engine/epoch_sampler.h"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "common/core/errors.h"

namespace gramrl {
namespace {

TEST(EpochSamplerTest, EachEpochVisitsEveryExampleOnce) {
  EpochSampler s(10, 7);
  for (int epoch = 0; epoch < 3; ++epoch) {
    auto batch = s.next(10);
    std::set<int64_t> seen(batch.begin(), batch.end());
    EXPECT_EQ(seen.size(), 10u);
    EXPECT_EQ(*seen.begin(), 0);
    EXPECT_EQ(*seen.rbegin(), 9);
  }
  EXPECT_EQ(s.cursor().epoch, 3);
  EXPECT_EQ(s.cursor().offset, 0);
}

TEST(EpochSamplerTest, EpochsAndSeedsShuffleDifferently) {
  EXPECT_NE(EpochSampler::permutation(50, 1, 0), EpochSampler::permutation(50, 1, 1));
  EXPECT_NE(EpochSampler::permutation(50, 1, 0), EpochSampler::permutation(50, 2, 0));
  EXPECT_EQ(EpochSampler::permutation(50, 1, 3), EpochSampler::permutation(50, 1, 3));
}

TEST(EpochSamplerTest, ResumingFromACursorContinuesTheSameSequence) {
  EpochSampler full(7, 42);
  std::vector<int64_t> expected;
  for (int i = 0; i < 6; ++i) {
    auto b = full.next(3);
    expected.insert(expected.end(), b.begin(), b.end());
  }
  EpochSampler first(7, 42);
  std::vector<int64_t> got = first.next(3);
  auto b = first.next(3);
  got.insert(got.end(), b.begin(), b.end());
  EpochSampler resumed(7, 42, first.cursor());  // a batch crossed the epoch boundary before this
  for (int i = 0; i < 4; ++i) {
    auto c = resumed.next(3);
    got.insert(got.end(), c.begin(), c.end());
  }
  EXPECT_EQ(got, expected);
}

TEST(EpochSamplerTest, RejectsEmptyDataAndForeignCursors) {
  EXPECT_THROW(EpochSampler(0, 1), ConfigError);
  EXPECT_THROW(EpochSampler(5, 1, DataCursor{0, 5}), DataError);
}

}  // namespace
}  // namespace gramrl
