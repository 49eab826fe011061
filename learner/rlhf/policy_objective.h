// The losses of the online algorithms on the training engine, as Objectives over an Experience
// (experience.h) on this rank:
//   PolicyObjective     the clipped surrogate of every policy-gradient algorithm (ppo, grpo, rloo,
//                       remax, reinforce_pp) with the KL in the loss, the entropy bonus and the loss
//                       aggregation (NOTE [GRPO], [Loss aggregation] in policy_loss.h);
//   ValueObjective      PPO's critic (NOTE [Value loss]);
//   OnlineDpoObjective  DPO, IPO or cDPO (NOTE [DPO losses]) on each prompt's best and worst sample
//                       by the reward (NOTE [Online DPO pairs] in advantages.h).
// The experience must outlive the objective's use of it (setExperience keeps a pointer).
//
// Threads: the learner thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "learner/dpo/dpo_loss.h"
#include "learner/engine/objective.h"
#include "learner/rlhf/advantages.h"
#include "learner/rlhf/experience.h"
#include "learner/rlhf/policy_loss.h"

namespace gramrl {
class Transformer;
}

namespace gramrl::rlhf {

struct PolicyLossSettings {
  double clip = 0.2;
  double kl_coef = 0.0;  // the KL term in the loss; 0 when the KL is in the reward
  KlEstimator kl_estimator = KlEstimator::kK3;
  LossAggregation aggregation = LossAggregation::kTokenMean;
  int64_t max_new_tokens = 1;  // sequence_sum_norm's constant
  double entropy_coef = 0.0;
  double temperature = 1.0;
  int64_t pad_id = 0;
};

class PolicyObjective : public Objective {
 public:
  // `reference` may be null when kl_coef is 0.
  PolicyObjective(std::shared_ptr<Transformer> policy, std::shared_ptr<Transformer> reference,
                  PolicyLossSettings settings);

  std::string name() const override { return "policy"; }
  int64_t size() const override;
  // Response tokens (token_mean) or responses (the sequence aggregations).
  double normaliser(const std::vector<int64_t>& indices) override;
  // Metrics: policy/clip_fraction, policy/ratio, policy/entropy (mean -log p of the taken tokens,
  // or the exact entropy with an entropy bonus), policy/kl_loss_term, policy/approx_kl (the k3
  // estimate of KL(behaviour || current), for PPO's early stop).
  ObjectiveOutput forward(const std::vector<int64_t>& indices) override;
  void setExperience(const Experience* experience) { experience_ = experience; }

 private:
  std::shared_ptr<Transformer> policy_;
  std::shared_ptr<Transformer> reference_;
  PolicyLossSettings settings_;
  const Experience* experience_ = nullptr;
};

class ValueObjective : public Objective {
 public:
  ValueObjective(std::shared_ptr<Transformer> critic, double value_clip, int64_t pad_id);

  std::string name() const override { return "value"; }
  int64_t size() const override;
  double normaliser(const std::vector<int64_t>& indices) override;  // response tokens
  // Metrics: value/clip_fraction, value/error (mean |V - R|).
  ObjectiveOutput forward(const std::vector<int64_t>& indices) override;
  void setExperience(const Experience* experience) { experience_ = experience; }

 private:
  std::shared_ptr<Transformer> critic_;
  double value_clip_;
  int64_t pad_id_;
  const Experience* experience_ = nullptr;
};

// The examples are the experience's prompt groups; a group without a pair adds no loss units.
class OnlineDpoObjective : public Objective {
 public:
  OnlineDpoObjective(std::shared_ptr<Transformer> policy, DpoLossOptions options, int64_t group_size, int64_t pad_id);

  std::string name() const override { return "online_dpo"; }
  int64_t size() const override { return static_cast<int64_t>(pairs_.size()); }
  double normaliser(const std::vector<int64_t>& indices) override;  // groups with a pair
  // Metrics: rewards/accuracy, rewards/margin, online_dpo/pairs (the share of groups with one).
  ObjectiveOutput forward(const std::vector<int64_t>& indices) override;
  // Picks each group's pair from the experience's scores (selectPairs).
  void setExperience(const Experience* experience);
  const std::vector<std::optional<ResponsePair>>& pairs() const { return pairs_; }

 private:
  std::shared_ptr<Transformer> policy_;
  DpoLossOptions options_;
  int64_t group_size_;
  int64_t pad_id_;
  const Experience* experience_ = nullptr;
  std::vector<std::optional<ResponsePair>> pairs_;
};

}  // namespace gramrl::rlhf
