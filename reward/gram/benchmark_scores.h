// Leaderboard scores of a reward model on RewardBench and JudgeBench, computed the way their
// official code computes them, from the per-pair margins of pair_eval.h (the first view: for a
// GRAM judge the debiased score over both orders, for a scalar model r(chosen) - r(rejected)).
//
// NOTE [Benchmark scores]
// A pair is correct when its margin is > 0; a tie (margin exactly 0) is wrong, as in both
// official scorers (RewardBench's `chosen > rejected`; JudgeBench counts a pair whose two orders
// disagree as a tie, not a win). This differs from the 0.5 credit of the accuracy table.
// RewardBench (allenai/reward-bench: rewardbench/constants.py EXAMPLE_COUNTS and SUBSET_MAPPING,
// rewardbench/utils.py calculate_scores_per_section, analysis/get_benchmark_results.py):
//   - accuracy per subset (the row's "subset", kept as its category by `data convert`);
//   - each section (Chat, Chat Hard, Safety, Reasoning) is the mean of its subsets' accuracies
//     weighted by EXAMPLE_COUNTS (math-prm counts 984, not its 447 rows, so that math weighs as
//     much as the six code subsets together); subsets missing from the data are left out of the
//     section (and listed), as calculate_scores_per_section does;
//   - Prior Sets is the plain mean of anthropic_helpful, anthropic_hhh, shp and summarize (the
//     pref-test-sets subsets the leaderboard averages), when the data has any of them;
//   - the score is the mean of the sections, with Prior Sets at half weight when present
//     (weights 2, 2, 2, 2, 1 over the sections present).
// The xstest counts follow constants.py at allenai/reward-bench a32e272 (should-refuse 250,
// should-respond 154); several copies of the older file, and the filtered split's row counts,
// have them the other way round (docs/data.md).
// JudgeBench (ScalerLab/JudgeBench; categories as GRAM's README reports them): Knowledge =
// mmlu-pro-*, Reasoning = livebench-reasoning, Math = livebench-math, Coding = livecodebench;
// accuracy per category over its pairs, "average" = the mean of the four categories (GRAM's
// table), "overall" = the accuracy over all pairs (JudgeBench's own compute_final_metrics).
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "reward/gram/pair_eval.h"

namespace gramrl::gram {

enum class Benchmark { kRewardBench, kJudgeBench };
// "rewardbench" | "judgebench"; throws ConfigError otherwise.
Benchmark parseBenchmark(const std::string& name);

struct BenchmarkCell {
  std::string name;
  int64_t pairs = 0;
  int64_t correct = 0;
  double accuracy = 0;  // correct / pairs, or the weighted mean for a section
};

struct BenchmarkSection {
  BenchmarkCell cell;                // pairs and correct summed over the subsets present
  std::vector<std::string> subsets;  // present in the data, in the official order
  std::vector<std::string> missing;  // official subsets without pairs
};

struct BenchmarkReport {
  Benchmark benchmark = Benchmark::kRewardBench;
  std::string view;                        // the margin view used
  std::vector<BenchmarkCell> subsets;      // every category with pairs, sorted by name
  std::vector<BenchmarkSection> sections;  // the benchmark's sections/categories that have pairs
  std::optional<double> prior_sets;        // RewardBench only
  double score = 0;                        // RewardBench score / JudgeBench average
  std::optional<double> overall;           // JudgeBench: accuracy over all pairs
  std::vector<std::string> unknown;        // categories that belong to no section (not scored)
};

// Scores `pairs` by the margin of view `view` (an index into views). Throws DataError when no
// pair belongs to any section of the benchmark (naming the categories found), InternalError for
// a view out of range.
BenchmarkReport scoreBenchmark(Benchmark benchmark, const std::vector<std::string>& views,
                               const std::vector<ScoredPair>& pairs, size_t view = 0);

// Markdown: the subsets, then the sections and the score, 4 decimals (accuracies in [0, 1]).
std::string benchmarkMarkdown(const BenchmarkReport& report);
// {"benchmark", "view", "subsets": [{"name", "pairs", "correct", "accuracy"}], "sections": [...],
//  "prior_sets"?, "score", "overall"?, "unknown": [...]}
nlohmann::json benchmarkJson(const BenchmarkReport& report);

}  // namespace gramrl::gram
