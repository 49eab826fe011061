// `gramrl gram eval` end to end on a built-in tiny model: the JSON report agrees with a direct
// computation of the accuracies from GramJudge margins.
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "common/core/errors.h"
#include "common/model/pretrained.h"
#include "common/tokenizer/byte_tokenizer.h"
#include "launch/gram_eval_command.h"
#include "reward/gram/best_of_n.h"
#include "reward/gram/gram_judge.h"
#include "reward/gram/pair_eval.h"
#include "tests/support/temp_dir.h"

namespace gramrl::gram {
namespace {

const char* const kRows[] = {
    R"({"prompt": "sort 3 1 2", "chosen": "1 2 3", "rejected": "1 3 2", "family": "sort", "contains_correct": true})",
    R"({"prompt": "sort 9 8", "chosen": "8 9", "rejected": "9", "family": "sort", "contains_correct": true})",
    R"({"prompt": "rev abc", "chosen": "cba", "rejected": "cab", "family": "rev", "contains_correct": true})",
    R"({"prompt": "rev hello", "chosen": "olleh", "rejected": "ollhe", "family": "rev", "contains_correct": false})",
    R"({"prompt": "add 2 2", "chosen": "4", "rejected": "five", "family": "add", "contains_correct": false})",
    R"({"prompt": "add 10 5", "chosen": "15", "rejected": "105", "family": "add", "contains_correct": true})",
};

nlohmann::json runEval(const std::string& kind, const testing::TempDir& dir) {
  cli::GramEvalArgs args;
  args.model = "builtin:tiny";
  args.judge_template = "compact";
  args.kind = kind;
  args.data = {dir.file("pairs.jsonl")};
  args.batch_size = 4;
  args.max_tokens = 256;
  args.threads = 1;
  args.out_json = dir.file(kind + ".json");
  EXPECT_EQ(cli::runGramEval(args), 0);
  std::ifstream in(args.out_json);
  return nlohmann::json::parse(in);
}

const nlohmann::json& group(const nlohmann::json& report, const std::string& name) {
  for (const auto& g : report["groups"]) {
    if (g["name"] == name) return g;
  }
  ADD_FAILURE() << "no group " << name;
  return report;
}

class GramEvalCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream out(dir_.file("pairs.jsonl"));
    for (const char* row : kRows) out << row << "\n";
  }
  testing::TempDir dir_;
};

TEST_F(GramEvalCommand, GramReportMatchesDirectMargins) {
  const nlohmann::json report = runEval("gram", dir_);
  EXPECT_EQ(report["views"], nlohmann::json({"debiased", "chosen_in_a", "chosen_in_b"}));
  EXPECT_EQ(report["kind"], "gram");
  EXPECT_EQ(report["chat_template"], "plain");

  // The same model (builtin presets are seeded, seed 0) scored directly.
  tokenizer::ByteTokenizer tok;
  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{0, false});
  GramJudge judge(model, JudgeEncoder(tok, "plain", judgeTemplate("compact"), 256), 1);
  const auto pairs = readEvalPairs(dir_.file("pairs.jsonl"));
  double debiased = 0, in_a = 0, in_b = 0, rev_debiased = 0;
  for (const auto& p : pairs) {
    const auto m = judge.margins({{std::nullopt, p.pair.prompt, p.pair.chosen, p.pair.rejected},
                                  {std::nullopt, p.pair.prompt, p.pair.rejected, p.pair.chosen}});
    const double d = pairCredit(combineOrders(m[0], m[1]) - 0.5);
    debiased += d;
    in_a += pairCredit(m[0]);
    in_b += pairCredit(-m[1]);
    if (p.pair.category == "rev") rev_debiased += d;
  }
  const auto& all = group(report, "all");
  EXPECT_EQ(all["pairs"], 6);
  EXPECT_DOUBLE_EQ(all["correct"]["debiased"].get<double>(), debiased);
  EXPECT_DOUBLE_EQ(all["correct"]["chosen_in_a"].get<double>(), in_a);
  EXPECT_DOUBLE_EQ(all["correct"]["chosen_in_b"].get<double>(), in_b);
  EXPECT_DOUBLE_EQ(group(report, "category: rev")["correct"]["debiased"].get<double>(), rev_debiased);
  EXPECT_EQ(group(report, "contains_correct: yes")["pairs"], 4);
  EXPECT_EQ(group(report, "contains_correct: no")["pairs"], 2);
}

