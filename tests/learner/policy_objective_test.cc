// The online objectives on a real (built-in tiny) transformer, against float64 recomputations
// from full logits: GRPO's advantages, surrogate, KL term and normaliser; stale samples; the
// sequence aggregation and the entropy bonus; PPO's experience (values, GAE, whitening) and value
// loss; online DPO's pairs and loss.
#include "learner/rlhf/policy_objective.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/collectives/collective.h"
#include "common/core/errors.h"
#include "common/model/pretrained.h"
#include "common/model/transformer.h"
#include "learner/rlhf/experience.h"

namespace gramrl::rlhf {
namespace {

// log p(response token j | prefix) under `model`, in float64 from the full logits; `entropy`
// (when given) receives the entropy of each of those next-token distributions.
std::vector<double> referenceLogProbs(const Transformer& model, const Trajectory& t, double temperature,
                                      std::vector<double>* entropy = nullptr) {
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
    if (entropy) entropy->push_back(-(logp[0][pos].exp() * logp[0][pos]).sum().item<double>());
  }
  return out;
}

// The critic's value before each response token, in float64.
std::vector<double> referenceValues(const Transformer& critic, const Trajectory& t) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> ids(t.prompt.begin(), t.prompt.end());
  ids.insert(ids.end(), t.response.begin(), t.response.end());
  const auto len = static_cast<int64_t>(ids.size());
  const at::Tensor hidden =
      critic.forward(torch::tensor(ids, torch::kInt64).view({1, len}), torch::ones({1, len}, torch::kInt64));
  const at::Tensor v = critic.values(hidden).to(torch::kDouble);
  std::vector<double> out;
  for (size_t j = 0; j < t.response.size(); ++j)
    out.push_back(v[0][static_cast<int64_t>(t.prompt.size() + j) - 1].item<double>());
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

std::vector<Trajectory> fourSamples(const Transformer& policy, double temperature) {
  std::vector<Trajectory> samples{sample(0, 0, {1, 40, 41}, {50, 51, 52}, 1.0f),
                                  sample(0, 1, {1, 40, 41}, {60, 2}, 0.0f),
                                  sample(1, 0, {1, 70}, {71, 72, 73, 74}, 0.5f), sample(1, 1, {1, 70}, {75}, 0.25f)};
  for (auto& t : samples) {  // on-policy: the behaviour log-probs are the policy's own
    const auto lp = referenceLogProbs(policy, t, temperature);
    t.behaviour_logprobs.assign(lp.begin(), lp.end());
  }
  return samples;
}

std::vector<double> rewardsOf(const std::vector<Trajectory>& samples) {
  std::vector<double> out;
  for (const auto& t : samples) out.push_back(t.reward);
  return out;
}

double metric(const ObjectiveOutput& out, const std::string& name) {
  for (const auto& m : out.metrics) {
    if (m.name == name) return m.sum / m.count;
  }
  ADD_FAILURE() << "no metric " << name;
  return NAN;
}

TEST(PolicyObjectiveTest, GrpoLossEqualsAFloat64RecomputationOnPolicy) {
  auto policy = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{11, false});
  auto reference = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{12, false});
  const double temperature = 0.8;
  const auto samples = fourSamples(*policy, temperature);
  ExperienceSettings es;
  es.algorithm = Algorithm::kGrpo;
  es.group_size = 2;
  es.temperature = temperature;
  es.batch_rows = 3;  // not a divisor of 4: the last chunk is short
  auto collective = makeSingleRankCollective();
  const ExperienceMaker maker(policy, reference, nullptr, es);
  const Experience e = maker.make(samples, rewardsOf(samples), {}, 0, 0.1, *collective);
  PolicyLossSettings ps;
  ps.clip = 0.2;
  ps.kl_coef = 0.1;
  ps.kl_estimator = KlEstimator::kK3;
  ps.temperature = temperature;
  PolicyObjective objective(policy, reference, ps);
  objective.setExperience(&e);

  // Group advantages by hand: two samples per group -> +-1/sqrt(2) * sign, since the sample std
  // of {a, b} is |a - b| / sqrt(2) and each centred reward is +-|a - b| / 2.
  const double a = 1.0 / std::sqrt(2.0);
  const double expected_adv[4] = {a, -a, a, -a};
  for (size_t i = 0; i < 4; ++i) {
    for (float v : e.advantages[i]) EXPECT_NEAR(v, expected_adv[i], 1e-5);
  }
  // Ratio 1 on-policy: each token's loss is -A + kl_coef * k3(logp, ref).
  double expected = 0.0;
  double tokens = 0.0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto lp = referenceLogProbs(*policy, samples[i], temperature);
    const auto lr = referenceLogProbs(*reference, samples[i], temperature);
    for (size_t j = 0; j < lp.size(); ++j) {
      const double d = lp[j] - lr[j];
      expected += -expected_adv[i] + ps.kl_coef * (std::exp(-d) - 1.0 + d);
      tokens += 1;
    }
  }
  const std::vector<int64_t> all{0, 1, 2, 3};
  EXPECT_EQ(objective.normaliser(all), tokens);
  const ObjectiveOutput out = objective.forward(all);
  EXPECT_NEAR(out.loss_sum.item<double>(), expected, 1e-4);
  EXPECT_EQ(metric(out, "policy/clip_fraction"), 0.0);
  EXPECT_NEAR(metric(out, "policy/ratio"), 1.0, 1e-5);
  EXPECT_NEAR(metric(out, "policy/approx_kl"), 0.0, 1e-6);
}

