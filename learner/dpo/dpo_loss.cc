#include "learner/dpo/dpo_loss.h"

#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl {

bool dpoAveragesLogProbs(const std::string& loss) { return loss == "ipo"; }

DpoLossOutput dpoLoss(const at::Tensor& policy_chosen, const at::Tensor& policy_rejected,
                      const at::Tensor& reference_chosen, const at::Tensor& reference_rejected,
                      const DpoLossOptions& options) {
  const at::Tensor chosen_ratio = policy_chosen - reference_chosen;
  const at::Tensor rejected_ratio = policy_rejected - reference_rejected;
  const at::Tensor h = chosen_ratio - rejected_ratio;
  DpoLossOutput out;
  if (options.loss == "sigmoid") {
    const double e = options.label_smoothing;
    out.losses = -(1.0 - e) * torch::log_sigmoid(options.beta * h) - e * torch::log_sigmoid(-options.beta * h);
  } else if (options.loss == "ipo") {
    out.losses = (h - 1.0 / (2.0 * options.beta)).pow(2);
  } else {
    GRAMRL_CHECK(false, ConfigError, "learner.dpo.loss: expected sigmoid or ipo, got '{}'", options.loss);
  }
  out.chosen_rewards = (options.beta * chosen_ratio).detach();
  out.rejected_rewards = (options.beta * rejected_ratio).detach();
  return out;
}

}  // namespace gramrl