// --pair-scores: one line per pair in input order, each view's margin as the judge computes it.
TEST_F(GramEvalCommand, PairScoresHoldEveryPairsMargins) {
  cli::GramEvalArgs args;
  args.model = "builtin:tiny";
  args.judge_template = "compact";
  args.data = {dir_.file("pairs.jsonl")};
  args.max_tokens = 256;
  args.threads = 1;
  args.pair_scores = dir_.file("scores.jsonl");
  ASSERT_EQ(cli::runGramEval(args), 0);

  tokenizer::ByteTokenizer tok;
  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{0, false});
  GramJudge judge(model, JudgeEncoder(tok, "plain", judgeTemplate("compact"), 256), 1);
  const auto pairs = readEvalPairs(dir_.file("pairs.jsonl"));
  std::ifstream in(args.pair_scores);
  std::string line;
  size_t k = 0;
  for (; std::getline(in, line); ++k) {
    ASSERT_LT(k, pairs.size());
    const nlohmann::json row = nlohmann::json::parse(line);
    EXPECT_EQ(row["file"], dir_.file("pairs.jsonl"));
    EXPECT_EQ(row["index"], k);
    const auto& p = pairs[k].pair;
    const auto m =
        judge.margins({{std::nullopt, p.prompt, p.chosen, p.rejected}, {std::nullopt, p.prompt, p.rejected, p.chosen}});
    EXPECT_NEAR(row["views"]["debiased"].get<double>(), combineOrders(m[0], m[1]) - 0.5, 1e-6) << k;
    EXPECT_NEAR(row["views"]["chosen_in_a"].get<double>(), m[0], 1e-5) << k;
    EXPECT_NEAR(row["views"]["chosen_in_b"].get<double>(), -m[1], 1e-5) << k;
  }
  EXPECT_EQ(k, pairs.size());
}

TEST_F(GramEvalCommand, BaselinesRun) {
  for (const char* kind : {"bradley_terry", "likelihood"}) {
    const nlohmann::json report = runEval(kind, dir_);
    EXPECT_EQ(report["views"], nlohmann::json({"score"})) << kind;
    EXPECT_EQ(group(report, "all")["pairs"], 6) << kind;
    const double acc = group(report, "all")["accuracy"]["score"].get<double>();
    EXPECT_GE(acc, 0.0);
    EXPECT_LE(acc, 1.0);
  }
}

TEST_F(GramEvalCommand, BadArguments) {
  cli::GramEvalArgs args;
  args.model = "builtin:tiny";
  args.data = {dir_.file("pairs.jsonl")};
  args.kind = "pairwise";
  EXPECT_THROW(cli::runGramEval(args), ConfigError);
  args.kind = "gram";
  args.judge_template = "short";
  EXPECT_THROW(cli::runGramEval(args), ConfigError);
  args.judge_template = "compact";
  args.data = {dir_.file("missing.jsonl")};
  EXPECT_THROW(cli::runGramEval(args), DataError);
}

// ---- Best-of-n curves (NOTE [Best-of-n curves] in launch/gram_eval_command.h) ----

cli::CandidateSet candidateSet(const std::string& prompt, std::vector<double> gold) {
  cli::CandidateSet set;
  set.prompt = prompt;
  for (size_t i = 0; i < gold.size(); ++i) set.candidates.push_back(prompt + "#" + std::to_string(i));
  set.gold = std::move(gold);
  return set;
}

TEST(BestOfNCurve, SizesArePowersOfTwoThenNMax) {
  EXPECT_EQ(cli::bestOfNSizes(16), (std::vector<int64_t>{1, 2, 4, 8, 16}));
  EXPECT_EQ(cli::bestOfNSizes(12), (std::vector<int64_t>{1, 2, 4, 8, 12}));
  EXPECT_EQ(cli::bestOfNSizes(1), (std::vector<int64_t>{1}));
  EXPECT_THROW(cli::bestOfNSizes(0), ConfigError);
}

