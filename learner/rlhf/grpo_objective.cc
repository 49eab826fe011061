#include "learner/rlhf/grpo_objective.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/sequence_batch.h"
#include "common/model/transformer.h"
#include "common/tokenizer/chat_encoder.h"

namespace gramrl::rlhf {
namespace {

std::vector<tokenizer::PromptResponse> rowsOf(const std::vector<Trajectory>& samples,
                                              const std::vector<int64_t>& indices) {
  std::vector<tokenizer::PromptResponse> rows;
  rows.reserve(indices.size());
  for (int64_t i : indices) {
    const Trajectory& t = samples[static_cast<size_t>(i)];
    rows.push_back(tokenizer::PromptResponse{std::vector<int64_t>(t.prompt.begin(), t.prompt.end()),
                                             std::vector<int64_t>(t.response.begin(), t.response.end())});
  }
  return rows;
}

SequenceBatch batchOf(const std::vector<tokenizer::PromptResponse>& rows, int64_t pad_id, at::Device device) {
  std::vector<const tokenizer::PromptResponse*> ptrs;
  for (const auto& r : rows) ptrs.push_back(&r);
  return makeSequenceBatch(ptrs, pad_id, device);
}

// [B, T-1] log-probs of every next token under `model` at `temperature`, zero off the mask.
at::Tensor nextTokenLogProbs(const Transformer& model, const SequenceBatch& batch, double temperature) {
  at::Tensor hidden = model.forward(batch.input_ids, batch.attention_mask);
  const int64_t t = batch.input_ids.size(1);
  hidden = hidden.narrow(1, 0, t - 1);
  if (temperature > 0 && temperature != 1.0) hidden = hidden / temperature;
  return model.tokenLogProbs(hidden, batch.input_ids.narrow(1, 1, t - 1), batch.target_mask);
}

}  // namespace

GrpoObjective::GrpoObjective(std::shared_ptr<Transformer> policy, std::shared_ptr<Transformer> reference,
                             GrpoSettings settings)
    : policy_(std::move(policy)), reference_(std::move(reference)), settings_(settings) {
  GRAMRL_ASSERT(settings_.group_size >= 1);
  GRAMRL_ASSERT(reference_ != nullptr || settings_.kl_coef == 0.0, "a KL penalty needs a reference model");
}

std::vector<std::vector<float>> GrpoObjective::tokenLogProbs(const Transformer& model,
                                                             const std::vector<Trajectory>& samples) const {
  torch::NoGradGuard no_grad;
  std::vector<std::vector<float>> out(samples.size());
  const auto n = static_cast<int64_t>(samples.size());
  for (int64_t begin = 0; begin < n; begin += settings_.batch_rows) {
    std::vector<int64_t> idx;
    for (int64_t i = begin; i < std::min(n, begin + settings_.batch_rows); ++i) idx.push_back(i);
    const auto rows = rowsOf(samples, idx);
    const SequenceBatch batch = batchOf(rows, settings_.pad_id, model.device());
    const at::Tensor logp = nextTokenLogProbs(model, batch, settings_.temperature).to(torch::kCPU).contiguous();
    auto a = logp.accessor<float, 2>();
    for (size_t r = 0; r < idx.size(); ++r) {
      const Trajectory& t = samples[static_cast<size_t>(idx[r])];
      auto& v = out[static_cast<size_t>(idx[r])];
      v.resize(t.response.size());
      for (size_t j = 0; j < t.response.size(); ++j)
        v[j] = a[static_cast<int64_t>(r)][static_cast<int64_t>(t.prompt.size() + j) - 1];
    }
  }
  return out;
}

void GrpoObjective::setExperience(std::vector<Trajectory> samples, int64_t version) {
  GRAMRL_CHECK(samples.size() % static_cast<size_t>(settings_.group_size) == 0, ConfigError,
               "GRPO: {} samples are not whole groups of rollout.samples_per_prompt = {}", samples.size(),
               settings_.group_size);
  for (const auto& t : samples) {
    GRAMRL_CHECK(!t.prompt.empty(), DataError, "GRPO: prompt {} has no tokens", t.prompt_id);
  }
  samples_ = std::move(samples);
  version_ = version;
  const size_t n = samples_.size();
  ref_logp_ = reference_ ? tokenLogProbs(*reference_, samples_) : std::vector<std::vector<float>>(n);
  bool stale = false;
  for (const auto& t : samples_) stale = stale || t.policy_version != version;
  is_weight_.assign(n, {});
  if (stale) {
    old_logp_ = tokenLogProbs(*policy_, samples_);
    for (size_t i = 0; i < n; ++i) {
      is_weight_[i].resize(old_logp_[i].size());
      for (size_t j = 0; j < old_logp_[i].size(); ++j) {
        is_weight_[i][j] = static_cast<float>(
            std::min(std::exp(static_cast<double>(old_logp_[i][j]) - samples_[i].behaviour_logprobs[j]),
                     settings_.importance_cap));
      }
    }
  } else {
    old_logp_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      old_logp_[i] = samples_[i].behaviour_logprobs;
      is_weight_[i].assign(old_logp_[i].size(), 1.0f);
    }
  }
  shaped_rewards_.assign(n, 0.0);
  kl_per_sample_.assign(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    double kl = 0.0;
    if (reference_) {
      const auto len = static_cast<int64_t>(old_logp_[i].size());
      const at::Tensor old_t = torch::from_blob(old_logp_[i].data(), {len}, torch::kFloat).to(torch::kDouble);
      const at::Tensor ref_t = torch::from_blob(ref_logp_[i].data(), {len}, torch::kFloat).to(torch::kDouble);
      kl = len > 0 ? klEstimate(old_t, ref_t, settings_.kl_estimator).sum().item<double>() : 0.0;
    }
    kl_per_sample_[i] = kl;
    shaped_rewards_[i] = samples_[i].reward - (settings_.kl_in_reward ? settings_.kl_coef * kl : 0.0);
  }
  advantages_ = groupAdvantages(shaped_rewards_, settings_.group_size, settings_.scale_by_std);
}

