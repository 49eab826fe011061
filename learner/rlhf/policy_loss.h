// The policy-gradient pieces of the online algorithms, as pure functions (checked against hand
// computation in tests/learner/policy_loss_test.cc).
//
// NOTE [GRPO]
// For the n samples of one prompt with rewards r_1..r_n, the advantage of sample i is
// (r_i - mean(r)) / (std(r) + eps), std with Bessel's correction (n - 1), as DeepSeekMath's GRPO
// and TRL compute it; every token of the response gets its sample's advantage. The per-token
// loss is the clipped surrogate
//     -min(ratio * A, clip(ratio, 1 - clip, 1 + clip) * A),   ratio = exp(logp - logp_old)
// times the truncated importance weight of stale samples (below), plus kl_coef times the KL
// estimate to the reference policy when the KL is "in the loss". The loss is summed over every
// response token of the global batch and divided by their number (NOTE [Loss normalisation]):
// each token weighs the same, whichever sequence it is in.
//
// NOTE [KL estimators]
// With log ratio d = logp - logp_ref at a token sampled from the policy (Schulman, "Approximating
// KL divergence"): k1 = d (unbiased, can be negative), k2 = d^2 / 2 (biased, low variance),
// k3 = exp(-d) - 1 + d (unbiased, always >= 0). "In the reward", the sequence's reward loses
// kl_coef * sum over its tokens of k(behaviour logp, reference logp) before advantages are
// computed, with no gradient; "in the loss", kl_coef * k(logp, logp_ref) is added to each token's
// loss and differentiated.
//
// NOTE [Stale samples]
// With rollout.max_staleness > 0 a sample may come from weights older than the learner's. The
// learner then recomputes logp_old with its current weights (the proximal policy of the clipped
// surrogate) and multiplies each token's loss by min(exp(logp_old - logp_behaviour), cap): a
// truncated importance weight that corrects for the behaviour policy without exploding. With
// max_staleness 0 every sample is on-policy, logp_old is the behaviour log-prob and the weight 1.
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/Tensor.h>

namespace gramrl::rlhf {

// Advantages of `rewards`, grouped into consecutive groups of `group_size` (NOTE [GRPO]).
// scale_by_std false gives r_i - mean(r) (the unbiased "Dr. GRPO" variant). A group of one has
// advantage 0. Throws InternalError when the size is not a multiple of group_size.
std::vector<double> groupAdvantages(const std::vector<double>& rewards, int64_t group_size, bool scale_by_std = true,
                                    double eps = 1e-6);

enum class KlEstimator { kK1, kK2, kK3 };
// "k1" | "k2" | "k3"; throws ConfigError otherwise.
KlEstimator parseKlEstimator(const std::string& name);

// Per-token KL estimate of policy vs reference from log-probs of the sampled tokens (NOTE [KL
// estimators]). Same-shaped float tensors; differentiable in logp.
at::Tensor klEstimate(const at::Tensor& logp, const at::Tensor& ref_logp, KlEstimator estimator);

// min(exp(logp_old - logp_behaviour), cap), no gradient (NOTE [Stale samples]).
at::Tensor truncatedImportanceWeights(const at::Tensor& logp_old, const at::Tensor& logp_behaviour, double cap);

struct SurrogateLoss {
  at::Tensor loss;     // per token: -min(ratio * A, clip(ratio) * A), differentiable in logp
  at::Tensor clipped;  // per token, float 0/1: the clipped branch was taken (its gradient is 0)
  at::Tensor ratio;    // per token, detached
};

// The clipped surrogate per token (NOTE [GRPO]); `advantages` broadcasts against logp.
SurrogateLoss clippedSurrogate(const at::Tensor& logp, const at::Tensor& logp_old, const at::Tensor& advantages,
                               double clip);

}  // namespace gramrl::rlhf
