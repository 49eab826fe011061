// The online algorithms' advantages, returns, baselines, KL controller, reward shaping and DPO
// pair selection against hand computation (NOTE [Advantage estimators], [Adaptive KL],
// [Reward shaping], [Online DPO pairs] in learner/rlhf/advantages.h).
#include "learner/rlhf/advantages.h"

#include <cmath>

#include <gtest/gtest.h>

#include "common/core/errors.h"

namespace gramrl::rlhf {
namespace {

TEST(AdvantagesTest, GroupAdvantagesMatchHandComputation) {
  // Group 1: rewards 1, 2, 3 -> mean 2, sample std 1 -> -1, 0, 1.
  // Group 2: rewards 0, 0, 6 -> mean 2, sample std sqrt((4 + 4 + 16) / 2) = sqrt(12).
  const std::vector<double> r{1, 2, 3, 0, 0, 6};
  const auto a = groupAdvantages(r, 3, true, 0.0);
  EXPECT_NEAR(a[0], -1.0, 1e-12);
  EXPECT_NEAR(a[1], 0.0, 1e-12);
  EXPECT_NEAR(a[2], 1.0, 1e-12);
  EXPECT_NEAR(a[3], -2.0 / std::sqrt(12.0), 1e-12);
  EXPECT_NEAR(a[5], 4.0 / std::sqrt(12.0), 1e-12);
  const auto centred = groupAdvantages(r, 3, false);
  EXPECT_NEAR(centred[3], -2.0, 1e-12);
  EXPECT_NEAR(centred[5], 4.0, 1e-12);
  // A group whose rewards tie has no signal, and a group of one has none either.
  const auto tie = groupAdvantages({5, 5}, 2);
  EXPECT_EQ(tie[0], 0.0);
  EXPECT_EQ(groupAdvantages({3.5}, 1)[0], 0.0);
}

TEST(AdvantagesTest, LeaveOneOutBaselineExcludesTheSampleItself) {
  // Group {1, 2, 6}: baselines (2 + 6) / 2 = 4, (1 + 6) / 2 = 3.5, (1 + 2) / 2 = 1.5.
  const auto a = leaveOneOutAdvantages({1, 2, 6, 4, 4, 4}, 3);
  EXPECT_DOUBLE_EQ(a[0], 1 - 4.0);
  EXPECT_DOUBLE_EQ(a[1], 2 - 3.5);
  EXPECT_DOUBLE_EQ(a[2], 6 - 1.5);
  for (int i = 3; i < 6; ++i) EXPECT_DOUBLE_EQ(a[i], 0.0);
  // RLOO's advantage is n / (n - 1) times the group-centred reward: 1 - 3 = -2 -> -3.
  EXPECT_DOUBLE_EQ(a[0], 1.5 * (1 - 3.0));
  EXPECT_EQ(leaveOneOutAdvantages({7}, 1)[0], 0.0);
}

TEST(AdvantagesTest, RemaxSubtractsTheGreedyReward) {
  const auto a = baselineAdvantages({0.9, 0.2, 0.5}, {0.5, 0.5, 0.25});
  EXPECT_DOUBLE_EQ(a[0], 0.4);
  EXPECT_DOUBLE_EQ(a[1], -0.3);
  EXPECT_DOUBLE_EQ(a[2], 0.25);
}

TEST(AdvantagesTest, TokenRewardsPutTheRewardOnTheLastToken) {
  const auto r = tokenRewards(2.0, {0.5f, -0.25f, 1.0f}, 0.1);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_FLOAT_EQ(r[0], -0.05f);
  EXPECT_FLOAT_EQ(r[1], 0.025f);
  EXPECT_FLOAT_EQ(r[2], 2.0f - 0.1f);
  EXPECT_TRUE(tokenRewards(1.0, {}, 0.1).empty());
}

TEST(AdvantagesTest, GaeOnAHandMadeTrajectory) {
  // rewards (0, 0, 1), values (0.5, 0.25, 0.75), gamma 0.9, lambda 0.8, V after the end = 0:
  //   delta_2 = 1 - 0.75 = 0.25                 A_2 = 0.25
  //   delta_1 = 0 + 0.9 * 0.75 - 0.25 = 0.425   A_1 = 0.425 + 0.72 * 0.25 = 0.605
  //   delta_0 = 0 + 0.9 * 0.25 - 0.5 = -0.275   A_0 = -0.275 + 0.72 * 0.605 = 0.1606
  // returns = A + V: 0.6606, 0.855, 1.0.
  const Gae g = generalizedAdvantages({0, 0, 1}, {0.5f, 0.25f, 0.75f}, 0.9, 0.8);
  EXPECT_NEAR(g.advantages[2], 0.25, 1e-6);
  EXPECT_NEAR(g.advantages[1], 0.605, 1e-6);
  EXPECT_NEAR(g.advantages[0], 0.1606, 1e-6);
  EXPECT_NEAR(g.returns[0], 0.6606, 1e-6);
  EXPECT_NEAR(g.returns[1], 0.855, 1e-6);
  EXPECT_NEAR(g.returns[2], 1.0, 1e-6);
  // lambda 1 and values 0: the advantages are the discounted returns (REINFORCE).
  const Gae mc = generalizedAdvantages({1, 0, 2}, {0, 0, 0}, 0.5, 1.0);
  const auto ret = discountedReturns({1, 0, 2}, 0.5);
  EXPECT_NEAR(ret[0], 1 + 0.25 * 2, 1e-6);
  EXPECT_NEAR(ret[1], 0.5 * 2, 1e-6);
  for (int t = 0; t < 3; ++t) EXPECT_NEAR(mc.advantages[t], ret[t], 1e-6);
  // lambda 0: the one-step TD error.
  const Gae td = generalizedAdvantages({0, 0, 1}, {0.5f, 0.25f, 0.75f}, 0.9, 0.0);
  EXPECT_NEAR(td.advantages[0], -0.275, 1e-6);
}

TEST(AdvantagesTest, WhiteningUsesTheGlobalMoments) {
  // Two "ranks" {1, 2} and {3, 6}: global mean 3, population variance (4 + 1 + 0 + 9) / 4 = 3.5.
  std::vector<std::vector<float>> a{{1, 2}};
  std::vector<std::vector<float>> b{{3}, {6}};
  const Moments ma = momentsOf(a);
  const Moments mb = momentsOf(b);
  const Moments global{ma.sum + mb.sum, ma.sum_sq + mb.sum_sq, ma.count + mb.count};
  EXPECT_DOUBLE_EQ(global.mean(), 3.0);
  EXPECT_DOUBLE_EQ(global.variance(), 3.5);
  whiten(a, global, 0.0);
  whiten(b, global, 0.0);
  EXPECT_NEAR(a[0][0], -2 / std::sqrt(3.5), 1e-6);
  EXPECT_NEAR(b[1][0], 3 / std::sqrt(3.5), 1e-6);
}

TEST(AdvantagesTest, AdaptiveKlControllerFollowsZieglersRule) {
  KlController c(0.2, 6.0, 10000);
  c.update(9.0, 512);  // error = clip(9 / 6 - 1, -0.2, 0.2) = 0.2 -> 0.2 * (1 + 0.2 * 512 / 10000)
  EXPECT_NEAR(c.coef(), 0.2 * (1 + 0.2 * 0.0512), 1e-12);
  const double before = c.coef();
  c.update(5.4, 1000);  // error = 5.4 / 6 - 1 = -0.1 -> * (1 - 0.1 * 0.1)
  EXPECT_NEAR(c.coef(), before * (1 - 0.01), 1e-12);
  KlController fixed(0.05, 0.0, 10000);
  fixed.update(100.0, 1000);
  EXPECT_EQ(fixed.coef(), 0.05);
}

TEST(AdvantagesTest, RunningMomentsEqualTheMomentsOfEverythingSeen) {
  RunningMoments m;
  m.add({1, 2, 3});
  m.add({10});
  m.add({});
  m.add({-4, 0});
  // All values: 1 2 3 10 -4 0: mean 2, population variance (1 + 0 + 1 + 64 + 36 + 4) / 6 = 106 / 6.
  EXPECT_NEAR(m.mean(), 2.0, 1e-12);
  EXPECT_NEAR(m.stddev(), std::sqrt(106.0 / 6.0), 1e-12);
  const RunningMoments back = RunningMoments::fromJson(m.toJson(), "test");
  EXPECT_EQ(back.mean(), m.mean());
  EXPECT_EQ(back.stddev(), m.stddev());
  EXPECT_THROW(RunningMoments::fromJson("{\"count\": 1}", "x.json"), DataError);
  EXPECT_THROW(RunningMoments::fromJson("{\"count\": -1, \"mean\": 0, \"m2\": 0}", "x.json"), DataError);
}

TEST(AdvantagesTest, ShapingClipsThenNormalisesWithTheUpdatedMoments) {
  RunningMoments m;
  // Clip to [-2, 2]: (5, -1, 1) -> (2, -1, 1); moments of the clipped values: mean 2/3,
  // population std sqrt(((4/3)^2 + (5/3)^2 + (1/3)^2) / 3) = sqrt(42 / 27).
  const auto s = shapeRewards({5, -1, 1}, ShapingSettings{2.0, true}, m);
  const double sd = std::sqrt(42.0 / 27.0);
  EXPECT_NEAR(s[0], (2 - 2.0 / 3) / sd, 1e-6);
  EXPECT_NEAR(s[1], (-1 - 2.0 / 3) / sd, 1e-6);
  // A baseline is shaped with the same moments and does not move them.
  const auto b = shapeWithoutUpdate({0.0}, ShapingSettings{2.0, true}, m);
  EXPECT_NEAR(b[0], (0 - 2.0 / 3) / sd, 1e-6);
  EXPECT_EQ(m.count(), 3.0);
  // Clipping alone leaves the moments untouched.
  RunningMoments untouched;
  const auto c = shapeRewards({5, -5}, ShapingSettings{1.0, false}, untouched);
  EXPECT_EQ(c[0], 1.0);
  EXPECT_EQ(c[1], -1.0);
  EXPECT_EQ(untouched.count(), 0.0);
}

TEST(AdvantagesTest, OnlineDpoPicksTheBestAndTheWorstOfEachGroup) {
  const auto pairs = selectPairs({0.1, 0.9, 0.5, 0.9, /**/ 0.3, 0.3, 0.3, 0.3, /**/ 0.0, -1.0, -1.0, 2.0}, 4);
  ASSERT_EQ(pairs.size(), 3u);
  ASSERT_TRUE(pairs[0]);
  EXPECT_EQ(pairs[0]->chosen, 1);  // 0.9 at 1 and 3: the lower index
  EXPECT_EQ(pairs[0]->rejected, 0);
  EXPECT_FALSE(pairs[1]);  // all equal: no preference
  ASSERT_TRUE(pairs[2]);
  EXPECT_EQ(pairs[2]->chosen, 11);
  EXPECT_EQ(pairs[2]->rejected, 9);  // -1 at 9 and 10: the lower index
}

}  // namespace
}  // namespace gramrl::rlhf
