#include "learner/engine/lr_schedule.h"

#include <cmath>

#include <gtest/gtest.h>

#include "common/core/errors.h"

namespace gramrl {
namespace {

LrScheduleOptions options(const std::string& schedule, double warmup_ratio, int64_t total, double min_ratio = 0.0) {
  return LrScheduleOptions{1e-3, schedule, warmup_ratio, min_ratio, total};
}

TEST(LrScheduleTest, WarmupIsLinearFromPeakOverW) {
  const auto o = options("cosine", 0.1, 100);  // W = 10
  EXPECT_EQ(warmupSteps(o), 10);
  EXPECT_DOUBLE_EQ(learningRate(o, 0), 1e-4);
  EXPECT_DOUBLE_EQ(learningRate(o, 4), 5e-4);
  EXPECT_DOUBLE_EQ(learningRate(o, 9), 1e-3);
}

TEST(LrScheduleTest, CosineHandValues) {
  const auto o = options("cosine", 0.1, 100);  // decay over 90 steps
  EXPECT_DOUBLE_EQ(learningRate(o, 10), 1e-3);
  // p = 45 / 90 = 0.5: (1 + cos(pi/2)) / 2 = 0.5
  EXPECT_NEAR(learningRate(o, 55), 5e-4, 1e-15);
  // p = 30 / 90: (1 + cos(pi/3)) / 2 = 0.75
  EXPECT_NEAR(learningRate(o, 40), 7.5e-4, 1e-15);
  EXPECT_GT(learningRate(o, 99), 0.0);
  EXPECT_LT(learningRate(o, 99), 1e-6);
}

TEST(LrScheduleTest, CosineFloorAndLinearAndConstant) {
  const auto floor = options("cosine", 0.0, 11, 0.1);  // p = s / 11
  EXPECT_DOUBLE_EQ(learningRate(floor, 0), 1e-3);
  EXPECT_NEAR(learningRate(floor, 11), 1e-4, 1e-15);  // past the end: clamped to the floor
  const auto linear = options("linear", 0.0, 4);
  EXPECT_DOUBLE_EQ(learningRate(linear, 1), 7.5e-4);
  EXPECT_DOUBLE_EQ(learningRate(linear, 3), 2.5e-4);
  const auto constant = options("constant", 0.5, 4);
  EXPECT_DOUBLE_EQ(learningRate(constant, 0), 5e-4);
  EXPECT_DOUBLE_EQ(learningRate(constant, 3), 1e-3);
}

TEST(LrScheduleTest, UnknownScheduleIsAConfigError) {
  EXPECT_THROW(learningRate(options("step", 0.0, 10), 3), ConfigError);
}

}  // namespace
}  // namespace gramrl
