// One learner rank's half of an online RLHF step, whatever learner.algorithm is: reward shaping,
// making experience, and the updates of the policy (and of PPO's critic). The online loop
// (online_loop.h) and the in-process reference loop of tests/integration/rlhf_reference_test.cc
// both drive it, so the pipeline and the reference cannot drift apart.
//
// NOTE [Updates of one step]
//   ppo           learner.ppo.epochs passes over the step's samples, each in learner.ppo.mini_batches
//                 mini-batches (NOTE [Which samples a rank trains on]); each mini-batch is one
//                 update of the policy and then one of the critic. Once the policy update's mean
//                 approximate KL to the sampling policy passes ppo.early_stop_kl (when set), the
//                 step's remaining updates are skipped; every rank sees the same all-reduced value,
//                 so they stop together. The adaptive KL coefficient moves after the step.
//   online_dpo    one update over the prompts that have a pair; a step where no prompt has one
//                 (every sample scored the same) leaves the policy as it is.
//   the others    one update of the policy over the step's samples.
// The learning rate follows the step, not the number of updates.
//
// Threads: the learner thread. Throws ConfigError (settings that cannot work together),
// ProtocolError (ReMax samples without a greedy baseline), and what the updates throw.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "learner/engine/update_step.h"
#include "learner/rlhf/advantages.h"
#include "learner/rlhf/experience.h"
#include "learner/rlhf/policy_objective.h"

namespace gramrl {

struct ExperimentConfig;
struct LearnerOptions;
class Collective;

// The policy module's optimiser, schedule, clipping and freeze list from learner.*.
TrainedModuleOptions policyModuleOptions(const LearnerOptions& learner);

namespace rlhf {

// The critic's optimiser state in a checkpoint directory (beside the policy's optimizer.pt).
inline constexpr char kCriticOptimizerFile[] = "critic_optimizer.pt";

// From learner.* and rollout.* for learner.algorithm.
ExperienceSettings experienceSettings(const ExperimentConfig& config, int64_t pad_id);
PolicyLossSettings policyLossSettings(const ExperimentConfig& config, int64_t pad_id);

struct StepReport {
  std::vector<MetricSum> experience;  // this rank's sums (ExperienceMaker::metrics)
  UpdateResult policy;                // the last policy update (loss, lr, grad norm, tokens: summed over updates)
  std::vector<std::pair<std::string, double>> metrics;  // policy and critic metrics, mean over the step's updates
  int64_t updates = 0;                                  // policy updates done (0: a DPO step without pairs)
  bool stopped_early = false;
  double kl_coef = 0.0;  // the coefficient this step used
  double experience_s = 0.0;
  double policy_update_s = 0.0;
  double critic_update_s = 0.0;
};

class OnlineAlgorithm {
 public:
  // Loads the reference and the critic the algorithm needs (from the config) on `device`.
  // `rank` of `world_size` learner ranks: the trained modules shard their optimisers over them
  // with learner.zero_stage 1 (NOTE [ZeRO-1 optimizer sharding] in learner/engine/update_step.h),
  // and with zero_stage 3 the policy, the critic and the reference's layers over `collective`
  // (required then; NOTE [ZeRO-3 parameter sharding] in learner/engine/zero3.h).
  OnlineAlgorithm(const ExperimentConfig& config, std::shared_ptr<Transformer> policy, int64_t pad_id,
                  at::Device device, int rank = 0, int world_size = 1, Collective* collective = nullptr);
  ~OnlineAlgorithm();
  OnlineAlgorithm(const OnlineAlgorithm&) = delete;
  OnlineAlgorithm& operator=(const OnlineAlgorithm&) = delete;

  Algorithm algorithm() const { return settings_.algorithm; }
  TrainedModule& policyModule() { return *policy_module_; }
  TrainedModule* criticModule() { return critic_module_.get(); }

  // One step over the step's samples (every rank passes all of them, in prompt order, whole
  // groups); `step` is the number of updates so far (the policy's version).
  StepReport step(const std::vector<Trajectory>& samples, int64_t step, Collective& collective);

  // The critic, its optimiser and the shaping and KL state, into / from a checkpoint directory
  // (the policy and its optimiser are the loop's). load() throws DataError for a checkpoint
  // that lacks what this algorithm needs, ConfigError for one written by another number of
  // ranks or zero_stage. save() runs on rank 0; with a sharded critic the other ranks have put
  // their optimizer shards in `shard_side_dir` first (NOTE [ZeRO-1 checkpoints]), and every rank
  // has called gatherForSave() just before (a collective with ZeRO-3, which saves its result).
  void gatherForSave();
  void save(const std::string& dir, const std::string& shard_side_dir = "");
  void load(const std::string& dir);

 private:
  int64_t prompts_per_step_;
  int64_t mini_batches_;
  int64_t micro_batch_size_;
  int64_t epochs_;
  double early_stop_kl_;
  ShapingSettings shaping_;
  RunningMoments moments_;
  KlController kl_;
  ExperienceSettings settings_;
  std::shared_ptr<Transformer> policy_;
  std::shared_ptr<Transformer> reference_;
  std::shared_ptr<Transformer> critic_;
  std::unique_ptr<TrainedModule> policy_module_;
  std::unique_ptr<TrainedModule> critic_module_;
  std::vector<std::pair<std::string, at::Tensor>> critic_weights_;  // gatherForSave() to save()
  std::unique_ptr<ExperienceMaker> maker_;
  std::unique_ptr<PolicyObjective> policy_objective_;
  std::unique_ptr<ValueObjective> value_objective_;
  std::unique_ptr<OnlineDpoObjective> dpo_objective_;
  Experience experience_;
};

}  // namespace rlhf
}  // namespace gramrl
