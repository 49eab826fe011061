// Pairwise-accuracy evaluation of a reward model on preference-pair files (gram-paper.md
// section 4.1), independent of how pairs are scored: a PairScorer turns pairs into margins, and
// the tally is a pure function of those margins (tests check it without a model).
//
// NOTE [Pair accuracy views]
// A scorer reports one or more views of each pair, each a margin that is > 0 when the chosen
// response wins, < 0 when the rejected one wins and exactly 0 for a tie, which counts as half a
// correct pair. A GRAM judge has three views (pair_scorers.h): "debiased" (P(chosen better) over
// both orders, minus 0.5), "chosen_in_a" (z_A - z_B with chosen in slot A) and "chosen_in_b"
// (z_B - z_A with chosen in slot B), so position bias shows as the gap between the last two. A
// scalar reward model has one view, "score" (r(chosen) - r(rejected)).
// Accuracy is reported over all pairs, per file (when there are several), per category (the
// row's "category", "subset", "family" or "task": world test rows give their family) and, for
// rows that carry "contains_correct" (the world's test set), split by it.
//
// Threads: the free functions are pure or read one file; PairScorer implementations say their own.
// Throws DataError for unreadable or malformed files (path:line and field), SystemError when the
// JSON report cannot be written.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/data/jsonl_data.h"

namespace gramrl::gram {

struct EvalPair {
  data::PreferencePair pair;
  std::optional<bool> contains_correct;  // world test rows only
  std::string file;                      // the path it was read from
};

// Every preference pair of a JSONL file in the shapes readPreferencePairs accepts (NOTE
// [Accepted JSONL shapes] in common/data/jsonl_data.h), with "contains_correct" when present (a
// boolean, or 0/1). Blank lines are skipped. Throws DataError naming path:line for a bad row and
// for a file without pairs.
std::vector<EvalPair> readEvalPairs(const std::string& path);

// Scores pairs. Implementations run a model; one thread at a time unless they say otherwise.
class PairScorer {
 public:
  virtual ~PairScorer() = default;
  // The names of the views, in the order margins() returns them (NOTE [Pair accuracy views]).
  virtual std::vector<std::string> views() const = 0;
  // For each pair, one margin per view. Blocks while the model runs.
  virtual std::vector<std::vector<double>> margins(const std::vector<const EvalPair*>& pairs) = 0;
};

// What the tally needs of one scored pair.
struct ScoredPair {
  std::string file;
  std::string category;
  std::optional<bool> contains_correct;
  std::vector<double> margins;  // one per view
};

// Scores `pairs` in chunks of `chunk_pairs`, calling on_progress(pairs done) after each chunk.
std::vector<ScoredPair> scorePairs(const std::vector<EvalPair>& pairs, PairScorer& scorer, int64_t chunk_pairs,
                                   const std::function<void(int64_t)>& on_progress = {});

struct AccuracyCell {
  int64_t pairs = 0;
  double correct = 0;  // ties count 0.5
  double accuracy() const { return pairs > 0 ? correct / static_cast<double>(pairs) : 0.0; }
};

struct AccuracyGroup {
  std::string name;                 // "all", "file: x.jsonl", "category: math", "contains_correct: yes"
  std::vector<AccuracyCell> cells;  // one per view
};

struct AccuracyReport {
  std::vector<std::string> views;
  std::vector<AccuracyGroup> groups;  // "all" first, then files, categories (sorted), contains_correct
};

// 1 if margin > 0, 0.5 if margin == 0, else 0.
double pairCredit(double margin);

// Groups as NOTE [Pair accuracy views] describes; groups with no pairs are left out. Throws
// InternalError when a pair has a number of margins other than views.size().
AccuracyReport tallyAccuracy(const std::vector<std::string>& views, const std::vector<ScoredPair>& pairs);

// A markdown table: | group | pairs | <view>... | with accuracies to 4 decimals.
std::string markdownTable(const AccuracyReport& report);
// {"views": [...], "groups": [{"name", "pairs", "accuracy": {view: value}, "correct": {view: value}}]}
nlohmann::json reportJson(const AccuracyReport& report);

}  // namespace gramrl::gram
