#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "common/core/logging.h"

namespace gramrl {
namespace {

class LoggingTest : public ::testing::Test {
 protected:
  void TearDown() override {
    log::setIdentity("gramrl");
    log::setStep(-1);
    log::setPolicyVersion(-1);
    log::setLevel(log::Level::kInfo);
  }
};

TEST_F(LoggingTest, TagCarriesRoleIdStepAndVersion) {
  log::setIdentity("learner", 1);
  EXPECT_EQ(log::currentTag(), "[learner/1]");
  log::setStep(42);
  EXPECT_EQ(log::currentTag(), "[learner/1 step=42]");
  log::setPolicyVersion(7);
  EXPECT_EQ(log::currentTag(), "[learner/1 step=42 v=7]");
  log::setStep(-1);
  EXPECT_EQ(log::currentTag(), "[learner/1 v=7]");
  log::setIdentity("launcher");
  log::setPolicyVersion(-1);
  EXPECT_EQ(log::currentTag(), "[launcher]");
}

TEST_F(LoggingTest, WrittenLineHasTimestampLevelTagAndMessage) {
  log::setIdentity("actor", 3);
  log::setStep(5);
  ::testing::internal::CaptureStderr();
  log::warn("queue at {} of {}", 9, 10);
  const std::string out = ::testing::internal::GetCapturedStderr();
  // "2026-11-26 12:00:01.234 W [actor/3 step=5] queue at 9 of 10\n"
  ASSERT_GE(out.size(), 24u) << out;
  EXPECT_EQ(out[4], '-');
  EXPECT_EQ(out[19], '.');
  EXPECT_NE(out.find(" W [actor/3 step=5] queue at 9 of 10\n"), std::string::npos) << out;
}

TEST_F(LoggingTest, LevelsFilter) {
  log::setLevel(log::Level::kWarn);
  EXPECT_FALSE(log::isEnabled(log::Level::kInfo));
  EXPECT_TRUE(log::isEnabled(log::Level::kError));
  ::testing::internal::CaptureStderr();
  log::info("hidden");
  log::error("shown");
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out.find("hidden"), std::string::npos) << out;
  EXPECT_NE(out.find("shown"), std::string::npos) << out;
}

TEST_F(LoggingTest, ParseLevel) {
  EXPECT_EQ(log::parseLevel("debug"), log::Level::kDebug);
  EXPECT_EQ(log::parseLevel("error"), log::Level::kError);
  EXPECT_THROW(log::parseLevel("verbose"), ConfigError);
}

TEST_F(LoggingTest, LinesFromManyThreadsStayWhole) {
  ::testing::internal::CaptureStderr();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t]() {
      for (int i = 0; i < 50; ++i) log::info("thread {} line {} end", t, i);
    });
  }
  for (auto& th : threads) th.join();
  const std::string out = ::testing::internal::GetCapturedStderr();
  std::size_t lines = 0, pos = 0;
  while ((pos = out.find('\n', pos)) != std::string::npos) {
    ++lines;
    ++pos;
  }
  EXPECT_EQ(lines, 200u);
  std::size_t ends = 0;
  pos = 0;
  while ((pos = out.find(" end\n", pos)) != std::string::npos) {
    ++ends;
    ++pos;
  }
  EXPECT_EQ(ends, 200u);
}

}  // namespace
}  // namespace gramrl
