// Trajectories as rollout actors hand them to the learner, and their wire codec
// (schemas/rollout.capnp, TrajectoryBatch).
//
// Threads: pure functions. The decoder validates every length against the others and against
// `limits` before copying anything, and throws ProtocolError naming the field, so a malformed
// batch from a peer is refused, never trusted.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "common/transport/frame_codec.h"
#include "schemas/rollout.capnp.h"

namespace gramrl {

// One sampled response to one prompt.
struct Trajectory {
  uint64_t lease_id = 0;
  uint64_t prompt_id = 0;
  uint32_t sample_index = 0;
  int64_t policy_version = 0;  // the weights that generated it
  std::vector<int32_t> prompt;
  std::vector<int32_t> response;
  std::vector<float> behaviour_logprobs;  // one per response token (NOTE [Which log-prob] in sampling.h)
  float reward = 0.0f;
  float gold = 0.0f;  // the world's gold score, NaN when the prompt has none
  // The reward of the prompt's greedy response (ReMax's baseline), NaN when not scored.
  float baseline_reward = std::numeric_limits<float>::quiet_NaN();
  bool stopped = false;  // ended with a stop token (else max_new_tokens)
};

struct TrajectoryLimits {
  size_t max_sequences = 1 << 16;
  size_t max_tokens = size_t{1} << 28;
};

// Where an actor's time on one batch went (seconds).
struct BatchTimes {
  double generation_s = 0.0;
  double reward_s = 0.0;
  double weights_s = 0.0;
};

// A RolloutMessage whose body is `batch`. Every trajectory must have the same policy_version.
transport::OutgoingMessage encodeTrajectoryBatch(uint64_t seq, uint32_t actor_id, const std::vector<Trajectory>& batch,
                                                 const BatchTimes& times = {});

// The batch's phase times; negative or non-finite values (a confused peer) read as 0.
BatchTimes decodeBatchTimes(wire::TrajectoryBatch::Reader batch);

// Throws ProtocolError for lists of mismatched lengths, sizes past `limits`, or token ids < 0.
std::vector<Trajectory> decodeTrajectoryBatch(wire::TrajectoryBatch::Reader batch, const TrajectoryLimits& limits);

}  // namespace gramrl
