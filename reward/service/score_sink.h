// Where decoded score requests go: the boundary between the front ends that receive requests
// (the ZeroMQ server, the HTTP endpoint) and the dynamic batcher that runs them on the backends.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "reward/service/reward_codec.h"

namespace gramrl::reward {

struct ScoreResult {
  bool ok = false;
  ScoreReply reply;                                        // when ok
  wire::ErrorCode error_code = wire::ErrorCode::INTERNAL;  // when !ok
  std::string error;                                       // when !ok
  uint32_t retry_after_ms = 0;                             // a hint with OVERLOADED
};

using ScoreCallback = std::function<void(ScoreResult)>;

// Threads: submit may be called from any thread. Blocking: submit never blocks on model work.
// `done` is called exactly once per submit: inline when the request is refused at once
// (OVERLOADED when the queue is full, SHUTTING_DOWN while draining, TOO_LARGE), otherwise later
// from a worker thread (the scores, DEADLINE_EXCEEDED when the deadline passed before the work
// started, or the backend's error). `done` must not block for long: it runs on a worker.
class ScoreSink {
 public:
  virtual ~ScoreSink() = default;
  virtual void submit(ScoreRequest request, ScoreCallback done) = 0;
};

}  // namespace gramrl::reward
