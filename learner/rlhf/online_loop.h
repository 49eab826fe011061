// The online learner loop of `gramrl rlhf` (NOTE [Online loop]): one learner rank's main loop
// for the algorithms that learn from the policy's own samples (GRPO today).
//
// NOTE [Online loop]
// Each step s (the policy is at version s):
//   1. rank 0 waits until the actors have handed in every prompt of step s (NOTE [Prompt leases])
//      and broadcasts the step's trajectories to every rank (one coalesced broadcast);
//   2. each rank makes experience for its contiguous share of the prompts (reference log-probs,
//      KL, advantages: grpo_objective.h);
//   3. one update of the policy module (update_step.h), data parallel over the ranks;
//   4. rank 0 publishes version s + 1 to the actors (NOTE [Weight sync]);
//   5. metrics; every learner.checkpoint.every_steps, a checkpoint holding the policy, the
//      optimiser state, the step (the prompt stream's position) and the ledger's counts.
// A run started where checkpoints exist resumes from the newest; prompts in flight when it
// stopped are leased again. At the end rank 0 writes <run>/summary.json.
//
// Threads: the calling thread. Throws CollectiveError, ConfigError, DataError, Timeout.
#pragma once

#include <string>

#include <c10/core/Device.h>

#include "learner/engine/update_step.h"
#include "learner/rlhf/grpo_objective.h"

namespace gramrl {

struct ExperimentConfig;
struct LearnerOptions;
class Collective;

// The policy module's optimiser, schedule, clipping and freeze list from learner.*.
TrainedModuleOptions policyModuleOptions(const LearnerOptions& learner);
// GRPO's settings from learner.grpo.* and rollout.* (group size, sampling temperature).
rlhf::GrpoSettings grpoSettings(const ExperimentConfig& config, int64_t pad_id);

// `rendezvous` is the store's host:port (rank 0 registers its endpoints there).
int runOnlineLearner(const ExperimentConfig& config, Collective& collective, at::Device device,
                     const std::string& rendezvous);

}  // namespace gramrl
