// The DPO family of losses on sequence log-probabilities.
//
// NOTE [DPO losses]
// With policy and reference log-probs of the chosen (w) and rejected (l) responses,
//   h = (log pi(w) - log ref(w)) - (log pi(l) - log ref(l))
// the per-pair losses are
//   sigmoid (DPO, Rafailov et al. 2023):  -log sigmoid(beta h)
//   cDPO (label_smoothing e > 0):         -(1 - e) log sigmoid(beta h) - e log sigmoid(-beta h)
//                                         (the labels are assumed flipped with probability e)
//   ipo (Azar et al. 2023):               (h - 1 / (2 beta))^2, with log-probs averaged over the
//                                         response tokens (as TRL's "ipo" does), not summed
// and the implicit rewards are beta (log pi - log ref) of each response; "accuracy" is the share
// of pairs whose chosen reward exceeds the rejected one. Gradients (checked in tests against
// these hand-derived forms): dL/dh = -beta [(1 - e) sigmoid(-beta h) - e sigmoid(beta h)] for
// sigmoid/cDPO and 2 (h - 1/(2 beta)) for IPO.
//
// Threads: pure functions. Throws ConfigError for an unknown loss name.
#pragma once

#include <string>

#include <ATen/Tensor.h>

namespace gramrl {

struct DpoLossOptions {
  std::string loss = "sigmoid";  // sigmoid | ipo
  double beta = 0.1;
  double label_smoothing = 0.0;  // cDPO's e, in [0, 0.5)
};

struct DpoLossOutput {
  at::Tensor losses;            // [B] per-pair loss, with autograd through the policy log-probs
  at::Tensor chosen_rewards;    // [B] beta (log pi(w) - log ref(w)), detached
  at::Tensor rejected_rewards;  // [B] detached
};

// All inputs [B] float32: policy log-probs (with autograd) and reference log-probs (constants),
// already summed (sigmoid) or averaged (ipo) over each response's tokens.
DpoLossOutput dpoLoss(const at::Tensor& policy_chosen, const at::Tensor& policy_rejected,
                      const at::Tensor& reference_chosen, const at::Tensor& reference_rejected,
                      const DpoLossOptions& options);

// Whether `loss` averages log-probs over response tokens (ipo) instead of summing them.
bool dpoAveragesLogProbs(const std::string& loss);

}  // namespace gramrl
