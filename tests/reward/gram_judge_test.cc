// GramJudge on the built-in tiny models against a direct full-logits recomputation, one query at
// a time and without padding.
#include <cmath>
#include <memory>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/output_heads.h"
#include "common/model/presets.h"
#include "common/model/pretrained.h"
#include "common/model/transformer.h"
#include "common/tokenizer/byte_tokenizer.h"
#include "reward/gram/best_of_n.h"
#include "reward/gram/gram_judge.h"

namespace gramrl::gram {
namespace {

constexpr double kTol = 2e-5;  // float32 logits of size ~1; batching changes summation order only

std::vector<JudgeQuery> someQueries() {
  return {{std::nullopt, "sort 3 1 2", "1 2 3", "3 2 1"},
          {std::nullopt, "reverse abc", "cba", "abcd efgh ijkl"},
          {std::string("be brief"), "add 12 30", "42", "the answer is 43, I think"},
          {std::nullopt, "x", "", "y"},
          {std::nullopt, "dedupe a a b b c", "a b c", "a b"}};
}

class GramJudgeTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    model_ = loadPretrained(GetParam(), torch::kFloat, torch::kCPU, PretrainedOptions{7, false});
    // Wider than the 0.02 default so that margins are O(1), not O(1e-3), and the comparisons below
    // have something to resolve.
    initRandom(*model_, 7, 0.15);
  }
  JudgeEncoder encoder(int64_t max_tokens = 2048) const {
    return JudgeEncoder(tok_, "plain", judgeTemplate("compact"), max_tokens);
  }
  // z_A - z_B from the full logits of one unpadded sequence.
  double directMargin(const std::vector<int64_t>& ids) const {
    torch::NoGradGuard no_grad;
    const auto t = static_cast<int64_t>(ids.size());
    const at::Tensor input = torch::tensor(ids, torch::kInt64).view({1, t});
    const at::Tensor hidden = model_->forward(input, torch::ones({1, t}, torch::kInt64));
    const at::Tensor logits = model_->logits(hidden)[0][t - 1].to(torch::kDouble);
    return logits[static_cast<int64_t>('A')].item<double>() - logits[static_cast<int64_t>('B')].item<double>();
  }

  tokenizer::ByteTokenizer tok_;
  std::shared_ptr<Transformer> model_;
};

TEST_P(GramJudgeTest, MarginsEqualFullLogitsOfEachQueryAlone) {
  const auto queries = someQueries();
  GramJudge judge(model_, encoder(), /*batch_size=*/3);  // batches of 3 and 2 rows, padded
  const std::vector<double> m = judge.margins(queries);
  ASSERT_EQ(m.size(), queries.size());
  for (size_t k = 0; k < queries.size(); ++k) {
    const auto& q = queries[k];
    const double direct = directMargin(judge.encoder().judgePrompt(q.question, q.response_a, q.response_b, q.system));
    EXPECT_NEAR(m[k], direct, kTol) << "query " << k;
  }
  // Different queries give different margins (the check above is not comparing constants).
  EXPECT_GT(std::abs(m[0] - m[1]), 0.1);
  // Batch composition does not matter.
  GramJudge one(model_, encoder(), 1);
  const std::vector<double> m1 = one.margins(queries);
  for (size_t k = 0; k < queries.size(); ++k) EXPECT_NEAR(m[k], m1[k], kTol) << k;
  EXPECT_TRUE(judge.margins({}).empty());
}

