// GRPO's pieces against hand computation (NOTE [GRPO], [KL estimators], [Stale samples]).
#include "learner/rlhf/policy_loss.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl::rlhf {
namespace {

TEST(PolicyLossTest, GroupAdvantagesMatchHandComputation) {
  // Group 1: rewards 1, 2, 3 -> mean 2, sample std 1 -> -1, 0, 1.
  // Group 2: rewards 0, 0, 6 -> mean 2, sample std sqrt((4 + 4 + 16) / 2) = sqrt(12).
  const std::vector<double> r{1, 2, 3, 0, 0, 6};
  const auto a = groupAdvantages(r, 3, true, 0.0);
  EXPECT_NEAR(a[0], -1.0, 1e-12);
  EXPECT_NEAR(a[1], 0.0, 1e-12);
  EXPECT_NEAR(a[2], 1.0, 1e-12);
  EXPECT_NEAR(a[3], -2.0 / std::sqrt(12.0), 1e-12);
  EXPECT_NEAR(a[5], 4.0 / std::sqrt(12.0), 1e-12);
  const auto centred = groupAdvantages(r, 3, false);
  EXPECT_NEAR(centred[3], -2.0, 1e-12);
  EXPECT_NEAR(centred[5], 4.0, 1e-12);
  // A group whose rewards tie has no signal, and a group of one has none either.
  const auto tie = groupAdvantages({5, 5}, 2);
  EXPECT_EQ(tie[0], 0.0);
  EXPECT_EQ(groupAdvantages({3.5}, 1)[0], 0.0);
}

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

}  // namespace
}  // namespace gramrl::rlhf
