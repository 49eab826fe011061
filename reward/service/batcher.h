// The dynamic batcher: score requests from many clients become few, full backend calls, run by
// one model-owning worker per device.
//
// NOTE [Dynamic batching]
// Requests wait in one FIFO queue shared by every worker. A free worker looks at the oldest
// request, and takes with it the later requests of the same RequestKind (pointwise, pairwise,
// best-of-n: only those can share a backend call) while their items fit in max_batch_items and
// max_batch_tokens (tokens are estimated as UTF-8 bytes / 4). If the batch is not full it waits up
// to max_wait after the oldest request arrived for more. Requests are never split between batches;
// the batch is then cut into backend calls that each respect both budgets (a best-of-n group is
// never cut), so one item (or group) larger than max_batch_tokens runs in a call of its own.
// Scores come back concatenated and are split per request. A request whose deadline has passed
// when its batch is formed is answered DEADLINE_EXCEEDED and never computed.
// Admission is by items: a request that would take the queued items past max_queue_items is
// answered OVERLOADED at once, with a retry_after_ms hint.
// A backend call that throws fails its batch; so that one bad request cannot fail the others,
// a failed batch of several requests is run again one request at a time, and only the requests
// that fail alone are answered with the error (DataError -> MALFORMED with its message, anything
// else -> INTERNAL).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "reward/backends/reward_backend.h"
#include "reward/service/score_sink.h"

namespace gramrl {
struct RewardServerOptions;
}

namespace gramrl::reward {

struct BatcherOptions {
  size_t max_batch_items = 64;              // reward.server.max_batch_items
  size_t max_batch_tokens = 16384;          // reward.server.max_batch_tokens (estimated: bytes / 4)
  std::chrono::milliseconds max_wait{5};    // reward.server.max_wait_ms
  size_t max_queue_items = 4096;            // reward.server.max_queue_items
  std::vector<std::string> devices{"cpu"};  // reward.server.devices: one worker each

  static BatcherOptions fromConfig(const RewardServerOptions& server);
};

// Makes the backend of one device worker; called on that worker's thread.
using BackendFactory = std::function<std::unique_ptr<RewardBackend>(const std::string& device)>;

struct BatcherStats {
  uint64_t requests = 0;  // admitted
  uint64_t items = 0;     // admitted
  uint64_t batches = 0;   // batches formed (requests run together)
  uint64_t batched_requests = 0;
  uint64_t batched_items = 0;
  uint64_t backend_calls = 0;
  uint64_t answered = 0;       // requests answered with scores
  uint64_t failed = 0;         // requests answered with a backend error
  uint64_t retried_alone = 0;  // requests re-run one by one after their batch failed
  uint64_t rejected_overloaded = 0;
  uint64_t rejected_shutting_down = 0;
  uint64_t rejected_too_large = 0;
  uint64_t deadline_exceeded = 0;

  double meanBatchItems() const { return batches ? double(batched_items) / double(batches) : 0.0; }
  double meanBatchRequests() const { return batches ? double(batched_requests) / double(batches) : 0.0; }
  // "requests=.. items=.. batches=.. mean_batch=.. overloaded=.." for the heartbeat line.
  std::string summary() const;
};

// The ScoreSink of the reward server. See NOTE [Dynamic batching].
// Threads: submit, stats and queuedItems from any thread; drain from one thread at a time.
// Construction starts one worker thread per device and blocks until each has made its backend
// (model loading); destruction drains without a time limit.
// Throws: ConfigError for invalid options; the first backend factory's exception (after joining
// every worker) from the constructor. Never throws from submit (errors go to the callback).
class DynamicBatcher : public ScoreSink {
 public:
  DynamicBatcher(BatcherOptions options, BackendFactory factory);
  ~DynamicBatcher() override;
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  void submit(ScoreRequest request, ScoreCallback done) override;

  // Stops admitting (new requests are answered SHUTTING_DOWN), runs everything queued and in
  // flight without waiting for fuller batches, then stops the workers. Blocks up to `timeout`.
  // Returns true when everything was answered and the workers are joined; false when the time
  // ran out: requests still queued are then answered SHUTTING_DOWN, and a backend call still
  // running keeps its worker (the destructor joins it). Idempotent.
  bool drain(std::chrono::milliseconds timeout);

  BatcherStats stats() const;
  size_t queuedItems() const;
  bool isDraining() const;
  // The name of the first worker's backend (for logs).
  const std::string& backendName() const { return backend_name_; }

 private:
  struct Pending {
    ScoreRequest request;
    ScoreCallback done;
    size_t items = 0;
    size_t tokens = 0;
    std::chrono::steady_clock::time_point enqueued;
  };
  struct Batch;

  void workerLoop(size_t index);
  // Under mutex_: the queue positions of the batch the front request would form, and whether it
  // is full (no room for the next request of its kind).
  std::vector<size_t> planBatch(bool* full) const;
  void runBatch(RewardBackend& backend, std::vector<Pending>& batch);
  // Runs requests as one batch; throws what the backend threw.
  std::vector<ScoreResult> compute(RewardBackend& backend, const std::vector<Pending*>& requests);
  void answer(Pending& pending, ScoreResult result);
  uint32_t retryAfterHintMs() const;
  void joinWorkers();

  const BatcherOptions options_;
  BackendFactory factory_;
  std::string backend_name_;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;   // workers: queue changed, draining, stopping
  std::condition_variable idle_cv_;   // drain: queue empty and nothing in flight
  std::condition_variable ready_cv_;  // constructor: workers made their backends
  std::deque<Pending> queue_;
  size_t queued_items_ = 0;
  size_t in_flight_ = 0;  // requests taken by workers, not yet answered
  size_t ready_workers_ = 0;
  bool draining_ = false;
  bool stopping_ = false;
  std::exception_ptr startup_error_;
  BatcherStats stats_;
  double last_batch_ms_ = 0;

  std::vector<std::thread> workers_;
};

}  // namespace gramrl::reward