TEST(PolicyObjectiveTest, RlooAndRemaxAdvantagesReachEveryToken) {
  auto policy = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{11, false});
  const auto samples = fourSamples(*policy, 1.0);
  auto collective = makeSingleRankCollective();
  ExperienceSettings es;
  es.group_size = 2;
  es.algorithm = Algorithm::kRloo;
  const Experience rloo =
      ExperienceMaker(policy, nullptr, nullptr, es).make(samples, rewardsOf(samples), {}, 0, 0.0, *collective);
  // Rewards (1, 0) and (0.5, 0.25): leave-one-out of a pair is the difference.
  const double expected[4] = {1.0, -1.0, 0.25, -0.25};
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_EQ(rloo.advantages[i].size(), samples[i].response.size());
    for (float v : rloo.advantages[i]) EXPECT_NEAR(v, expected[i], 1e-6);
  }
  es.algorithm = Algorithm::kRemax;
  const Experience remax = ExperienceMaker(policy, nullptr, nullptr, es)
                               .make(samples, rewardsOf(samples), {0.5, 0.5, 0.75, 0.75}, 0, 0.0, *collective);
  const double remax_expected[4] = {0.5, -0.5, -0.25, -0.5};
  for (size_t i = 0; i < 4; ++i) {
    for (float v : remax.advantages[i]) EXPECT_NEAR(v, remax_expected[i], 1e-6);
  }
  EXPECT_THROW(ExperienceMaker(policy, nullptr, nullptr, es).make(samples, rewardsOf(samples), {}, 0, 0.0, *collective),
               ProtocolError);
}

TEST(PolicyObjectiveTest, SequenceMeanAndEntropyBonusMatchTheRecomputation) {
  auto policy = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{31, false});
  const auto samples = fourSamples(*policy, 1.0);
  auto collective = makeSingleRankCollective();
  ExperienceSettings es;
  es.group_size = 2;
  es.scale_by_std = false;  // Dr. GRPO: centred rewards
  const Experience e =
      ExperienceMaker(policy, nullptr, nullptr, es).make(samples, rewardsOf(samples), {}, 0, 0.0, *collective);
  PolicyLossSettings ps;
  ps.aggregation = LossAggregation::kSequenceMean;
  ps.entropy_coef = 0.01;
  PolicyObjective objective(policy, nullptr, ps);
  objective.setExperience(&e);
  const double centred[4] = {0.5, -0.5, 0.125, -0.125};
  double expected = 0.0;
  for (size_t i = 0; i < samples.size(); ++i) {
    std::vector<double> entropy;
    referenceLogProbs(*policy, samples[i], 1.0, &entropy);
    double sum = 0.0;
    for (double h : entropy) sum += -centred[i] - ps.entropy_coef * h;
    expected += sum / static_cast<double>(entropy.size());
  }
  const std::vector<int64_t> all{0, 1, 2, 3};
  EXPECT_EQ(objective.normaliser(all), 4.0);  // responses, not tokens
  EXPECT_NEAR(objective.forward(all).loss_sum.item<double>(), expected, 1e-4);
}

TEST(PolicyObjectiveTest, StaleSamplesGetTruncatedImportanceWeights) {
  auto policy = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{21, false});
  std::vector<Trajectory> samples{sample(0, 0, {1, 40}, {50, 51}, 1.0f), sample(0, 1, {1, 40}, {52}, 0.0f)};
  // Made by version 0, trained at version 1; behaviour log-probs far below the policy's, so
  // every weight is truncated to the cap.
  for (auto& t : samples) {
    t.policy_version = 0;
    t.behaviour_logprobs.assign(t.response.size(), -50.0f);
  }
  ExperienceSettings es;
  es.group_size = 2;
  es.importance_cap = 1.5;
  auto collective = makeSingleRankCollective();
  const Experience e =
      ExperienceMaker(policy, nullptr, nullptr, es).make(samples, rewardsOf(samples), {}, 1, 0.0, *collective);
  PolicyObjective objective(policy, nullptr, PolicyLossSettings{});
  objective.setExperience(&e);
  const ObjectiveOutput out = objective.forward({0, 1});
  // Ratio against the recomputed proximal policy is 1, so each token's loss is -A * cap.
  const double a = 1.0 / std::sqrt(2.0);
  EXPECT_NEAR(out.loss_sum.item<double>(), (-a * 2 + a * 1) * 1.5, 1e-4);
}

