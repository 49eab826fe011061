// DPO / cDPO / IPO losses and gradients against hand-derived values (NOTE [DPO losses]).
#include "learner/dpo/dpo_loss.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl {
namespace {

struct Inputs {
  at::Tensor pc, pr, rc, rr;
};

Inputs inputs(double pc, double pr, double rc, double rr) {
  auto t = [](double v, bool grad) { return torch::tensor({v}, torch::kFloat64).requires_grad_(grad); };
  return {t(pc, true), t(pr, true), t(rc, false), t(rr, false)};
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

TEST(DpoLossTest, SigmoidMatchesHandDerivedValueAndGradient) {
  // h = (-1 - -1.5) - (-2 - -1.5) = 1, beta h = 0.5.
  Inputs in = inputs(-1.0, -2.0, -1.5, -1.5);
  DpoLossOutput out = dpoLoss(in.pc, in.pr, in.rc, in.rr, {"sigmoid", 0.5, 0.0});
  out.losses.sum().backward();
  EXPECT_NEAR(out.losses.item<double>(), std::log1p(std::exp(-0.5)), 1e-12);  // 0.474076984
  EXPECT_NEAR(in.pc.grad().item<double>(), -0.5 * sigmoid(-0.5), 1e-12);      // -0.188770334
  EXPECT_NEAR(in.pr.grad().item<double>(), 0.5 * sigmoid(-0.5), 1e-12);
  EXPECT_NEAR(out.chosen_rewards.item<double>(), 0.25, 1e-12);
  EXPECT_NEAR(out.rejected_rewards.item<double>(), -0.25, 1e-12);
  EXPECT_FALSE(out.chosen_rewards.requires_grad());
}

TEST(DpoLossTest, ConservativeDpoIsSigmoidPlusEpsTimesMargin) {
  Inputs in = inputs(-1.0, -2.0, -1.5, -1.5);
  DpoLossOutput out = dpoLoss(in.pc, in.pr, in.rc, in.rr, {"sigmoid", 0.5, 0.1});
  out.losses.sum().backward();
  // -(1-e) log s(x) - e log s(-x) = -log s(x) + e x with x = 0.5.
  EXPECT_NEAR(out.losses.item<double>(), std::log1p(std::exp(-0.5)) + 0.1 * 0.5, 1e-12);  // 0.524076984
  const double dldh = -0.5 * (0.9 * sigmoid(-0.5) - 0.1 * sigmoid(0.5));                  // -0.138770334
  EXPECT_NEAR(in.pc.grad().item<double>(), dldh, 1e-12);
  EXPECT_NEAR(in.pr.grad().item<double>(), -dldh, 1e-12);
}

TEST(DpoLossTest, IpoIsSquaredDistanceToHalfInverseBeta) {
  // h = 0.5 - (-1.5) = 2, 1 / (2 beta) = 1: loss (2 - 1)^2 = 1, dL/dh = 2 (h - 1) = 2.
  Inputs in = inputs(-1.0, -3.0, -1.5, -1.5);
  DpoLossOutput out = dpoLoss(in.pc, in.pr, in.rc, in.rr, {"ipo", 0.5, 0.0});
  out.losses.sum().backward();
  EXPECT_NEAR(out.losses.item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(in.pc.grad().item<double>(), 2.0, 1e-12);
  EXPECT_NEAR(in.pr.grad().item<double>(), -2.0, 1e-12);
  EXPECT_TRUE(dpoAveragesLogProbs("ipo"));
  EXPECT_FALSE(dpoAveragesLogProbs("sigmoid"));
}

TEST(DpoLossTest, BatchedLossesArePerPair) {
  auto pc = torch::tensor({-1.0, -1.0}, torch::kFloat64).requires_grad_(true);
  auto pr = torch::tensor({-2.0, -0.5}, torch::kFloat64).requires_grad_(true);
  auto ref = torch::tensor({-1.5, -1.5}, torch::kFloat64);
  DpoLossOutput out = dpoLoss(pc, pr, ref, ref, {"sigmoid", 1.0, 0.0});
  // h = [1, -0.5]
  EXPECT_NEAR(out.losses[0].item<double>(), std::log1p(std::exp(-1.0)), 1e-12);
  EXPECT_NEAR(out.losses[1].item<double>(), std::log1p(std::exp(0.5)), 1e-12);
}

TEST(DpoLossTest, UnknownLossIsAConfigError) {
  Inputs in = inputs(-1.0, -2.0, -1.5, -1.5);
  EXPECT_THROW(dpoLoss(in.pc, in.pr, in.rc, in.rr, {"hinge", 0.5, 0.0}), ConfigError);
}

}  // namespace
}  // namespace gramrl