TEST_P(GramJudgeTest, PreferenceProbabilitiesDebiasBothOrders) {
  const auto queries = someQueries();
  GramJudge judge(model_, encoder(), 4);
  std::vector<JudgeQuery> swapped;
  for (const auto& q : queries) swapped.push_back({q.system, q.question, q.response_b, q.response_a});
  const std::vector<double> m1 = judge.margins(queries), m2 = judge.margins(swapped);
  const std::vector<double> debiased = judge.preferenceProbabilities(queries, true);
  const std::vector<double> single = judge.preferenceProbabilities(queries, false);
  for (size_t k = 0; k < queries.size(); ++k) {
    const double p1 = 1 / (1 + std::exp(-m1[k])), p2 = 1 / (1 + std::exp(m2[k]));  // sigmoid(b2 - a2)
    EXPECT_NEAR(debiased[k], (p1 + p2) / 2, kTol) << k;
    EXPECT_NEAR(single[k], p1, kTol) << k;
  }
  // Debiased scores of the swapped pair are complementary.
  const std::vector<double> debiased_swapped = judge.preferenceProbabilities(swapped, true);
  for (size_t k = 0; k < queries.size(); ++k) EXPECT_NEAR(debiased[k] + debiased_swapped[k], 1.0, kTol) << k;
}

TEST_P(GramJudgeTest, PointwiseRewardsApplyTheTransform) {
  GramJudge judge(model_, encoder(), 4);
  const std::vector<PointwiseQuery> queries{{std::nullopt, "sort 2 1", "1 2", "2 1"},
                                            {std::nullopt, "add 1 1", "3", "2"}};
  const std::vector<double> m =
      judge.margins({{std::nullopt, "sort 2 1", "1 2", "2 1"}, {std::nullopt, "add 1 1", "3", "2"}});
  const auto prob = judge.pointwiseRewards(queries, "probability", false);
  const auto centered = judge.pointwiseRewards(queries, "centered", false);
  const auto log_odds = judge.pointwiseRewards(queries, "log_odds", false);
  for (size_t k = 0; k < queries.size(); ++k) {
    EXPECT_NEAR(prob[k], 1 / (1 + std::exp(-m[k])), kTol);
    EXPECT_NEAR(centered[k], prob[k] - 0.5, 1e-12);
    EXPECT_NEAR(log_odds[k], m[k], kTol);
  }
  const auto debiased = judge.pointwiseRewards(queries, "probability", true);
  const auto expected = judge.preferenceProbabilities(
      {{std::nullopt, "sort 2 1", "1 2", "2 1"}, {std::nullopt, "add 1 1", "3", "2"}}, true);
  for (size_t k = 0; k < queries.size(); ++k) EXPECT_NEAR(debiased[k], expected[k], 1e-12);
  EXPECT_THROW(judge.pointwiseRewards(queries, "rank", false), ConfigError);
}

TEST_P(GramJudgeTest, ComparatorDrivesBestOfN) {
  GramJudge judge(model_, encoder(), 8);
  const std::optional<std::string> system;
  const std::string question = "sort 4 2 3 1";
  const std::vector<std::string> candidates{"1 2 3 4", "4 3 2 1", "1 2 4 3", "2 1", "1 2 3 4 5"};
  const PairwiseComparator compare = makeComparator(judge, system, question, candidates, true);
  const auto p = compare({{0, 1}, {3, 2}});
  const auto expected = judge.preferenceProbabilities(
      {{system, question, candidates[0], candidates[1]}, {system, question, candidates[3], candidates[2]}}, true);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_NEAR(p[0], expected[0], 1e-12);
  EXPECT_NEAR(p[1], expected[1], 1e-12);
  const BracketResult r = bracketBestOfN(static_cast<int64_t>(candidates.size()), compare);
  EXPECT_EQ(r.comparisons, 4);
  EXPECT_EQ(r.rounds, 3);
  const AnchorResult a = anchorBestOfN(static_cast<int64_t>(candidates.size()), compare);
  for (size_t k = 1; k < candidates.size(); ++k) {
    const double s = judge.preferenceProbabilities({{system, question, candidates[k], candidates[0]}}, true)[0];
    EXPECT_NEAR(a.scores[k], 2 * s - 0.5, kTol) << k;  // different batches: float32 rounding
  }
}

INSTANTIATE_TEST_SUITE_P(TinyModels, GramJudgeTest, ::testing::Values("builtin:tiny", "builtin:tiny-llama"));

}  // namespace
}  // namespace gramrl::gram
