// The online learner loop of `gramrl rlhf` (NOTE [Online loop]): one learner rank's main loop
// for the algorithms that learn from the policy's own samples (online_algorithm.h: ppo, grpo,
// rloo, remax, reinforce_pp, online_dpo).
//
// NOTE [Online loop]
// Each step s (the policy is at version s):
//   1. rank 0 waits until the actors have handed in every prompt of step s (NOTE [Prompt leases])
//      and broadcasts the step's trajectories to every rank (one coalesced broadcast);
//   2. each rank shapes the rewards and makes experience for its share of the prompts (reference
//      log-probs, KL, values, advantages: experience.h);
//   3. the step's updates of the policy (and PPO's critic), data parallel over the ranks (NOTE
//      [Updates of one step] in online_algorithm.h);
//   4. rank 0 publishes version s + 1 to the actors (NOTE [Weight sync]);
//   5. metrics; every learner.checkpoint.every_steps, a checkpoint holding the policy, the
//      optimiser state, the step (the prompt stream's position), the ledger's counts, and the
//      algorithm's state (PPO's critic and its optimiser, the KL coefficient, the running reward
//      moments).
// A run started where checkpoints exist resumes from the newest; prompts in flight when it
// stopped are leased again. At the end rank 0 writes <run>/summary.json.
//
// Threads: the calling thread. Throws CollectiveError, ConfigError, DataError, Timeout.
#pragma once

#include <string>

#include <c10/core/Device.h>

#include "learner/rlhf/online_algorithm.h"

namespace gramrl {

struct ExperimentConfig;
class Collective;

// `rendezvous` is the store's host:port (rank 0 registers its endpoints there).
int runOnlineLearner(const ExperimentConfig& config, Collective& collective, at::Device device,
                     const std::string& rendezvous);

}  // namespace gramrl
