#include "learner/rlhf/experience.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "common/collectives/collective.h"
#include "common/core/errors.h"
#include "common/model/transformer.h"
#include "common/tokenizer/chat_encoder.h"
#include "learner/rlhf/advantages.h"

namespace gramrl::rlhf {
namespace {

constexpr struct {
  Algorithm algorithm;
  const char* name;
} kAlgorithms[] = {{Algorithm::kPpo, "ppo"},
                   {Algorithm::kGrpo, "grpo"},
                   {Algorithm::kRloo, "rloo"},
                   {Algorithm::kRemax, "remax"},
                   {Algorithm::kReinforcePp, "reinforce_pp"},
                   {Algorithm::kOnlineDpo, "online_dpo"}};

// Runs `fn(indices)` over [0, n) in chunks of `rows`.
template <class Fn>
void inChunks(int64_t n, int64_t rows, Fn&& fn) {
  for (int64_t begin = 0; begin < n; begin += rows) {
    std::vector<int64_t> idx;
    for (int64_t i = begin; i < std::min(n, begin + rows); ++i) idx.push_back(i);
    fn(idx);
  }
}

// Row r's values at the response positions of [B, W] `t` (float, CPU).
void gatherResponse(const at::Tensor& t, const std::vector<Trajectory>& samples, const std::vector<int64_t>& idx,
                    std::vector<std::vector<float>>& out) {
  const at::Tensor cpu = t.to(torch::kCPU).to(torch::kFloat).contiguous();
  auto a = cpu.accessor<float, 2>();
  for (size_t r = 0; r < idx.size(); ++r) {
    const Trajectory& s = samples[static_cast<size_t>(idx[r])];
    auto& v = out[static_cast<size_t>(idx[r])];
    v.resize(s.response.size());
    for (size_t j = 0; j < s.response.size(); ++j)
      v[j] = a[static_cast<int64_t>(r)][static_cast<int64_t>(s.prompt.size() + j) - 1];
  }
}

}  // namespace

Algorithm parseOnlineAlgorithm(const std::string& name) {
  for (const auto& a : kAlgorithms) {
    if (name == a.name) return a.algorithm;
  }
  GRAMRL_CHECK(false, ConfigError,
               "learner.algorithm: gramrl rlhf trains online with ppo, grpo, rloo, remax, reinforce_pp or online_dpo, "
               "got '{}' (offline algorithms run with gramrl train / gramrl gram)",
               name);
  return Algorithm::kGrpo;
}

std::string algorithmName(Algorithm algorithm) {
  for (const auto& a : kAlgorithms) {
    if (algorithm == a.algorithm) return a.name;
  }
  return "?";
}

std::vector<int64_t> localSampleIndices(int64_t prompts, int64_t group_size, int64_t mini_batches, int rank,
                                        int world) {
  GRAMRL_ASSERT(prompts % (mini_batches * world) == 0, "{} prompts are not {} mini-batches x {} ranks", prompts,
                mini_batches, world);
  const int64_t per_mini = prompts / mini_batches;
  const int64_t share = per_mini / world;
  std::vector<int64_t> out;
  for (int64_t m = 0; m < mini_batches; ++m) {
    const int64_t first = m * per_mini + rank * share;
    for (int64_t p = first; p < first + share; ++p) {
      for (int64_t k = 0; k < group_size; ++k) out.push_back(p * group_size + k);
    }
  }
  return out;
}

SequenceBatch sampleBatch(const std::vector<Trajectory>& samples, const std::vector<int64_t>& indices, int64_t pad_id,
                          at::Device device) {
  std::vector<tokenizer::PromptResponse> rows;
  rows.reserve(indices.size());
  for (int64_t i : indices) {
    const Trajectory& t = samples[static_cast<size_t>(i)];
    rows.push_back(tokenizer::PromptResponse{std::vector<int64_t>(t.prompt.begin(), t.prompt.end()),
                                             std::vector<int64_t>(t.response.begin(), t.response.end())});
  }
  std::vector<const tokenizer::PromptResponse*> ptrs;
  for (const auto& r : rows) ptrs.push_back(&r);
  return makeSequenceBatch(ptrs, pad_id, device);
}

at::Tensor scatterResponse(const std::vector<Trajectory>& samples, const std::vector<int64_t>& indices,
                           const std::vector<std::vector<float>>& values, int64_t width, at::Device device) {
  at::Tensor out = torch::zeros({static_cast<int64_t>(indices.size()), width}, torch::kFloat);
  auto a = out.accessor<float, 2>();
  for (size_t r = 0; r < indices.size(); ++r) {
    const Trajectory& t = samples[static_cast<size_t>(indices[r])];
    const auto& v = values[static_cast<size_t>(indices[r])];
    for (size_t j = 0; j < v.size(); ++j)
      a[static_cast<int64_t>(r)][static_cast<int64_t>(t.prompt.size() + j) - 1] = v[j];
  }
  return out.to(device);
}

at::Tensor nextTokenLogProbs(const Transformer& model, const SequenceBatch& batch, double temperature,
                             at::Tensor* hidden_out) {
  at::Tensor hidden = model.forward(batch.input_ids, batch.attention_mask);
  const int64_t t = batch.input_ids.size(1);
  hidden = hidden.narrow(1, 0, t - 1);
  if (temperature > 0 && temperature != 1.0) hidden = hidden / temperature;
  if (hidden_out != nullptr) *hidden_out = hidden;
  return model.tokenLogProbs(hidden, batch.input_ids.narrow(1, 1, t - 1), batch.target_mask);
}

ExperienceMaker::ExperienceMaker(std::shared_ptr<Transformer> policy, std::shared_ptr<Transformer> reference,
                                 std::shared_ptr<Transformer> critic, ExperienceSettings settings)
    : policy_(std::move(policy)), reference_(std::move(reference)), critic_(std::move(critic)), settings_(settings) {
  GRAMRL_ASSERT(settings_.group_size >= 1);
  GRAMRL_ASSERT(settings_.algorithm != Algorithm::kPpo || critic_ != nullptr, "ppo needs a critic");
  GRAMRL_ASSERT(settings_.algorithm != Algorithm::kOnlineDpo || reference_ != nullptr, "online DPO needs a reference");
}

std::vector<std::vector<float>> ExperienceMaker::tokenLogProbs(const Transformer& model,
                                                               const std::vector<Trajectory>& samples) const {
  torch::NoGradGuard no_grad;
  std::vector<std::vector<float>> out(samples.size());
  inChunks(static_cast<int64_t>(samples.size()), settings_.batch_rows, [&](const std::vector<int64_t>& idx) {
    const SequenceBatch batch = sampleBatch(samples, idx, settings_.pad_id, model.device());
    gatherResponse(nextTokenLogProbs(model, batch, settings_.temperature), samples, idx, out);
  });
  return out;
}

std::vector<std::vector<float>> ExperienceMaker::tokenValues(const Transformer& critic,
                                                             const std::vector<Trajectory>& samples) const {
  torch::NoGradGuard no_grad;
  std::vector<std::vector<float>> out(samples.size());
  inChunks(static_cast<int64_t>(samples.size()), settings_.batch_rows, [&](const std::vector<int64_t>& idx) {
    const SequenceBatch batch = sampleBatch(samples, idx, settings_.pad_id, critic.device());
    const at::Tensor hidden = critic.forward(batch.input_ids, batch.attention_mask);
    const int64_t t = batch.input_ids.size(1);
    gatherResponse(critic.values(hidden.narrow(1, 0, t - 1)), samples, idx, out);
  });
  return out;
}

Experience ExperienceMaker::make(std::vector<Trajectory> samples, std::vector<double> scores,
                                 std::vector<double> baselines, int64_t version, double kl_coef,
                                 Collective& collective) const {
  const ExperienceSettings& s = settings_;
  GRAMRL_CHECK(samples.size() % static_cast<size_t>(s.group_size) == 0, ConfigError,
               "{}: {} samples are not whole groups of rollout.samples_per_prompt = {}", algorithmName(s.algorithm),
               samples.size(), s.group_size);
  GRAMRL_ASSERT(scores.size() == samples.size(), "{} scores for {} samples", scores.size(), samples.size());
  for (const auto& t : samples) {
    GRAMRL_CHECK(!t.prompt.empty(), DataError, "{}: prompt {} has no tokens", algorithmName(s.algorithm), t.prompt_id);
  }
  Experience e;
  e.samples = std::move(samples);
  e.scores = std::move(scores);
  e.version = version;
  const size_t n = e.samples.size();

  e.ref_logp = reference_ ? tokenLogProbs(*reference_, e.samples) : std::vector<std::vector<float>>(n);
  bool stale = false;
  for (const auto& t : e.samples) stale = stale || t.policy_version != version;
  e.is_weight.assign(n, {});
  if (stale) {
    e.old_logp = tokenLogProbs(*policy_, e.samples);
    for (size_t i = 0; i < n; ++i) {
      e.is_weight[i].resize(e.old_logp[i].size());
      for (size_t j = 0; j < e.old_logp[i].size(); ++j) {
        e.is_weight[i][j] = static_cast<float>(std::min(
            std::exp(static_cast<double>(e.old_logp[i][j]) - e.samples[i].behaviour_logprobs[j]), s.importance_cap));
      }
    }
  } else {
    e.old_logp.resize(n);
    for (size_t i = 0; i < n; ++i) {
      e.old_logp[i] = e.samples[i].behaviour_logprobs;
      e.is_weight[i].assign(e.old_logp[i].size(), 1.0f);
    }
  }

  // Per-token KL estimates of the proximal policy against the reference (float64, then rounded).
  std::vector<std::vector<float>> token_kl(n);
  e.kl.assign(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    const auto len = static_cast<int64_t>(e.old_logp[i].size());
    token_kl[i].assign(static_cast<size_t>(len), 0.0f);
    if (!reference_ || len == 0) continue;
    const at::Tensor old_t = torch::from_blob(e.old_logp[i].data(), {len}, torch::kFloat).to(torch::kDouble);
    const at::Tensor ref_t = torch::from_blob(e.ref_logp[i].data(), {len}, torch::kFloat).to(torch::kDouble);
    const at::Tensor k = klEstimate(old_t, ref_t, s.kl_estimator).contiguous();
    e.kl[i] = k.sum().item<double>();
    auto a = k.accessor<double, 1>();
    for (int64_t j = 0; j < len; ++j) token_kl[i][static_cast<size_t>(j)] = static_cast<float>(a[j]);
  }

  e.rewards.assign(n, 0.0);
  e.advantages.assign(n, {});
  auto broadcastToTokens = [&](const std::vector<double>& per_sample) {
    for (size_t i = 0; i < n; ++i)
      e.advantages[i].assign(e.samples[i].response.size(), static_cast<float>(per_sample[i]));
  };
  switch (s.algorithm) {
    case Algorithm::kGrpo:
    case Algorithm::kRloo:
    case Algorithm::kRemax: {
      for (size_t i = 0; i < n; ++i) e.rewards[i] = e.scores[i] - (s.kl_in_reward ? kl_coef * e.kl[i] : 0.0);
      if (s.algorithm == Algorithm::kGrpo) {
        broadcastToTokens(groupAdvantages(e.rewards, s.group_size, s.scale_by_std));
      } else if (s.algorithm == Algorithm::kRloo) {
        broadcastToTokens(leaveOneOutAdvantages(e.rewards, s.group_size));
      } else {
        GRAMRL_CHECK(baselines.size() == n, ProtocolError,
                     "remax: the actors sent {} greedy baselines for {} samples (run every process of one gramrl "
                     "version with learner.algorithm: remax)",
                     baselines.size(), n);
        broadcastToTokens(baselineAdvantages(e.rewards, baselines));
      }
      break;
    }
    case Algorithm::kReinforcePp:
    case Algorithm::kPpo: {
      std::vector<std::vector<float>> values;
      if (s.algorithm == Algorithm::kPpo) {
        values = tokenValues(*critic_, e.samples);
        e.old_values = values;
        e.returns.assign(n, {});
      }
      for (size_t i = 0; i < n; ++i) {
        e.rewards[i] = e.scores[i] - kl_coef * e.kl[i];
        const std::vector<float> r = tokenRewards(e.scores[i], token_kl[i], kl_coef);
        if (s.algorithm == Algorithm::kPpo) {
          Gae g = generalizedAdvantages(r, values[i], s.gamma, s.lambda);
          e.advantages[i] = std::move(g.advantages);
          e.returns[i] = std::move(g.returns);
        } else {
          e.advantages[i] = discountedReturns(r, s.gamma);
        }
      }
      if (s.algorithm == Algorithm::kReinforcePp || s.whiten) {
        const Moments local = momentsOf(e.advantages);
        const auto sums = collective.allreduceSum(std::vector<double>{local.sum, local.sum_sq, local.count});
        whiten(e.advantages, Moments{sums[0], sums[1], sums[2]});
      }
      break;
    }
    case Algorithm::kOnlineDpo:
      e.rewards = e.scores;
      broadcastToTokens(std::vector<double>(n, 0.0));
      break;
  }
  return e;
}

std::vector<MetricSum> ExperienceMaker::metrics(const Experience& e) const {
  MetricSum reward{"reward/mean"}, reward_sq{"reward/square"}, gold{"reward/gold"}, length{"rollout/response_length"},
      stale{"rollout/staleness"}, kl{"kl/per_token"}, shaped{"reward/shaped"}, stopped{"rollout/stopped_fraction"},
      advantage{"advantage/mean_abs"};
  for (size_t i = 0; i < e.samples.size(); ++i) {
    const Trajectory& t = e.samples[i];
    reward.sum += t.reward;
    reward_sq.sum += static_cast<double>(t.reward) * t.reward;
    if (std::isfinite(t.gold)) {
      gold.sum += t.gold;
      gold.count += 1;
    }
    length.sum += static_cast<double>(t.response.size());
    stale.sum += static_cast<double>(e.version - t.policy_version);
    kl.sum += e.kl[i];
    kl.count += static_cast<double>(t.response.size());
    shaped.sum += e.rewards[i];
    stopped.sum += t.stopped ? 1.0 : 0.0;
    for (float a : e.advantages[i]) advantage.sum += std::abs(static_cast<double>(a));
    advantage.count += static_cast<double>(e.advantages[i].size());
  }
  const auto n = static_cast<double>(e.samples.size());
  reward.count = reward_sq.count = length.count = stale.count = shaped.count = stopped.count = n;
  std::vector<MetricSum> out{reward, reward_sq, gold, length, stale, kl, shaped, stopped, advantage};
  if (settings_.algorithm == Algorithm::kPpo) {
    MetricSum value{"value/mean"}, ret{"value/return_mean"};
    for (size_t i = 0; i < e.samples.size(); ++i) {
      for (float v : e.old_values[i]) value.sum += v;
      for (float r : e.returns[i]) ret.sum += r;
      value.count += static_cast<double>(e.old_values[i].size());
      ret.count += static_cast<double>(e.returns[i].size());
    }
    out.push_back(value);
    out.push_back(ret);
  }
  return out;
}

}  // namespace gramrl::rlhf
