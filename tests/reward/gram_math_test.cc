// Debiasing and reward transforms against values computed by hand (exp and log to 16 digits).
#include <cmath>

#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "reward/gram/gram_math.h"

namespace gramrl::gram {
namespace {

constexpr double kSigmoid1 = 0.7310585786300049;  // 1 / (1 + e^-1)
constexpr double kSigmoid2 = 0.8807970779778823;  // 1 / (1 + e^-2)

TEST(GramMath, Sigmoid) {
  EXPECT_DOUBLE_EQ(sigmoid(0), 0.5);
  EXPECT_DOUBLE_EQ(sigmoid(1), kSigmoid1);
  EXPECT_NEAR(sigmoid(-2), 0.11920292202211755, 1e-17);  // 1 / (1 + e^2)
  EXPECT_EQ(sigmoid(1000), 1.0);
  EXPECT_EQ(sigmoid(-1000), 0.0);
  EXPECT_GT(sigmoid(-700), 0.0);  // no underflow to 0 via 1 / (1 + inf) this far out
}

TEST(GramMath, CombineOrdersAveragesBothOrders) {
  // y1 in A: a1 - b1 = 2; y1 in B: a2 - b2 = -1, i.e. b2 - a2 = 1.
  EXPECT_DOUBLE_EQ(combineOrders(2, -1), (kSigmoid2 + kSigmoid1) / 2);  // 0.8059278283039436
  EXPECT_NEAR(combineOrders(2, -1), 0.8059278283039436, 1e-15);
  // A judge that always answers "A" by the same margin has no preference after debiasing.
  EXPECT_DOUBLE_EQ(combineOrders(3, 3), 0.5);
  // Swapping the roles of y1 and y2 gives 1 - p.
  EXPECT_DOUBLE_EQ(combineOrders(-1, 2), 1 - combineOrders(2, -1));
}

TEST(GramMath, Transforms) {
  EXPECT_DOUBLE_EQ(transformReward(0.8, "probability"), 0.8);
  EXPECT_NEAR(transformReward(0.8, "centered"), 0.3, 1e-15);
  EXPECT_NEAR(transformReward(0.8, "log_odds"), 1.3862943611198906, 1e-14);  // log 4
  EXPECT_NEAR(transformReward(0.2, "log_odds"), -1.3862943611198906, 1e-14);
  EXPECT_DOUBLE_EQ(transformReward(0.5, "log_odds"), 0.0);
  // Clamped to [1e-6, 1 - 1e-6]: log(1e-6 / (1 - 1e-6)) = -13.815509557963774.
  EXPECT_NEAR(transformReward(0.0, "log_odds"), -13.815509557963774, 1e-9);
  EXPECT_NEAR(transformReward(1.0, "log_odds"), 13.815509557963774, 1e-9);
  EXPECT_THROW(transformReward(0.5, "logit"), ConfigError);
}

TEST(GramMath, SingleOrderLogOddsIsTheMargin) {
  for (double m : {-10.0, -2.5, -0.3, 0.0, 0.7, 4.0, 10.0}) {
    EXPECT_NEAR(transformReward(sigmoid(m), RewardTransform::kLogOdds), m, 1e-9) << m;
  }
}

}  // namespace
}  // namespace gramrl::gram