double GrpoObjective::normaliser(const std::vector<int64_t>& indices) {
  double tokens = 0.0;
  for (int64_t i : indices) tokens += static_cast<double>(samples_[static_cast<size_t>(i)].response.size());
  return tokens;
}

at::Tensor GrpoObjective::scatterRows(const std::vector<int64_t>& indices,
                                      const std::vector<std::vector<float>>& values, int64_t width) const {
  at::Tensor out = torch::zeros({static_cast<int64_t>(indices.size()), width}, torch::kFloat);
  auto a = out.accessor<float, 2>();
  for (size_t r = 0; r < indices.size(); ++r) {
    const Trajectory& t = samples_[static_cast<size_t>(indices[r])];
    const auto& v = values[static_cast<size_t>(indices[r])];
    for (size_t j = 0; j < v.size(); ++j)
      a[static_cast<int64_t>(r)][static_cast<int64_t>(t.prompt.size() + j) - 1] = v[j];
  }
  return out.to(policy_->device());
}

ObjectiveOutput GrpoObjective::forward(const std::vector<int64_t>& indices) {
  const auto rows = rowsOf(samples_, indices);
  const SequenceBatch batch = batchOf(rows, settings_.pad_id, policy_->device());
  const at::Tensor logp = nextTokenLogProbs(*policy_, batch, settings_.temperature);
  const int64_t width = logp.size(1);
  const at::Tensor mask = batch.target_mask.to(torch::kFloat);
  const at::Tensor old = scatterRows(indices, old_logp_, width);
  const at::Tensor weight = scatterRows(indices, is_weight_, width);
  std::vector<std::vector<float>> adv(indices.size());
  for (size_t r = 0; r < indices.size(); ++r) {
    const auto i = static_cast<size_t>(indices[r]);
    adv[r].assign(samples_[i].response.size(), static_cast<float>(advantages_[i]));
  }
  at::Tensor advantages = torch::zeros({static_cast<int64_t>(indices.size()), width}, torch::kFloat);
  {
    auto a = advantages.accessor<float, 2>();
    for (size_t r = 0; r < indices.size(); ++r) {
      const Trajectory& t = samples_[static_cast<size_t>(indices[r])];
      for (size_t j = 0; j < adv[r].size(); ++j)
        a[static_cast<int64_t>(r)][static_cast<int64_t>(t.prompt.size() + j) - 1] = adv[r][j];
    }
  }
  advantages = advantages.to(policy_->device());

  const SurrogateLoss s = clippedSurrogate(logp, old, advantages, settings_.clip);
  at::Tensor token_loss = s.loss * weight;
  at::Tensor kl;
  if (reference_) {
    const at::Tensor ref = scatterRows(indices, ref_logp_, width);
    kl = klEstimate(logp, ref, settings_.kl_estimator);
    if (!settings_.kl_in_reward && settings_.kl_coef > 0) token_loss = token_loss + settings_.kl_coef * kl;
  }
  ObjectiveOutput out;
  out.loss_sum = (token_loss * mask).sum();
  out.tokens = batch.tokens;
  const double tokens = mask.sum().item<double>();
  out.metrics.push_back(MetricSum{"policy/clip_fraction", (s.clipped * mask).sum().item<double>(), tokens});
  out.metrics.push_back(MetricSum{"policy/ratio", (s.ratio * mask).sum().item<double>(), tokens});
  out.metrics.push_back(MetricSum{"policy/entropy", -(logp.detach() * mask).sum().item<double>(), tokens});
  out.metrics.push_back(
      MetricSum{"policy/kl_loss_term", kl.defined() ? (kl.detach() * mask).sum().item<double>() : 0.0, tokens});
  return out;
}

std::vector<MetricSum> GrpoObjective::experienceMetrics() const {
  MetricSum reward{"reward/mean"}, reward_sq{"reward/square"}, gold{"reward/gold"}, length{"rollout/response_length"},
      stale{"rollout/staleness"}, kl{"kl/per_token"}, shaped{"reward/shaped"}, stopped{"rollout/stopped_fraction"};
  for (size_t i = 0; i < samples_.size(); ++i) {
    const Trajectory& t = samples_[i];
    reward.sum += t.reward;
    reward_sq.sum += static_cast<double>(t.reward) * t.reward;
    if (std::isfinite(t.gold)) {
      gold.sum += t.gold;
      gold.count += 1;
    }
    length.sum += static_cast<double>(t.response.size());
    stale.sum += static_cast<double>(version_ - t.policy_version);
    kl.sum += kl_per_sample_[i];
    kl.count += static_cast<double>(t.response.size());
    shaped.sum += shaped_rewards_[i];
    stopped.sum += t.stopped ? 1.0 : 0.0;
  }
  const auto n = static_cast<double>(samples_.size());
  reward.count = reward_sq.count = length.count = stale.count = shaped.count = stopped.count = n;
  return {reward, reward_sq, gold, length, stale, kl, shaped, stopped};
}

}  // namespace gramrl::rlhf
