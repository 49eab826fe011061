// Learner rank 0's service to the rollout actors: prompt leases, trajectory hand-ins, weights.
//
// Two ROUTER sockets, each owned by its own thread:
//   rollout  leaseRequest -> leaseGrant, batch -> batchAck   (NOTE [Prompt leases], prompt_ledger.h)
//   weights  fetch -> manifest | chunk                         (NOTE [Weight sync])
// The training thread calls waitForStep() to collect a step's trajectories and publishWeights()
// after each update. Both threads answer every message, a malformed one with an error reply, and
// keep serving; a socket failure is kept and rethrown by the training thread's next call.
//
// NOTE [Weight sync]
// After each update learner rank 0 copies the policy's parameters once into a WeightSnapshot:
// a manifest (version, tensor names, shapes, dtypes, chunk count) and chunks of at most
// chunk_bytes, encoded once and sent as often as actors ask (zero-copy frames, NOTE [Zero-copy
// tensors]). The new version is announced in every lease grant (latestVersion); an actor that
// holds an older one fetches the manifest, then each chunk by index, and swaps the tensors into
// its model between generation calls. A fetch of a version that is no longer the newest is
// answered with an error and the actor starts over, so an actor never mixes two versions. The
// snapshot is published before the ledger moves to the new version, so no lease ever asks for
// weights that cannot be fetched. Pull rather than a broadcast group: an actor that dies or
// joins late (a restart) costs nothing to the others and needs no group to be re-formed.
//
// Threads: construct, waitForStep, publishWeights, finish and stop on the training thread;
// counts() from any thread. Blocking: waitForStep until the step is complete or its deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/transport/frame_codec.h"
#include "common/transport/zmq_context.h"
#include "learner/rlhf/prompt_ledger.h"
#include "rollout/trajectory.h"
#include "schemas/rollout.capnp.h"

namespace gramrl::transport {
class MessageSocket;
}

namespace gramrl::rlhf {

struct WeightSnapshot {
  int64_t version = 0;
  std::shared_ptr<const transport::EncodedMessage> manifest;
  std::vector<transport::EncodedMessage> chunks;
  size_t bytes = 0;
};

struct ExperienceServerOptions {
  std::string bind_host = "127.0.0.1";
  LedgerOptions ledger;
  int64_t samples_per_prompt = 1;
  TrajectoryLimits trajectory_limits;
  // Also sets libzmq's cap on both ROUTERs (NOTE [Oversize messages are answered] in
  // common/transport/frame_codec.h): a larger message gets an error reply, not a timeout.
  transport::ReceiveLimits receive_limits;
  std::chrono::milliseconds retry_after{50};  // what an actor is told to wait when nothing is leasable
};

struct ExperienceStats {
  LedgerCounts ledger;
  int64_t trajectories_received = 0;  // sequences of accepted prompts
  int64_t weight_fetches = 0;         // manifests served
  int64_t bad_messages = 0;           // answered with an error
  double staleness_sum = 0.0;         // over accepted sequences: step - version
  BatchTimes actor_times;             // summed over every batch handed in (actor-seconds by phase)
};

class ExperienceServer {
 public:
  // Binds both ROUTERs on tcp://<bind_host>:* and starts their threads. The ledger starts at
  // `first_step` with `counts` (a resumed run's).
  ExperienceServer(transport::ZmqContext& context, ExperienceServerOptions options, int64_t first_step,
                   LedgerCounts counts);
  ~ExperienceServer();
  ExperienceServer(const ExperienceServer&) = delete;
  ExperienceServer& operator=(const ExperienceServer&) = delete;

  const std::string& rolloutEndpoint() const { return rollout_endpoint_; }
  const std::string& weightsEndpoint() const { return weights_endpoint_; }

  // Makes `snapshot` the weights actors fetch, then lets the ledger lease the steps its version
  // allows.
  void publishWeights(std::shared_ptr<const WeightSnapshot> snapshot);
  // Every sample of every prompt of `step`, ordered by (prompt id, sample index), once the step
  // is complete; std::nullopt at `deadline`. Throws the error a service thread kept.
  std::optional<std::vector<Trajectory>> waitForStep(int64_t step, transport::Deadline deadline);
  // From now on lease grants say the run is finished (actors exit).
  void finish();
  ExperienceStats stats() const;
  // PromptLedger::countsForCheckpoint(), for the checkpoint written after publishWeights().
  LedgerCounts checkpointCounts() const;
  // Stops both threads (idempotent).
  void stop();

 private:
  struct State;
  void serveRollout(transport::MessageSocket& socket);
  void serveWeights(transport::MessageSocket& socket);
  transport::OutgoingMessage handleRollout(wire::RolloutMessage::Reader root, uint64_t seq);

  ExperienceServerOptions options_;
  std::shared_ptr<State> state_;
  std::string rollout_endpoint_;
  std::string weights_endpoint_;
};

}  // namespace gramrl::rlhf
