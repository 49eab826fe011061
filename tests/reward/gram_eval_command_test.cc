// `gramrl gram eval` end to end on a built-in tiny model: the JSON report agrees with a direct
// computation of the accuracies from GramJudge margins.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "common/core/errors.h"
#include "common/model/pretrained.h"
#include "common/tokenizer/byte_tokenizer.h"
#include "launch/gram_eval_command.h"
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

}  // namespace
}  // namespace gramrl::gram
