// The policy-gradient pieces of the online algorithms, as pure functions (checked against hand
// computation in tests/learner/policy_loss_test.cc).
//
// NOTE [GRPO]
// Every critic-free algorithm (grpo, rloo, remax, reinforce_pp) and PPO share one policy loss;
// they differ in their advantages (NOTE [Advantage estimators] in advantages.h). For GRPO the
// advantage of sample i of a prompt is (r_i - mean(r)) / (std(r) + eps), and every token of the
// response gets it. The per-token loss is the clipped surrogate
//     -min(ratio * A, clip(ratio, 1 - clip, 1 + clip) * A),   ratio = exp(logp - logp_old)
// times the truncated importance weight of stale samples (below), plus kl_coef times the KL
// estimate to the reference policy when the KL is "in the loss", minus entropy_coef times the
// entropy of the next-token distribution when an entropy bonus is set. The per-token losses of
// the global batch become one number as NOTE [Loss aggregation] says (by default the sum over
// every response token divided by their number: each token weighs the same).
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

// NOTE [Value loss]
// PPO's critic regresses the returns R_t of the experience (advantages.h) with the clipped loss
// of OpenAI's baselines and OpenRLHF: 0.5 * max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2),
// so one update cannot move a value more than c from the value the advantages were computed
// with; c = 0 gives the plain 0.5 (V - R)^2.
struct ValueLoss {
  at::Tensor loss;     // per token, differentiable in values
  at::Tensor clipped;  // per token, float 0/1: the clipped branch was the larger (its gradient is 0)
};
ValueLoss clippedValueLoss(const at::Tensor& values, const at::Tensor& old_values, const at::Tensor& returns,
                           double clip);

// Entropy of the next-token distribution at each position: logits [..., V] -> [...] float32,
// -sum p log p, differentiable.
at::Tensor entropyFromLogits(const at::Tensor& logits);

// NOTE [Loss aggregation]
// How the per-token losses of a batch become one number (learner.grpo.loss_aggregation):
//   token_mean         sum over every response token / their number: each token weighs the same
//                      (DAPO, and OpenRLHF's default);
//   sequence_mean      the mean over tokens of each response, then the mean over responses
//                      (the GRPO paper): each response weighs the same, so a token of a long
//                      response weighs less;
//   sequence_sum_norm  the sum over tokens of each response divided by max_new_tokens, then the
//                      mean over responses (Dr. GRPO): no length bias, a constant scale.
// All three are a sum of per-unit losses over a global count (NOTE [Loss normalisation]): tokens
// for the first, responses for the others.
enum class LossAggregation { kTokenMean, kSequenceMean, kSequenceSumNorm };
// "token_mean" | "sequence_mean" | "sequence_sum_norm"; ConfigError otherwise.
LossAggregation parseLossAggregation(const std::string& name);
// The loss units of one micro-batch under `aggregation`, from its per-token loss [B, T] and
// float mask [B, T]: the sum of (per-token loss weighted as above) and the number of units.
at::Tensor aggregateLoss(const at::Tensor& token_loss, const at::Tensor& mask, LossAggregation aggregation,
                         int64_t max_new_tokens);

}  // namespace gramrl::rlhf