TEST(PolicyObjectiveTest, PpoExperienceAndValueLossMatchTheRecomputation) {
  auto policy = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{41, false});
  auto reference = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{42, false});
  auto critic = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{43, true});
  const auto samples = fourSamples(*policy, 1.0);
  ExperienceSettings es;
  es.algorithm = Algorithm::kPpo;
  es.group_size = 1;
  es.kl_estimator = KlEstimator::kK1;
  es.gamma = 0.9;
  es.lambda = 0.8;
  es.whiten = true;
  const double kl_coef = 0.05;
  auto collective = makeSingleRankCollective();
  const Experience e =
      ExperienceMaker(policy, reference, critic, es).make(samples, rewardsOf(samples), {}, 0, kl_coef, *collective);

  // Float64: per-token rewards with k1, GAE backwards, then whitening over every token.
  std::vector<std::vector<double>> adv(4), ret(4), values(4);
  double sum = 0.0, sum_sq = 0.0, count = 0.0;
  for (size_t i = 0; i < 4; ++i) {
    const auto lp = referenceLogProbs(*policy, samples[i], 1.0);
    const auto lr = referenceLogProbs(*reference, samples[i], 1.0);
    values[i] = referenceValues(*critic, samples[i]);
    const size_t len = lp.size();
    adv[i].resize(len);
    ret[i].resize(len);
    double next_v = 0.0, next_a = 0.0;
    for (size_t t = len; t-- > 0;) {
      double r = -kl_coef * (lp[t] - lr[t]);
      if (t + 1 == len) r += samples[i].reward;
      const double delta = r + 0.9 * next_v - values[i][t];
      adv[i][t] = delta + 0.9 * 0.8 * next_a;
      ret[i][t] = adv[i][t] + values[i][t];
      next_v = values[i][t];
      next_a = adv[i][t];
      sum += adv[i][t];
      sum_sq += adv[i][t] * adv[i][t];
      count += 1;
    }
  }
  const double mean = sum / count;
  const double sd = std::sqrt(sum_sq / count - mean * mean);
  for (size_t i = 0; i < 4; ++i) {
    for (size_t t = 0; t < adv[i].size(); ++t) {
      EXPECT_NEAR(e.old_values[i][t], values[i][t], 1e-5);
      EXPECT_NEAR(e.returns[i][t], ret[i][t], 1e-4);
      EXPECT_NEAR(e.advantages[i][t], (adv[i][t] - mean) / sd, 1e-4);
    }
  }

  // The value loss at the critic's own values is 0.5 (V - R)^2 = 0.5 A^2 before whitening.
  ValueObjective value(critic, 0.2, 0);
  value.setExperience(&e);
  double expected = 0.0;
  for (size_t i = 0; i < 4; ++i) {
    for (double a : adv[i]) expected += 0.5 * a * a;
  }
  const std::vector<int64_t> all{0, 1, 2, 3};
  EXPECT_EQ(value.normaliser(all), count);
  EXPECT_NEAR(value.forward(all).loss_sum.item<double>(), expected, 1e-4);
}

TEST(PolicyObjectiveTest, OnlineDpoTrainsOnTheBestAndWorstOfEachGroup) {
  auto policy = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{51, false});
  auto reference = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{52, false});
  auto samples = fourSamples(*policy, 1.0);
  samples[3].reward = 0.5f;  // group 1 ties: no pair
  ExperienceSettings es;
  es.algorithm = Algorithm::kOnlineDpo;
  es.group_size = 2;
  auto collective = makeSingleRankCollective();
  const Experience e =
      ExperienceMaker(policy, reference, nullptr, es).make(samples, rewardsOf(samples), {}, 0, 0.0, *collective);
  OnlineDpoObjective objective(policy, DpoLossOptions{"sigmoid", 0.1, 0.0}, 2, 0);
  objective.setExperience(&e);
  ASSERT_EQ(objective.pairs().size(), 2u);
  ASSERT_TRUE(objective.pairs()[0]);
  EXPECT_EQ(objective.pairs()[0]->chosen, 0);
  EXPECT_EQ(objective.pairs()[0]->rejected, 1);
  EXPECT_FALSE(objective.pairs()[1]);
  EXPECT_EQ(objective.normaliser({0, 1}), 1.0);
  EXPECT_EQ(objective.normaliser({1}), 0.0);

  // -log sigmoid(beta h), h = (log pi(w) - log ref(w)) - (log pi(l) - log ref(l)), sums over tokens.
  auto total = [](const std::vector<double>& v) {
    double s = 0.0;
    for (double x : v) s += x;
    return s;
  };
  const double h =
      (total(referenceLogProbs(*policy, samples[0], 1.0)) - total(referenceLogProbs(*reference, samples[0], 1.0))) -
      (total(referenceLogProbs(*policy, samples[1], 1.0)) - total(referenceLogProbs(*reference, samples[1], 1.0)));
  const double expected = std::log1p(std::exp(-0.1 * h));
  EXPECT_NEAR(objective.forward({0, 1}).loss_sum.item<double>(), expected, 1e-5);
  // A micro-batch without pairs adds no loss but still reaches the parameters.
  const ObjectiveOutput none = objective.forward({1});
  EXPECT_EQ(none.loss_sum.item<double>(), 0.0);
  EXPECT_TRUE(none.loss_sum.requires_grad());
}

}  // namespace
}  // namespace gramrl::rlhf