TEST(BestOfNCurve, OracleAndRandomMatchAHandComputation) {
  const std::vector<cli::CandidateSet> sets{candidateSet("p", {0.2, 1.0, 0.5, 0.0}),
                                            candidateSet("q", {0.6, 0.4, 0.8, 1.0})};
  // A selector that always keeps the first candidate: its curve is flat at the mean of gold[0].
  const cli::BestOfNCurve curve =
      cli::bestOfNCurve(sets, 4, [](const cli::CandidateSet&, const std::vector<int64_t>& sizes) {
        return std::vector<int64_t>(sizes.size(), 0);
      });
  EXPECT_EQ(curve.prompts, 2);
  ASSERT_EQ(curve.points.size(), 3u);
  const auto& [n1, n2, n4] = std::tie(curve.points[0], curve.points[1], curve.points[2]);
  EXPECT_EQ(n4.n, 4);
  for (const auto& p : curve.points) {
    EXPECT_DOUBLE_EQ(p.selected, (0.2 + 0.6) / 2);
    EXPECT_DOUBLE_EQ(p.selected_exact, 0.0);
  }
  // oracle: max of the first n, averaged over the two prompts
  EXPECT_DOUBLE_EQ(n1.oracle, (0.2 + 0.6) / 2);
  EXPECT_DOUBLE_EQ(n2.oracle, (1.0 + 0.6) / 2);
  EXPECT_DOUBLE_EQ(n4.oracle, (1.0 + 1.0) / 2);
  EXPECT_DOUBLE_EQ(n2.oracle_exact, 0.5);
  EXPECT_DOUBLE_EQ(n4.oracle_exact, 1.0);
  // random: mean of the first n
  EXPECT_DOUBLE_EQ(n1.random, n1.selected);
  EXPECT_DOUBLE_EQ(n2.random, ((0.2 + 1.0) / 2 + (0.6 + 0.4) / 2) / 2);
  EXPECT_DOUBLE_EQ(n4.random, ((0.2 + 1.0 + 0.5 + 0.0) / 4 + (0.6 + 0.4 + 0.8 + 1.0) / 4) / 2);
  EXPECT_DOUBLE_EQ(n2.random_exact, (0.5 + 0.0) / 2);
  EXPECT_DOUBLE_EQ(n4.random_exact, (0.25 + 0.25) / 2);

  const nlohmann::json j = cli::bestOfNJson(curve);
  EXPECT_EQ(j["prompts"], 2);
  EXPECT_DOUBLE_EQ(j["points"][2]["oracle"].get<double>(), 1.0);
  EXPECT_NE(cli::bestOfNMarkdown(curve).find("| 4 | 0.4000 | 1.0000 | 0.5625 |"), std::string::npos);

  // Too few candidates for n_max, and a selector that picks outside the first n.
  EXPECT_THROW(cli::bestOfNCurve(sets, 5,
                                 [](const cli::CandidateSet&, const std::vector<int64_t>& sizes) {
                                   return std::vector<int64_t>(sizes.size(), 0);
                                 }),
               DataError);
  EXPECT_THROW(cli::bestOfNCurve(sets, 2,
                                 [](const cli::CandidateSet&, const std::vector<int64_t>& sizes) {
                                   return std::vector<int64_t>(sizes.size(), 1);
                                 }),
               InternalError);
}

// A consistent fake judge: P(i beats j) = sigmoid(4 * (gold_i - gold_j)), so the bracket must
// find the best of every prefix, which makes the model curve equal the oracle curve.
TEST(BestOfNCurve, BracketWithAConsistentJudgeSelectsTheBestAndReusesComparisons) {
  const std::vector<cli::CandidateSet> sets{
      candidateSet("p", {0.1, 0.3, 0.2, 0.9, 0.4, 0.5, 0.0, 0.6, 0.35, 0.95, 0.05, 0.15, 0.25, 0.45, 0.55, 0.7}),
      candidateSet("q", {0.8, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.9, 0.05, 0.15, 0.25, 0.35, 1.0, 0.45, 0.55})};
  int64_t comparisons = 0;
  const cli::BestOfNSelector select = cli::bracketSelector([&](const cli::CandidateSet& set) {
    return PairwiseComparator([&set, &comparisons](const std::vector<IndexPair>& pairs) {
      std::vector<double> out;
      for (const auto& p : pairs) {
        ++comparisons;
        out.push_back(
            1.0 / (1.0 + std::exp(-4.0 * (set.gold[static_cast<size_t>(p.i)] - set.gold[static_cast<size_t>(p.j)]))));
      }
      return out;
    });
  });
  const cli::BestOfNCurve curve = cli::bestOfNCurve(sets, 16, select);
  ASSERT_EQ(curve.points.size(), 5u);
  for (const auto& p : curve.points) EXPECT_DOUBLE_EQ(p.selected, p.oracle) << "n = " << p.n;
  // The bracket over 16 has 15 comparisons; those over 8, 4, 2 are its sub-brackets.
  EXPECT_EQ(comparisons, 2 * 15);

  // n_max = 6 (not a power of two): the bracket over 6 costs 5 comparisons and the one over 4
  // reuses 3 of them; the picks are still the best of each prefix.
  comparisons = 0;
  const cli::BestOfNCurve six = cli::bestOfNCurve({sets[0]}, 6, select);
  EXPECT_EQ(comparisons, 5);
  ASSERT_EQ(six.points.back().n, 6);
  EXPECT_DOUBLE_EQ(six.points.back().selected, 0.9);
  EXPECT_DOUBLE_EQ(six.points[2].selected, 0.9);  // n = 4
  EXPECT_DOUBLE_EQ(six.points[1].selected, 0.3);  // n = 2
}

