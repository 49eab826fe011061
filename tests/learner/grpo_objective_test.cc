// GrpoObjective on a real (built-in tiny) transformer, against a float64 recomputation of the
// same loss from full logits: advantages, the surrogate, the KL term and the normaliser.
#include "learner/rlhf/grpo_objective.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/model/pretrained.h"
#include "common/model/transformer.h"

namespace gramrl::rlhf {
namespace {

// log p(response token j | prefix) under `model`, in float64 from the full logits.
std::vector<double> referenceLogProbs(const Transformer& model, const Trajectory& t, double temperature) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> ids(t.prompt.begin(), t.prompt.end());
  ids.insert(ids.end(), t.response.begin(), t.response.end());
  const auto len = static_cast<int64_t>(ids.size());
  const at::Tensor input = torch::tensor(ids, torch::kInt64).view({1, len});
  const at::Tensor hidden = model.forward(input, torch::ones({1, len}, torch::kInt64));
  const at::Tensor logp = torch::log_softmax(model.logits(hidden).to(torch::kDouble) / temperature, -1);
  std::vector<double> out;
  for (size_t j = 0; j < t.response.size(); ++j) {
    const int64_t pos = static_cast<int64_t>(t.prompt.size() + j) - 1;
    out.push_back(logp[0][pos][t.response[j]].item<double>());
  }
  return out;
}

Trajectory sample(uint64_t prompt, uint32_t index, std::vector<int32_t> p, std::vector<int32_t> r, float reward) {
  Trajectory t;
  t.prompt_id = prompt;
  t.sample_index = index;
  t.prompt = std::move(p);
  t.response = std::move(r);
  t.reward = reward;
  return t;
}

TEST(GrpoObjectiveTest, LossEqualsAFloat64RecomputationOnPolicy) {
  auto policy = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{11, false});
  auto reference = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{12, false});
  const double temperature = 0.8;
  std::vector<Trajectory> samples{sample(0, 0, {1, 40, 41}, {50, 51, 52}, 1.0f),
                                  sample(0, 1, {1, 40, 41}, {60, 2}, 0.0f),
                                  sample(1, 0, {1, 70}, {71, 72, 73, 74}, 0.5f), sample(1, 1, {1, 70}, {75}, 0.25f)};
  // On-policy: behaviour log-probs are the policy's own.
  for (auto& t : samples) {
    const auto lp = referenceLogProbs(*policy, t, temperature);
    t.behaviour_logprobs.assign(lp.begin(), lp.end());
  }
  GrpoSettings s;
  s.clip = 0.2;
  s.kl_coef = 0.1;
  s.kl_estimator = KlEstimator::kK3;
  s.group_size = 2;
  s.temperature = temperature;
  s.batch_rows = 3;  // not a divisor of 4: the last micro-batch is short
  GrpoObjective objective(policy, reference, s);
  objective.setExperience(samples, 0);

  // Group advantages by hand: two samples per group -> +-1/sqrt(2) * sign, since the sample std
  // of {a, b} is |a - b| / sqrt(2) and each centred reward is +-|a - b| / 2.
  const double a = 1.0 / std::sqrt(2.0);
  ASSERT_EQ(objective.advantages().size(), 4u);
  EXPECT_NEAR(objective.advantages()[0], a, 1e-5);
  EXPECT_NEAR(objective.advantages()[1], -a, 1e-5);
  EXPECT_NEAR(objective.advantages()[2], a, 1e-5);
  EXPECT_NEAR(objective.advantages()[3], -a, 1e-5);

  // Ratio 1 on-policy: each token's loss is -A + kl_coef * k3(logp, ref).
  double expected = 0.0;
  double tokens = 0.0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto lp = referenceLogProbs(*policy, samples[i], temperature);
    const auto lr = referenceLogProbs(*reference, samples[i], temperature);
    for (size_t j = 0; j < lp.size(); ++j) {
      const double d = lp[j] - lr[j];
      expected += -objective.advantages()[i] + s.kl_coef * (std::exp(-d) - 1.0 + d);
      tokens += 1;
    }
  }
  const std::vector<int64_t> all{0, 1, 2, 3};
  EXPECT_EQ(objective.normaliser(all), tokens);
  const ObjectiveOutput out = objective.forward(all);
  EXPECT_NEAR(out.loss_sum.item<double>(), expected, 1e-4);
  // Nothing is clipped on-policy and the ratio is 1.
  for (const auto& m : out.metrics) {
    if (m.name == "policy/clip_fraction") EXPECT_EQ(m.sum, 0.0);
    if (m.name == "policy/ratio") EXPECT_NEAR(m.sum / m.count, 1.0, 1e-5);
  }
}

TEST(GrpoObjectiveTest, StaleSamplesGetTruncatedImportanceWeights) {
  auto policy = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{21, false});
  std::vector<Trajectory> samples{sample(0, 0, {1, 40}, {50, 51}, 1.0f), sample(0, 1, {1, 40}, {52}, 0.0f)};
  // Made by version 0, trained at version 1; behaviour log-probs far below the policy's, so
  // every weight is truncated to the cap.
  for (auto& t : samples) {
    t.policy_version = 0;
    t.behaviour_logprobs.assign(t.response.size(), -50.0f);
  }
  GrpoSettings s;
  s.group_size = 2;
  s.importance_cap = 1.5;
  GrpoObjective objective(policy, nullptr, s);
  objective.setExperience(samples, 1);
  const ObjectiveOutput out = objective.forward({0, 1});
  // Ratio against the recomputed proximal policy is 1, so each token's loss is -A * cap.
  const double a = 1.0 / std::sqrt(2.0);
  const double expected = (-a * 2 + a * 1) * 1.5;
  EXPECT_NEAR(out.loss_sum.item<double>(), expected, 1e-4);
}

}  // namespace
}  // namespace gramrl::rlhf
