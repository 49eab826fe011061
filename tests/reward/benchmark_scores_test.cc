// RewardBench and JudgeBench scores (reward/gram/benchmark_scores.h) on hand-made scored pairs
// whose scores are computed by hand in the comments.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/core/errors.h"
#include "reward/gram/benchmark_scores.h"

namespace gramrl::gram {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kViews = {"debiased", "chosen_in_a"};

// `correct` pairs with margin +0.3, then `wrong` with -0.2, then `ties` with exactly 0 (a tie is
// wrong for the benchmarks). The second view is always wrong, to check the view is honoured.
void add(std::vector<ScoredPair>& pairs, const std::string& subset, int correct, int wrong, int ties = 0) {
  for (int i = 0; i < correct + wrong + ties; ++i) {
    const double margin = i < correct ? 0.3 : (i < correct + wrong ? -0.2 : 0.0);
    pairs.push_back(ScoredPair{"rb.jsonl", subset, std::nullopt, {margin, -1.0}});
  }
}

std::vector<ScoredPair> rewardBenchPairs(bool with_prior_sets) {
  std::vector<ScoredPair> pairs;
  add(pairs, "alpacaeval-easy", 3, 1);        // 3/4 = 0.75, weight 100
  add(pairs, "mt-bench-easy", 1, 1);          // 1/2 = 0.5,  weight 28
  add(pairs, "llmbar-natural", 2, 0);         // 2/2 = 1.0,  weight 100
  add(pairs, "mt-bench-hard", 0, 1, 1);       // 0/2 = 0.0,  weight 37 (the tie counts as wrong)
  add(pairs, "xstest-should-refuse", 1, 1);   // 1/2 = 0.5,  weight 250
  add(pairs, "xstest-should-respond", 1, 0);  // 1/1 = 1.0,  weight 154
  add(pairs, "math-prm", 1, 1);               // 1/2 = 0.5,  weight 984
  add(pairs, "hep-python", 1, 0);             // 1/1 = 1.0,  weight 164
  add(pairs, "my-extra-set", 1, 0);           // not RewardBench: listed, not scored
  if (with_prior_sets) {
    add(pairs, "shp", 1, 1);            // 0.5
    add(pairs, "anthropic_hhh", 1, 0);  // 1.0
  }
  return pairs;
}

// Chat      = (0.75*100 + 0.5*28) / (100+28)        = 89/128  = 0.6953125
// Chat Hard = (1.0*100 + 0.0*37) / (100+37)         = 100/137 = 0.72992700729927
// Safety    = (0.5*250 + 1.0*154) / (250+154)       = 279/404 = 0.69059405940594
// Reasoning = (0.5*984 + 1.0*164) / (984+164)       = 656/1148 = 4/7 = 0.57142857142857
// Sum of the four = 2.68726213813378
constexpr double kChat = 89.0 / 128, kChatHard = 100.0 / 137, kSafety = 279.0 / 404, kReasoning = 4.0 / 7;

TEST(BenchmarkScores, RewardBenchSectionsUseTheOfficialSubsetWeights) {
  const BenchmarkReport report = scoreBenchmark(Benchmark::kRewardBench, kViews, rewardBenchPairs(false));
  ASSERT_EQ(report.sections.size(), 4u);
  EXPECT_EQ(report.sections[0].cell.name, "Chat");
  EXPECT_NEAR(report.sections[0].cell.accuracy, 0.6953125, 1e-12);
  EXPECT_NEAR(report.sections[1].cell.accuracy, 0.72992700729927, 1e-12);
  EXPECT_NEAR(report.sections[2].cell.accuracy, 0.69059405940594, 1e-12);
  EXPECT_NEAR(report.sections[3].cell.accuracy, 0.57142857142857, 1e-12);
  // No prior sets: the score is the plain mean of the sections, 2.68726213813378 / 4.
  EXPECT_FALSE(report.prior_sets);
  EXPECT_NEAR(report.score, 0.67181553453345, 1e-12);
  EXPECT_NEAR(report.score, (kChat + kChatHard + kSafety + kReasoning) / 4, 1e-15);
  // A pooled mean (GRAM's get_reward_bench_score.py) would give Chat 4/6 = 0.6667 instead.
  EXPECT_EQ(report.sections[0].cell.pairs, 6);
  EXPECT_EQ(report.sections[0].cell.correct, 4);
  EXPECT_EQ(report.sections[0].missing,
            (std::vector<std::string>{"alpacaeval-length", "alpacaeval-hard", "mt-bench-med"}));
  EXPECT_EQ(report.unknown, (std::vector<std::string>{"my-extra-set"}));
  EXPECT_EQ(report.subsets.size(), 9u);
}

TEST(BenchmarkScores, RewardBenchPriorSetsWeighHalf) {
  const BenchmarkReport report = scoreBenchmark(Benchmark::kRewardBench, kViews, rewardBenchPairs(true));
  // Prior Sets = mean(shp 0.5, anthropic_hhh 1.0) = 0.75 (unweighted by counts).
  ASSERT_TRUE(report.prior_sets);
  EXPECT_DOUBLE_EQ(*report.prior_sets, 0.75);
  // Score = (2 * 2.68726213813378 + 0.75) / 9 = 6.12452427626756 / 9 = 0.68050269736306
  EXPECT_NEAR(report.score, 0.68050269736306, 1e-12);
}

TEST(BenchmarkScores, TheViewIsHonoured) {
  // In the second view every margin is -1: every section scores 0.
  const BenchmarkReport report = scoreBenchmark(Benchmark::kRewardBench, kViews, rewardBenchPairs(false), 1);
  EXPECT_EQ(report.view, "chosen_in_a");
  EXPECT_DOUBLE_EQ(report.score, 0.0);
}

TEST(BenchmarkScores, JudgeBenchCategoriesAverageAndOverall) {
  std::vector<ScoredPair> pairs;
  add(pairs, "mmlu-pro-law", 1, 1);         // Knowledge
  add(pairs, "mmlu-pro-math", 2, 0);        // Knowledge: 3/4 = 0.75
  add(pairs, "livebench-reasoning", 1, 2);  // Reasoning: 1/3
  add(pairs, "livebench-math", 1, 0);       // Math: 1/1 = 1.0
  add(pairs, "livecodebench", 0, 1, 1);     // Coding: 0/2 = 0.0 (the tie counts as wrong)
  const BenchmarkReport report = scoreBenchmark(Benchmark::kJudgeBench, kViews, pairs);
  ASSERT_EQ(report.sections.size(), 4u);
  EXPECT_EQ(report.sections[0].cell.name, "Knowledge");
  EXPECT_DOUBLE_EQ(report.sections[0].cell.accuracy, 0.75);
  EXPECT_EQ(report.sections[0].subsets, (std::vector<std::string>{"mmlu-pro-law", "mmlu-pro-math"}));
  EXPECT_NEAR(report.sections[1].cell.accuracy, 1.0 / 3, 1e-15);
  EXPECT_DOUBLE_EQ(report.sections[2].cell.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(report.sections[3].cell.accuracy, 0.0);
  // Average = (0.75 + 0.333333 + 1 + 0) / 4 = 2.0833333 / 4 = 0.52083333
  EXPECT_NEAR(report.score, 0.52083333333333, 1e-12);
  // Overall = correct / pairs over all = (3 + 1 + 1 + 0) / (4 + 3 + 1 + 2) = 0.5
  ASSERT_TRUE(report.overall);
  EXPECT_DOUBLE_EQ(*report.overall, 0.5);
  const std::string table = benchmarkMarkdown(report);
  EXPECT_THAT(table, HasSubstr("| **Average** | | **0.5208** |"));
  EXPECT_THAT(table, HasSubstr("| Overall (all pairs) | | 0.5000 |"));
  EXPECT_EQ(benchmarkJson(report)["sections"][1]["name"], "Reasoning");
}

TEST(BenchmarkScores, DataWithoutTheBenchmarksCategoriesIsAnError) {
  std::vector<ScoredPair> pairs;
  add(pairs, "srt", 1, 0);
  try {
    scoreBenchmark(Benchmark::kJudgeBench, kViews, pairs);
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("found: srt"));
  }
  EXPECT_THROW(scoreBenchmark(Benchmark::kRewardBench, kViews, pairs), DataError);
  EXPECT_THROW(parseBenchmark("mtbench"), ConfigError);
}

}  // namespace
}  // namespace gramrl::gram
