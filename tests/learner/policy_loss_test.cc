// GRPO's pieces against hand computation (NOTE [GRPO], [KL estimators], [Stale samples]).
#include "learner/rlhf/policy_loss.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl::rlhf {
namespace {

TEST(PolicyLossTest, KlEstimatorsMatchTheirFormulas) {
  const at::Tensor logp = torch::tensor({-1.0, -2.0, -0.5}, torch::kDouble);
  const at::Tensor ref = torch::tensor({-1.5, -1.0, -0.5}, torch::kDouble);
  const double d[3] = {0.5, -1.0, 0.0};
  const at::Tensor k1 = klEstimate(logp, ref, KlEstimator::kK1);
  const at::Tensor k2 = klEstimate(logp, ref, KlEstimator::kK2);
  const at::Tensor k3 = klEstimate(logp, ref, KlEstimator::kK3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(k1[i].item<double>(), d[i], 1e-12);
    EXPECT_NEAR(k2[i].item<double>(), 0.5 * d[i] * d[i], 1e-12);
    EXPECT_NEAR(k3[i].item<double>(), std::exp(-d[i]) - 1.0 + d[i], 1e-12);
  }
  EXPECT_EQ(parseKlEstimator("k2"), KlEstimator::kK2);
  EXPECT_THROW(parseKlEstimator("k4"), ConfigError);
}

TEST(PolicyLossTest, KlEstimatorsAreUnbiasedWhereTheTheorySaysSo) {
  // Two-outcome policy p = (0.7, 0.3), reference q = (0.4, 0.6): KL(p||q) exactly, and the
  // expectation of each estimator under p.
  const double p[2] = {0.7, 0.3};
  const double q[2] = {0.4, 0.6};
  double kl = 0.0, e1 = 0.0, e3 = 0.0;
  for (int i = 0; i < 2; ++i) {
    kl += p[i] * std::log(p[i] / q[i]);
    const at::Tensor lp = torch::tensor({std::log(p[i])}, torch::kDouble);
    const at::Tensor lq = torch::tensor({std::log(q[i])}, torch::kDouble);
    e1 += p[i] * klEstimate(lp, lq, KlEstimator::kK1).item<double>();
    e3 += p[i] * klEstimate(lp, lq, KlEstimator::kK3).item<double>();
  }
  EXPECT_NEAR(e1, kl, 1e-12);
  EXPECT_NEAR(e3, kl, 1e-12);
}

TEST(PolicyLossTest, ClippedSurrogateAtBothEdges) {
  const double clip = 0.2;
  // ratio = exp(logp - old): 1.5 (above 1 + clip), 0.5 (below 1 - clip), 1.1 (inside).
  const at::Tensor old = torch::zeros({6}, torch::kDouble);
  const at::Tensor logp =
      torch::tensor({std::log(1.5), std::log(1.5), std::log(0.5), std::log(0.5), std::log(1.1), std::log(1.1)},
                    torch::kDouble)
          .requires_grad_(true);
  const at::Tensor adv = torch::tensor({2.0, -2.0, 2.0, -2.0, 1.0, -1.0}, torch::kDouble);
  const SurrogateLoss s = clippedSurrogate(logp, old, adv, clip);
  // loss = -min(r A, clip(r) A)
  const double expected[6] = {-1.2 * 2.0, 1.5 * 2.0, -0.5 * 2.0, 0.8 * 2.0, -1.1, 1.1};
  const double clipped[6] = {1, 0, 0, 1, 0, 0};
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR(s.loss[i].item<double>(), expected[i], 1e-12) << i;
    EXPECT_EQ(s.clipped[i].item<float>(), clipped[i]) << i;
  }
  // Gradient: zero where the clipped branch is taken, else -A * ratio.
  s.loss.sum().backward();
  const double grad[6] = {0.0, 2.0 * 1.5, -2.0 * 0.5, 0.0, -1.1, 1.1};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(logp.grad()[i].item<double>(), grad[i], 1e-12) << i;
}

TEST(PolicyLossTest, TruncatedImportanceWeights) {
  const at::Tensor old = torch::tensor({0.0, 0.0, -1.0}, torch::kDouble);
  const at::Tensor behaviour = torch::tensor({-0.1, -2.0, 0.0}, torch::kDouble);
  const at::Tensor w = truncatedImportanceWeights(old, behaviour, 2.0);
  EXPECT_NEAR(w[0].item<double>(), std::exp(0.1), 1e-12);
  EXPECT_NEAR(w[1].item<double>(), 2.0, 1e-12);  // exp(2) truncated
  EXPECT_NEAR(w[2].item<double>(), std::exp(-1.0), 1e-12);
}

