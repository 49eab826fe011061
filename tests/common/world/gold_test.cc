#include "common/world/gold.h"

#include <gtest/gtest.h>

#include "common/core/errors.h"

namespace gramrl::world {
namespace {

// Distances worked out by hand (the first two are the textbook examples).
TEST(WorldGold, LevenshteinOnHandWorkedCases) {
  EXPECT_EQ(levenshtein("kitten", "sitting"), 3);  // k->s, e->i, +g
  EXPECT_EQ(levenshtein("flaw", "lawn"), 2);       // -f, +n
  EXPECT_EQ(levenshtein("", ""), 0);
  EXPECT_EQ(levenshtein("", "abc"), 3);
  EXPECT_EQ(levenshtein("abc", ""), 3);
  EXPECT_EQ(levenshtein("1379", "1397"), 2);  // a swap costs two substitutions
  EXPECT_EQ(levenshtein("4322", "432"), 1);   // a duplicate costs one deletion
  // Distance >= max length - longest common subsequence: LCS("347+85", "432") = 1, so >= 5, and
  // three deletions plus two substitutions reach it.
  EXPECT_EQ(levenshtein("347+85", "432"), 5);
  // LCS 1, and matching any common digit leaves unequal sides costing 6 anyway: six substitutions.
  EXPECT_EQ(levenshtein("123456", "654321"), 6);
  EXPECT_EQ(levenshtein("abc", "abc"), 0);
  EXPECT_EQ(levenshtein("ab", "ba"), 2);
}

TEST(WorldGold, GoldScoreOnHandWorkedCases) {
  const Task srt = makeTask("srt", "9371");  // answer 1379
  EXPECT_DOUBLE_EQ(goldScore(srt, "1379"), 1.0);
  EXPECT_DOUBLE_EQ(goldScore(srt, "1397"), 0.5);   // 1 - 2/4
  EXPECT_DOUBLE_EQ(goldScore(srt, "137"), 0.75);   // 1 - 1/4
  EXPECT_DOUBLE_EQ(goldScore(srt, "13379"), 0.8);  // 1 - 1/5
  EXPECT_DOUBLE_EQ(goldScore(srt, "13"), 0.5);     // 1 - 2/4
  EXPECT_DOUBLE_EQ(goldScore(srt, "9371"), 0.5);   // 9->1 and 1->9
  EXPECT_DOUBLE_EQ(goldScore(srt, ""), 0.0);       // 1 - 4/4
  EXPECT_DOUBLE_EQ(goldScore(srt, "2222"), 0.0);   // four substitutions
  const Task add = makeTask("add", "347+85");      // answer 432
  EXPECT_DOUBLE_EQ(goldScore(add, "347+85"), 1.0 - 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(goldScore(add, "433"), 1.0 - 1.0 / 3.0);
  // The empty-vs-empty case is defined as equal strings.
  EXPECT_DOUBLE_EQ(goldScore(Task{"x", "", "x:", ""}, ""), 1.0);
}

TEST(WorldGold, GoldScoreFromPromptText) {
  EXPECT_DOUBLE_EQ(goldScore(std::string("srt:9371"), std::string("1379")), 1.0);
  EXPECT_DOUBLE_EQ(goldScore(std::string("srt:9371"), std::string(" 1379\n")), 1.0);
  EXPECT_DOUBLE_EQ(goldScore(std::string("inc:1239"), std::string("2341")), 0.75);
  EXPECT_THROW(goldScore(std::string("srt;9371"), std::string("1379")), DataError);
  EXPECT_THROW(goldScore(std::string("What is 2+2?"), std::string("4")), DataError);
}

}  // namespace
}  // namespace gramrl::world