TEST(BestOfNCurve, ArgmaxSelectorTakesTheLowestIndexOnTies) {
  const cli::CandidateSet set = candidateSet("p", {0, 0, 0, 0, 0});
  const cli::BestOfNSelector select = cli::argmaxSelector([](const cli::CandidateSet&) {
    return std::vector<double>{1.0, 3.0, 3.0, 2.0, 5.0};
  });
  EXPECT_EQ(select(set, {1, 2, 4, 5}), (std::vector<int64_t>{0, 1, 1, 4}));
}

class GramEvalBestOfN : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream out(dir_.file("candidates.jsonl"));
    out << R"({"prompt": "srt:312", "family": "srt", "candidates": ["123", "132", "12", "312"], "gold": [1.0, 0.3333333333333333, 0.6666666666666667, 0.3333333333333333]})"
        << "\n";
    out << R"({"prompt": "rev:45", "family": "rev", "candidates": ["45", "54", "5", "544"], "gold": [0.0, 1.0, 0.5, 0.6666666666666667]})"
        << "\n";
  }
  nlohmann::json run(const std::string& kind) {
    cli::GramEvalArgs args;
    args.model = "builtin:tiny";
    args.judge_template = "compact";
    args.kind = kind;
    args.best_of_n = dir_.file("candidates.jsonl");
    args.n_max = 4;
    args.batch_size = 4;
    args.max_tokens = 128;
    args.threads = 1;
    args.out_json = dir_.file(kind + "-bon.json");
    EXPECT_EQ(cli::runGramEval(args), 0);
    std::ifstream in(args.out_json);
    return nlohmann::json::parse(in);
  }
  testing::TempDir dir_;
};

TEST_F(GramEvalBestOfN, GramBracketMatchesADirectBracketAndTheReferenceCurves) {
  const nlohmann::json report = run("gram");
  const auto& bon = report["best_of_n"];
  EXPECT_EQ(bon["prompts"], 2);
  EXPECT_EQ(bon["selection"], "bracket, debiased");
  ASSERT_EQ(bon["points"].size(), 3u);
  // Hand-computed references from the gold lists above.
  EXPECT_NEAR(bon["points"][0]["selected"].get<double>(), (1.0 + 0.0) / 2, 1e-12);
  EXPECT_NEAR(bon["points"][1]["oracle"].get<double>(), (1.0 + 1.0) / 2, 1e-12);
  EXPECT_NEAR(bon["points"][1]["random"].get<double>(), ((1.0 + 1.0 / 3) / 2 + 0.5) / 2, 1e-12);
  EXPECT_NEAR(bon["points"][2]["random_exact"].get<double>(), 0.25, 1e-12);

  // The same model's bracket over all 4, run directly.
  tokenizer::ByteTokenizer tok;
  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{0, false});
  GramJudge judge(model, JudgeEncoder(tok, "plain", judgeTemplate("compact"), 128), 4);
  const auto sets = cli::readCandidateSets(dir_.file("candidates.jsonl"));
  double selected = 0;
  for (const auto& set : sets) {
    const auto r = bracketBestOfN(4, makeComparator(judge, set.system, set.prompt, set.candidates, true));
    EXPECT_EQ(r.comparisons, 3);
    selected += set.gold[static_cast<size_t>(r.winner)];
  }
  EXPECT_NEAR(bon["points"][2]["selected"].get<double>(), selected / 2, 1e-12);
}

TEST_F(GramEvalBestOfN, ScalarModelsRunAndBadInputIsNamed) {
  for (const char* kind : {"bradley_terry", "likelihood"}) {
    const nlohmann::json bon = run(kind)["best_of_n"];
    EXPECT_EQ(bon["selection"], "argmax") << kind;
    const double s = bon["points"][2]["selected"].get<double>();
    EXPECT_GE(s, 0.0);
    EXPECT_LE(s, bon["points"][2]["oracle"].get<double>());
  }
  cli::GramEvalArgs args;
  args.model = "builtin:tiny";
  args.judge_template = "compact";
  args.best_of_n = dir_.file("candidates.jsonl");
  args.n_max = 8;  // more than the 4 candidates
  EXPECT_THROW(cli::runGramEval(args), DataError);
  args.n_max = 4;
  args.gold = "rubric";
  EXPECT_THROW(cli::runGramEval(args), ConfigError);
  {
    std::ofstream out(dir_.file("bad.jsonl"));
    out << R"({"prompt": "srt:1", "candidates": ["1", "2"], "gold": [1.0]})"
        << "\n";
  }
  try {
    cli::readCandidateSets(dir_.file("bad.jsonl"));
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gramrl::gram
