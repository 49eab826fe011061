// gramrl gram eval: pairwise accuracy of a reward model (a GRAM judge, a Bradley-Terry reward
// model, or the label-free likelihood judge) on JSONL preference-pair files, as a markdown table
// on stdout and, optionally, the same numbers as JSON (reward/gram/pair_eval.h, NOTE [Pair
// accuracy views]); with --benchmark, the RewardBench or JudgeBench leaderboard scores of those
// pairs (reward/gram/benchmark_scores.h, NOTE [Benchmark scores]); and best-of-n gold-reward
// curves on candidate sets (NOTE [Best-of-n curves]).
//
// NOTE [Best-of-n curves]
// A candidate set is a prompt with N candidate responses and the gold score of each (the rows
// `gramrl world candidates` writes: {"prompt", "candidates": [...], "gold": [...]}, "family" or
// "category" optional). For n = 1, 2, 4, ... up to n_max (and n_max itself when it is not a power
// of two) the model selects one of the first n candidates of every prompt, and the curve is the
// mean gold score of the selections over prompts. Two references come with it: oracle, the best
// gold score among the first n (what a perfect reward model would pick), and random, the mean gold
// score of the first n (the expected gold of a uniformly random pick; best-of-1 for every n). The
// "exact" columns are the same with gold == 1 (for the world: the correct answer) in place of
// the score. Selection: a GRAM judge runs the knockout bracket of reward/gram/best_of_n.h over
// the first n with debiased comparisons (makeComparator); brackets over the first 2^k candidates
// are sub-brackets of the one over the first 2^(k+1), so each comparison is run once and the
// smaller n reuse it (a bracket over n = n_max costs n_max - 1 comparisons per prompt).
// Scalar models (bradley_terry, likelihood) score every candidate once and pick the argmax of
// the first n (the lowest index on ties).
//
// Runs on the first CUDA device in bfloat16 when LibTorch sees one, else on the CPU in float32.
// Blocks until every pair is scored, logging progress about every 10 s. Throws ConfigError for
// bad arguments, DataError for unreadable data, models or tokenizers, SystemError when the JSON
// cannot be written.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "reward/gram/best_of_n.h"

namespace gramrl::cli {

struct GramEvalArgs {
  std::string model;                        // a checkpoint directory, or builtin:<preset>
  std::string tokenizer;                    // default: resolveTokenizerSpec(model) (tokenizer_source.h)
  std::string chat_template = "auto";       // "auto": the tokenizer's own
  std::string judge_template = "official";  // official | compact (gram and likelihood)
  std::string kind = "gram";                // gram | bradley_terry | likelihood
  std::vector<std::string> data;            // JSONL preference-pair files (may be empty with best_of_n)
  std::string best_of_n;                    // optional: JSONL candidate sets (NOTE [Best-of-n curves])
  int64_t n_max = 16;                       // largest n of the curve; every set needs at least n_max candidates
  std::string gold = "world";               // where gold scores come from: "world", the sets' "gold" lists
  int64_t batch_size = 32;                  // sequences per forward pass
  int64_t max_tokens = 2048;                // judge prompt / sequence limit
  int64_t threads = 0;                      // CPU threads for LibTorch; 0: all cores
  std::string out_json;                     // optional: write the report here (atomically)
  std::string benchmark;                    // optional: rewardbench | judgebench (NOTE [Benchmark scores])
  // Optional: every pair's margins, one JSON line per pair in input order (files in the order
  // given): {"file", "index" (0-based within the file's pairs), "views": {view: margin}}. For a
  // GRAM judge, debiased = P(chosen better) - 0.5 and chosen_in_a / chosen_in_b the label-logit
  // margins of each order (NOTE [Pair accuracy views]); what scripts/reference/hf checks against
  // the official scoring logic.
  std::string pair_scores;
};

int runGramEval(const GramEvalArgs& args);

// The pieces of the best-of-n evaluation, public for tests (NOTE [Best-of-n curves]).
struct CandidateSet {
  std::optional<std::string> system;
  std::string prompt;
  std::string category;  // "family" or "category"; "" when absent
  std::vector<std::string> candidates;
  std::vector<double> gold;  // one per candidate
};

// Throws DataError naming path:line for a row that is not a JSON object, lacks "prompt",
// "candidates" (strings) or "gold" (numbers), has lists of different lengths or no candidates,
// and for a file that cannot be read or holds no rows.
std::vector<CandidateSet> readCandidateSets(const std::string& path);

// 1, 2, 4, ... <= n_max, then n_max when it is not a power of two. Throws ConfigError for n_max < 1.
std::vector<int64_t> bestOfNSizes(int64_t n_max);

// For one candidate set and each n of `sizes` (ascending), the index of the candidate the model
// selects among the first n.
using BestOfNSelector = std::function<std::vector<int64_t>(const CandidateSet& set, const std::vector<int64_t>& sizes)>;

struct BestOfNPoint {
  int64_t n = 0;
  double selected = 0, oracle = 0, random = 0;                    // mean gold score over prompts
  double selected_exact = 0, oracle_exact = 0, random_exact = 0;  // mean fraction with gold == 1
};

struct BestOfNCurve {
  int64_t prompts = 0;
  std::vector<BestOfNPoint> points;
};

// Runs `select` on every set. Throws DataError when a set has fewer than n_max candidates (naming
// the prompt), InternalError when `select` returns a wrong number of indices or one out of range.
BestOfNCurve bestOfNCurve(const std::vector<CandidateSet>& sets, int64_t n_max, const BestOfNSelector& select,
                          const std::function<void(int64_t)>& on_progress = {});

// | n | model | oracle | random | model exact | oracle exact | random exact |, 4 decimals.
std::string bestOfNMarkdown(const BestOfNCurve& curve);
// {"prompts": P, "points": [{"n", "selected", "oracle", "random", "selected_exact", ...}]}
nlohmann::json bestOfNJson(const BestOfNCurve& curve);

// Selectors: the GRAM bracket from a pairwise comparator factory (makeComparator over a set's
// candidates; see NOTE [Best-of-n curves] for the reuse of comparisons), and the argmax of
// per-candidate scalar scores.
using ComparatorFactory = std::function<gram::PairwiseComparator(const CandidateSet& set)>;
BestOfNSelector bracketSelector(ComparatorFactory make_comparator);
// `score(set)` returns one score per candidate of the set (higher is better).
BestOfNSelector argmaxSelector(std::function<std::vector<double>(const CandidateSet& set)> score);

}  // namespace gramrl::cli
