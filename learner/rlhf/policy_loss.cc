#include "learner/rlhf/policy_loss.h"

#include <cmath>

#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl::rlhf {

std::vector<double> groupAdvantages(const std::vector<double>& rewards, int64_t group_size, bool scale_by_std,
                                    double eps) {
  GRAMRL_ASSERT(group_size >= 1 && rewards.size() % static_cast<size_t>(group_size) == 0,
                "rewards ({}) are not whole groups of {}", rewards.size(), group_size);
  std::vector<double> out(rewards.size(), 0.0);
  const auto n = static_cast<size_t>(group_size);
  for (size_t g = 0; g < rewards.size(); g += n) {
    if (n == 1) continue;
    double mean = 0.0;
    for (size_t i = 0; i < n; ++i) mean += rewards[g + i];
    mean /= static_cast<double>(n);
    double var = 0.0;
    for (size_t i = 0; i < n; ++i) var += (rewards[g + i] - mean) * (rewards[g + i] - mean);
    const double std = std::sqrt(var / static_cast<double>(n - 1));
    for (size_t i = 0; i < n; ++i) {
      const double centred = rewards[g + i] - mean;
      out[g + i] = scale_by_std ? centred / (std + eps) : centred;
    }
  }
  return out;
}

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

}  // namespace gramrl::rlhf
