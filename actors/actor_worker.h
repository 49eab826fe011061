// One rollout actor process (`gramrl worker actor`): the main loop of NOTE [Actor loop].
//
// NOTE [Actor loop]
// Repeat until the learner says the run is finished:
//   1. ask learner rank 0 for up to rollout.batch_size prompt leases (the grant names the newest
//      weights version); with none to give, wait the time the grant says and ask again;
//   2. if the learner has newer weights, fetch them (weight_receiver.h) before generating;
//   3. generate rollout.samples_per_prompt samples per prompt with the generation engine (one
//      shared prefill per prompt; randomness a function of (seed, prompt id, sample), so the
//      samples do not depend on which actor drew the lease), and, when the reward model judges
//      against a reference (gram), the policy's greedy response to each prompt;
//   4. score the texts with the reward service (reward_client.h: retries, failover across the
//      replicas registered in the rendezvous store);
//   5. hand the trajectories in (token ids, behaviour log-probs, rewards, policy version) and
//      read the acknowledgement.
// The actor keeps no state a restart would lose: a killed actor's leases expire and go to
// another actor.
//
// Threads: runs on the calling thread. Returns 0 when the run is finished; throws what its parts
// throw (the launcher restarts a failed actor up to launch.restart_limit times).
#pragma once

#include <cstdint>
#include <string>

#include "rollout/generation_engine.h"

namespace gramrl {

struct ExperimentConfig;
namespace tokenizer {
class Tokenizer;
}

struct ActorWorkerArgs {
  std::string config;      // the run's resolved config.yaml
  int64_t index = 0;       // actor index
  std::string rendezvous;  // host:port of the store
};

int runActorWorker(const ActorWorkerArgs& args);

// The generation settings of an actor's samples (rollout.* sampling, policy.max_new_tokens, the
// tokenizer's stop tokens and the template's end of turn, experiment.seed); a single-process
// reference loop uses the same to draw the same samples. prompt_ids are left to the caller.
GenerationOptions rolloutGenerationOptions(const ExperimentConfig& config, const tokenizer::Tokenizer& tok,
                                           int64_t end_of_turn_id);

}  // namespace gramrl