TEST(PolicyLossTest, ValueClippingAtBothEdges) {
  // V_old = 1, clip 0.2, return R = 2.
  //   V = 1.5 (above the edge 1.2): plain (1.5 - 2)^2 = 0.25, clipped (1.2 - 2)^2 = 0.64 -> 0.32,
  //           the clipped branch, no gradient;
  //   V = 0.5 (below the edge 0.8) with R = 0: plain 0.25, clipped 0.64 -> 0.32, clipped;
  //   V = 1.1 (inside): both 0.81 -> 0.405, plain branch, gradient V - R = -0.9;
  //   V = 2.5 (above, moving towards R = 3): plain 0.25, clipped (1.2 - 3)^2 = 3.24 -> 1.62.
  at::Tensor v = torch::tensor({1.5, 0.5, 1.1, 2.5}, torch::kDouble).requires_grad_(true);
  const at::Tensor old = torch::full({4}, 1.0, torch::kDouble);
  const at::Tensor ret = torch::tensor({2.0, 0.0, 2.0, 3.0}, torch::kDouble);
  const ValueLoss l = clippedValueLoss(v, old, ret, 0.2);
  EXPECT_NEAR(l.loss[0].item<double>(), 0.32, 1e-12);
  EXPECT_NEAR(l.loss[1].item<double>(), 0.32, 1e-12);
  EXPECT_NEAR(l.loss[2].item<double>(), 0.405, 1e-12);
  EXPECT_NEAR(l.loss[3].item<double>(), 1.62, 1e-12);
  EXPECT_EQ(l.clipped[0].item<float>(), 1.0f);
  EXPECT_EQ(l.clipped[1].item<float>(), 1.0f);
  EXPECT_EQ(l.clipped[2].item<float>(), 0.0f);
  l.loss.sum().backward();
  EXPECT_NEAR(v.grad()[0].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(v.grad()[1].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(v.grad()[2].item<double>(), -0.9, 1e-12);
  // Without clipping: the plain half squared error.
  const ValueLoss plain = clippedValueLoss(v.detach(), old, ret, 0.0);
  EXPECT_NEAR(plain.loss[3].item<double>(), 0.125, 1e-12);
}

TEST(PolicyLossTest, LossAggregationsWeighTokensAndSequencesAsDocumented) {
  // Two responses: 3 tokens with losses 1, 2, 3 and 1 token with loss 10 (max_new_tokens 4).
  const at::Tensor loss = torch::tensor({{1.0, 2.0, 3.0}, {10.0, 99.0, 99.0}}, torch::kDouble);
  const at::Tensor mask = torch::tensor({{1.0, 1.0, 1.0}, {1.0, 0.0, 0.0}}, torch::kDouble);
  // token_mean: units are tokens: sum 16 over 4 tokens.
  EXPECT_DOUBLE_EQ(aggregateLoss(loss, mask, LossAggregation::kTokenMean, 4).item<double>(), 16.0);
  // sequence_mean: per-response means 2 and 10, summed over 2 responses.
  EXPECT_DOUBLE_EQ(aggregateLoss(loss, mask, LossAggregation::kSequenceMean, 4).item<double>(), 12.0);
  // sequence_sum_norm: (6 + 10) / 4, summed over 2 responses.
  EXPECT_DOUBLE_EQ(aggregateLoss(loss, mask, LossAggregation::kSequenceSumNorm, 4).item<double>(), 4.0);
  EXPECT_EQ(parseLossAggregation("sequence_mean"), LossAggregation::kSequenceMean);
  EXPECT_THROW(parseLossAggregation("seq-mean"), ConfigError);
}

TEST(PolicyLossTest, EntropyOfUniformAndPeakedDistributions) {
  const at::Tensor uniform = torch::zeros({1, 4});
  EXPECT_NEAR(entropyFromLogits(uniform)[0].item<float>(), std::log(4.0), 1e-6);
  const at::Tensor two = torch::tensor({{0.0, std::log(3.0)}});  // p = (1/4, 3/4)
  EXPECT_NEAR(entropyFromLogits(two)[0].item<float>(), -(0.25 * std::log(0.25) + 0.75 * std::log(0.75)), 1e-6);
}

}  // namespace
}  // namespace gramrl::rlhf
