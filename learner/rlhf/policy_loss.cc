#include "learner/rlhf/policy_loss.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl::rlhf {

KlEstimator parseKlEstimator(const std::string& name) {
  if (name == "k1") return KlEstimator::kK1;
  if (name == "k2") return KlEstimator::kK2;
  GRAMRL_CHECK(name == "k3", ConfigError, "KL estimator: expected k1, k2 or k3, got '{}'", name);
  return KlEstimator::kK3;
}

at::Tensor klEstimate(const at::Tensor& logp, const at::Tensor& ref_logp, KlEstimator estimator) {
  const at::Tensor d = logp - ref_logp;
  switch (estimator) {
    case KlEstimator::kK1: return d;
    case KlEstimator::kK2: return 0.5 * d * d;
    case KlEstimator::kK3: return torch::exp(-d) - 1.0 + d;
  }
  GRAMRL_ASSERT(false, "unknown KL estimator");
  return d;
}

at::Tensor truncatedImportanceWeights(const at::Tensor& logp_old, const at::Tensor& logp_behaviour, double cap) {
  torch::NoGradGuard no_grad;
  return torch::clamp_max(torch::exp(logp_old - logp_behaviour), cap);
}

SurrogateLoss clippedSurrogate(const at::Tensor& logp, const at::Tensor& logp_old, const at::Tensor& advantages,
                               double clip) {
  SurrogateLoss out;
  const at::Tensor ratio = torch::exp(logp - logp_old);
  const at::Tensor unclipped = ratio * advantages;
  const at::Tensor clipped = torch::clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages;
  out.loss = -torch::min(unclipped, clipped);
  out.clipped = (clipped < unclipped).to(torch::kFloat);
  out.ratio = ratio.detach();
  return out;
}

ValueLoss clippedValueLoss(const at::Tensor& values, const at::Tensor& old_values, const at::Tensor& returns,
                           double clip) {
  ValueLoss out;
  const at::Tensor plain = (values - returns).pow(2);
  if (clip <= 0) {
    out.loss = 0.5 * plain;
    out.clipped = torch::zeros_like(plain);
    return out;
  }
  const at::Tensor clipped_values = old_values + torch::clamp(values - old_values, -clip, clip);
  const at::Tensor clipped = (clipped_values - returns).pow(2);
  out.loss = 0.5 * torch::max(plain, clipped);
  out.clipped = (clipped > plain).to(torch::kFloat);
  return out;
}

at::Tensor entropyFromLogits(const at::Tensor& logits) {
  const at::Tensor logp = torch::log_softmax(logits.to(torch::kFloat), -1);
  return -(logp.exp() * logp).sum(-1);
}

LossAggregation parseLossAggregation(const std::string& name) {
  if (name == "token_mean") return LossAggregation::kTokenMean;
  if (name == "sequence_mean") return LossAggregation::kSequenceMean;
  GRAMRL_CHECK(name == "sequence_sum_norm", ConfigError,
               "loss aggregation: expected token_mean, sequence_mean or sequence_sum_norm, got '{}'", name);
  return LossAggregation::kSequenceSumNorm;
}

at::Tensor aggregateLoss(const at::Tensor& token_loss, const at::Tensor& mask, LossAggregation aggregation,
                         int64_t max_new_tokens) {
  const at::Tensor masked = token_loss * mask;
  switch (aggregation) {
    case LossAggregation::kTokenMean: return masked.sum();
    case LossAggregation::kSequenceMean: {
      const at::Tensor lengths = mask.sum(1).clamp_min(1.0);
      return (masked.sum(1) / lengths).sum();
    }
    case LossAggregation::kSequenceSumNorm:
      return masked.sum() / static_cast<double>(std::max<int64_t>(1, max_new_tokens));
  }
  GRAMRL_ASSERT(false, "unknown loss aggregation");
  return masked.sum();
}

}  // namespace gramrl::rlhf
