// The actor's side of weight sync (NOTE [Weight sync] in learner/rlhf/experience_server.h):
// fetches the learner's newest weights chunk by chunk and swaps them into the actor's model.
//
// Threads: one owner thread (the socket's and the model's). Blocking: each request waits up to
// `timeout`. Throws Timeout when the learner does not answer, ProtocolError for a manifest that
// does not fit the model (another architecture) or a malformed reply.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/transport/frame_codec.h"
#include "common/transport/zmq_context.h"

namespace gramrl {

class Transformer;
namespace transport {
class MessageSocket;
}

class WeightReceiver {
 public:
  WeightReceiver(transport::ZmqContext& context, const std::string& endpoint, transport::ReceiveLimits limits,
                 std::chrono::milliseconds timeout);
  ~WeightReceiver();

  // Fetches the newest version into `model`; nothing of the model changes unless every chunk
  // of one version arrived. Returns that version.
  int64_t fetchInto(Transformer& model);
  // Bytes received by the last fetchInto.
  uint64_t lastBytes() const { return last_bytes_; }

 private:
  std::unique_ptr<transport::MessageSocket> socket_;
  std::chrono::milliseconds timeout_;
  uint64_t seq_ = 0;
  uint64_t last_bytes_ = 0;
};

}  // namespace gramrl
