#include <string>

#include <gtest/gtest.h>

#include "common/core/errors.h"

namespace gramrl {
namespace {

void checkPositive(int x) { GRAMRL_CHECK(x > 0, ConfigError, "learner.ranks: expected >= 1, got {}", x); }

TEST(Check, ThrowsTheNamedTypeWithTheFormattedMessage) {
  EXPECT_NO_THROW(checkPositive(3));
  try {
    checkPositive(-2);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "learner.ranks: expected >= 1, got -2");
  }
}

TEST(Check, EvaluatesArgumentsOnlyOnFailure) {
  int calls = 0;
  auto expensive = [&calls]() {
    ++calls;
    return 7;
  };
  GRAMRL_CHECK(true, ProtocolError, "{}", expensive());
  EXPECT_EQ(calls, 0);
  EXPECT_THROW(GRAMRL_CHECK(false, ProtocolError, "{}", expensive()), ProtocolError);
  EXPECT_EQ(calls, 1);
}

TEST(Assert, NamesConditionAndLocation) {
  try {
    const int n = 3;
    GRAMRL_ASSERT(n == 4, "n was {}", n);
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("n == 4 failed at"), std::string::npos) << what;
    EXPECT_NE(what.find("errors_test.cc:"), std::string::npos) << what;
    EXPECT_NE(what.find(": n was 3"), std::string::npos) << what;
    EXPECT_NE(what.find("a bug in gramrl"), std::string::npos) << what;
  }
}

TEST(Assert, MessageIsOptional) {
  try {
    GRAMRL_ASSERT(1 + 1 == 3);
    FAIL();
  } catch (const InternalError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("1 + 1 == 3 failed at"), std::string::npos) << what;
  }
}

TEST(ErrorHierarchy, EveryTypeIsAnError) {
  EXPECT_THROW(throw Overloaded("x"), Error);
  EXPECT_THROW(throw Timeout("x"), Error);
  EXPECT_THROW(throw Disconnected("x"), Error);
  EXPECT_THROW(throw CollectiveError("x"), Error);
  EXPECT_THROW(throw DataError("x"), std::runtime_error);
}

TEST(ErrorHierarchy, ExitCodesSayWhoShouldAct) {
  EXPECT_EQ(exitCodeFor(ConfigError("x")), 2);
  EXPECT_EQ(exitCodeFor(DataError("x")), 2);
  EXPECT_EQ(exitCodeFor(ProtocolError("x")), 3);
  EXPECT_EQ(exitCodeFor(Timeout("x")), 3);
  EXPECT_EQ(exitCodeFor(Overloaded("x")), 3);
  EXPECT_EQ(exitCodeFor(Disconnected("x")), 3);
  EXPECT_EQ(exitCodeFor(CollectiveError("x")), 4);
  EXPECT_EQ(exitCodeFor(InternalError("x")), 70);
  EXPECT_EQ(exitCodeFor(SystemError("x")), 1);
  EXPECT_EQ(exitCodeFor(std::runtime_error("x")), 1);
}

}  // namespace
}  // namespace gramrl
