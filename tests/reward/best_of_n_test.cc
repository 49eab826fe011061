// Best-of-n against a consistent fake judge: P(i beats j) = sigmoid(q_i - q_j) for hidden
// qualities q.
#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "reward/gram/best_of_n.h"
#include "reward/gram/gram_math.h"
#include "tests/support/seed.h"

namespace gramrl::gram {
namespace {

struct FakeJudge {
  std::vector<double> quality;
  std::vector<size_t> round_sizes;
  bool distinct_within_round = true;  // a bracket round uses each candidate at most once

  PairwiseComparator comparator() {
    return [this](const std::vector<IndexPair>& pairs) {
      round_sizes.push_back(pairs.size());
      std::set<int64_t> seen;
      std::vector<double> p;
      for (const auto& pr : pairs) {
        EXPECT_NE(pr.i, pr.j);
        if (distinct_within_round) {
          EXPECT_TRUE(seen.insert(pr.i).second) << "candidate " << pr.i << " twice in one round";
          EXPECT_TRUE(seen.insert(pr.j).second) << "candidate " << pr.j << " twice in one round";
        }
        p.push_back(sigmoid(quality.at(static_cast<size_t>(pr.i)) - quality.at(static_cast<size_t>(pr.j))));
      }
      return p;
    };
  }
};

TEST(BestOfN, BracketFindsTheBestInNMinus1ComparisonsAndLog2NRounds) {
  std::mt19937_64 rng(testing::testSeed());
  std::normal_distribution<double> normal;
  for (int64_t n = 1; n <= 17; ++n) {
    for (int trial = 0; trial < 5; ++trial) {
      FakeJudge judge;
      for (int64_t k = 0; k < n; ++k) judge.quality.push_back(normal(rng));
      const BracketResult r = bracketBestOfN(n, judge.comparator());
      const auto best = std::max_element(judge.quality.begin(), judge.quality.end()) - judge.quality.begin();
      EXPECT_EQ(r.winner, best) << "n=" << n;
      EXPECT_EQ(r.comparisons, n - 1) << "n=" << n;
      const auto expected_rounds = static_cast<int64_t>(std::ceil(std::log2(static_cast<double>(n))));
      EXPECT_EQ(r.rounds, expected_rounds) << "n=" << n;
      EXPECT_EQ(static_cast<int64_t>(judge.round_sizes.size()), expected_rounds) << "one call per round";
      size_t alive = static_cast<size_t>(n);
      for (size_t size : judge.round_sizes) {
        EXPECT_EQ(size, alive / 2);
        alive -= size;
      }
    }
  }
}

TEST(BestOfN, BracketTieGoesToTheLowerIndex) {
  const BracketResult r =
      bracketBestOfN(5, [](const std::vector<IndexPair>& pairs) { return std::vector<double>(pairs.size(), 0.5); });
  EXPECT_EQ(r.winner, 0);
}

TEST(BestOfN, AnchorScoresByHand) {
  FakeJudge judge;
  judge.distinct_within_round = false;  // every pair involves the anchor
  judge.quality = {0, 1, -1, 2, 0.5};
  const AnchorResult r = anchorBestOfN(5, judge.comparator());
  // r_k = s_k - (1 - s_k) + 0.5 with s_k = sigmoid(q_k - q_0).
  const std::vector<double> expected{0.5, 0.9621171572600098, 0.0378828427399902, 1.2615941559557646,
                                     0.7449186624037092};
  ASSERT_EQ(r.scores.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) EXPECT_NEAR(r.scores[k], expected[k], 1e-14) << k;
  EXPECT_EQ(r.best, 3);
  EXPECT_EQ(r.comparisons, 4);
  EXPECT_EQ(r.rounds, 1);
  ASSERT_EQ(judge.round_sizes.size(), 1u);
  EXPECT_EQ(judge.round_sizes[0], 4u);
}

TEST(BestOfN, AnchorKeepsTheAnchorWhenNothingBeatsIt) {
  FakeJudge judge;
  judge.distinct_within_round = false;
  judge.quality = {3, 1, 2};
  EXPECT_EQ(anchorBestOfN(3, judge.comparator()).best, 0);
  EXPECT_EQ(anchorBestOfN(1, judge.comparator()).best, 0);
}

TEST(BestOfN, BadInput) {
  FakeJudge judge;
  EXPECT_THROW(bracketBestOfN(0, judge.comparator()), ConfigError);
  EXPECT_THROW(anchorBestOfN(0, judge.comparator()), ConfigError);
  const PairwiseComparator short_answer = [](const std::vector<IndexPair>&) { return std::vector<double>{0.5}; };
  EXPECT_THROW(bracketBestOfN(4, short_answer), InternalError);
}

// The official README's linear scan (NOTE [Best-of-n strategies]).
TEST(BestOfN, LinearScanFindsTheBestWithAConsistentJudge) {
  std::mt19937_64 rng(testing::testSeed());
  std::normal_distribution<double> normal;
  for (int64_t n = 1; n <= 9; ++n) {
    FakeJudge judge;
    for (int64_t k = 0; k < n; ++k) judge.quality.push_back(normal(rng));
    const BracketResult r = linearBestOfN(n, judge.comparator());
    EXPECT_EQ(r.winner, std::max_element(judge.quality.begin(), judge.quality.end()) - judge.quality.begin());
    EXPECT_EQ(r.comparisons, n - 1);
    EXPECT_EQ(r.rounds, n - 1);
    EXPECT_EQ(judge.round_sizes, std::vector<size_t>(static_cast<size_t>(n - 1), 1u));  // one pair per call
  }
  EXPECT_THROW(linearBestOfN(0, FakeJudge{}.comparator()), ConfigError);
}

// A judge that is not transitive: 0 > 1, 2 > 3, 0 > 2, but 3 > 0. The bracket plays (0, 1), (2, 3)
// and then (0, 2): 0 wins. The scan plays (0, 1), (0, 2), (0, 3): 3 wins. Ties keep the best so far.
TEST(BestOfN, LinearScanAndBracketDifferOnANonTransitiveJudge) {
  const auto beats = [](int64_t i, int64_t j) {
    static const std::set<std::pair<int64_t, int64_t>> wins = {{0, 1}, {2, 3}, {0, 2}, {3, 0}, {1, 2}, {1, 3}};
    if (wins.count({i, j})) return 0.9;
    if (wins.count({j, i})) return 0.1;
    return 0.5;
  };
  const PairwiseComparator judge = [&](const std::vector<IndexPair>& pairs) {
    std::vector<double> p;
    for (const auto& pr : pairs) p.push_back(beats(pr.i, pr.j));
    return p;
  };
  EXPECT_EQ(bracketBestOfN(4, judge).winner, 0);
  EXPECT_EQ(linearBestOfN(4, judge).winner, 3);
  const PairwiseComparator all_ties = [](const std::vector<IndexPair>& pairs) {
    return std::vector<double>(pairs.size(), 0.5);
  };
  EXPECT_EQ(linearBestOfN(5, all_ties).winner, 0);
}

}  // namespace
}  // namespace gramrl::gram
