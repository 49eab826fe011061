// GRPO on the training engine: an Objective over one step's trajectories on this rank
// (NOTE [GRPO], [KL estimators] and [Stale samples] in policy_loss.h).
//
// setExperience() is the "make experience" phase: reference log-probs (no gradient), the
// proximal log-probs when samples are stale, the KL penalty when it is in the reward, and the
// group-normalised advantages. forward() is the loss of a micro-batch of those samples. The
// normaliser is the number of response tokens (every token weighs the same).
//
// Threads: the learner thread. Throws ConfigError for samples that are not whole groups.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "learner/engine/objective.h"
#include "learner/rlhf/policy_loss.h"
#include "rollout/trajectory.h"

namespace gramrl {
class Transformer;
}

namespace gramrl::rlhf {

struct GrpoSettings {
  double clip = 0.2;
  double kl_coef = 0.0;
  KlEstimator kl_estimator = KlEstimator::kK3;
  bool kl_in_reward = false;  // else in the loss
  bool scale_by_std = true;
  double importance_cap = 2.0;
  int64_t group_size = 1;    // samples per prompt
  double temperature = 1.0;  // the sampling temperature (0 counts as 1), NOTE [Which log-prob]
  int64_t batch_rows = 8;    // rows per no-grad forward in setExperience
  int64_t pad_id = 0;
};

class GrpoObjective : public Objective {
 public:
  // `reference` may be null when kl_coef is 0.
  GrpoObjective(std::shared_ptr<Transformer> policy, std::shared_ptr<Transformer> reference, GrpoSettings settings);

  std::string name() const override { return "grpo"; }
  int64_t size() const override { return static_cast<int64_t>(samples_.size()); }
  double normaliser(const std::vector<int64_t>& indices) override;
  ObjectiveOutput forward(const std::vector<int64_t>& indices) override;

  // This rank's samples for the next update, whole groups of group_size consecutive samples
  // (one prompt each), made at learner version `version`.
  void setExperience(std::vector<Trajectory> samples, int64_t version);
  // Sums and counts over this rank's samples: reward, its square, gold, length, staleness, KL to
  // the reference (per token), the KL-shaped reward.
  std::vector<MetricSum> experienceMetrics() const;
  const std::vector<double>& advantages() const { return advantages_; }

  // Per-token log-probs of each sample's response under `model` (no gradient), in micro-batches.
  std::vector<std::vector<float>> tokenLogProbs(const Transformer& model, const std::vector<Trajectory>& samples) const;

 private:
  // [B, T-1] tensor with row i's response values at the positions that predict them.
  at::Tensor scatterRows(const std::vector<int64_t>& indices, const std::vector<std::vector<float>>& values,
                         int64_t width) const;

  std::shared_ptr<Transformer> policy_;
  std::shared_ptr<Transformer> reference_;
  GrpoSettings settings_;
  std::vector<Trajectory> samples_;
  std::vector<std::vector<float>> ref_logp_;
  std::vector<std::vector<float>> old_logp_;
  std::vector<std::vector<float>> is_weight_;
  std::vector<double> shaped_rewards_;
  std::vector<double> advantages_;
  std::vector<double> kl_per_sample_;
  int64_t version_ = 0;
};

}  // namespace gramrl::rlhf
