#include "reward/service/batcher.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include <fmt/core.h>

#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/core/logging.h"

namespace gramrl::reward {
namespace {

using SteadyClock = std::chrono::steady_clock;

size_t tokenEstimate(size_t bytes) { return std::max<size_t>(1, (bytes + 3) / 4); }

size_t itemTokens(const PointwiseItem& item) {
  return tokenEstimate(item.prompt.size() + item.response.size() + item.reference.size() + item.label.size());
}
size_t itemTokens(const PairItem& item) {
  return tokenEstimate(item.prompt.size() + item.response_a.size() + item.response_b.size());
}
size_t itemTokens(const CandidateGroup& group) {
  size_t bytes = group.prompt.size();
  for (const auto& c : group.candidates) bytes += c.size();
  return tokenEstimate(bytes);
}
size_t itemUnits(const PointwiseItem&) { return 1; }
size_t itemUnits(const PairItem&) { return 1; }
size_t itemUnits(const CandidateGroup& group) { return group.candidates.size(); }

size_t requestTokens(const ScoreRequest& request) {
  size_t tokens = 0;
  for (const auto& item : request.pointwise) tokens += itemTokens(item);
  for (const auto& item : request.pairwise) tokens += itemTokens(item);
  for (const auto& group : request.best_of_n) tokens += itemTokens(group);
  return tokens;
}

uint64_t nowUnixMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

ScoreResult refusal(wire::ErrorCode code, std::string message, uint32_t retry_after_ms = 0) {
  ScoreResult result;
  result.ok = false;
  result.error_code = code;
  result.error = std::move(message);
  result.retry_after_ms = retry_after_ms;
  return result;
}

// The answer to a request whose backend call threw (NOTE [Dynamic batching]).
ScoreResult errorResult(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const DataError& e) {
    return refusal(wire::ErrorCode::MALFORMED, e.what());
  } catch (const std::exception& e) {
    return refusal(wire::ErrorCode::INTERNAL, fmt::format("reward backend failed: {}", e.what()));
  } catch (...) {
    return refusal(wire::ErrorCode::INTERNAL, "reward backend failed with a non-standard exception");
  }
}

// Cuts `items` into backend calls within both budgets; an item (group) over either budget runs
// alone. Returns [begin, end) index ranges.
template <class Item>
std::vector<std::pair<size_t, size_t>> chunk(const std::vector<Item>& items, size_t max_items, size_t max_tokens) {
  std::vector<std::pair<size_t, size_t>> chunks;
  size_t begin = 0, units = 0, tokens = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const size_t u = itemUnits(items[i]), t = itemTokens(items[i]);
    if (i > begin && (units + u > max_items || tokens + t > max_tokens)) {
      chunks.emplace_back(begin, i);
      begin = i;
      units = tokens = 0;
    }
    units += u;
    tokens += t;
  }
  if (begin < items.size()) chunks.emplace_back(begin, items.size());
  return chunks;
}

template <class Item>
std::vector<Item> slice(const std::vector<Item>& items, std::pair<size_t, size_t> range) {
  return std::vector<Item>(items.begin() + static_cast<std::ptrdiff_t>(range.first),
                           items.begin() + static_cast<std::ptrdiff_t>(range.second));
}

}  // namespace

BatcherOptions BatcherOptions::fromConfig(const RewardServerOptions& server) {
  BatcherOptions o;
  o.max_batch_items = static_cast<size_t>(server.max_batch_items);
  o.max_batch_tokens = static_cast<size_t>(server.max_batch_tokens);
  o.max_wait = std::chrono::milliseconds(server.max_wait_ms);
  o.max_queue_items = static_cast<size_t>(server.max_queue_items);
  o.devices = server.devices;
  return o;
}

std::string BatcherStats::summary() const {
  return fmt::format(
      "requests={} items={} batches={} mean_batch_items={:.1f} mean_batch_requests={:.1f} backend_calls={} "
      "answered={} failed={} retried_alone={} overloaded={} shutting_down={} too_large={} deadline_exceeded={}",
      requests, items, batches, meanBatchItems(), meanBatchRequests(), backend_calls, answered, failed, retried_alone,
      rejected_overloaded, rejected_shutting_down, rejected_too_large, deadline_exceeded);
}

DynamicBatcher::DynamicBatcher(BatcherOptions options, BackendFactory factory)
    : options_(std::move(options)), factory_(std::move(factory)) {
  GRAMRL_CHECK(options_.max_batch_items > 0, ConfigError, "reward.server.max_batch_items must be > 0");
  GRAMRL_CHECK(options_.max_batch_tokens > 0, ConfigError, "reward.server.max_batch_tokens must be > 0");
  GRAMRL_CHECK(options_.max_queue_items > 0, ConfigError, "reward.server.max_queue_items must be > 0");
  GRAMRL_CHECK(!options_.devices.empty(), ConfigError, "reward.server.devices: expected at least one device");
  GRAMRL_CHECK(static_cast<bool>(factory_), ConfigError, "reward batcher: no backend factory");
  for (size_t i = 0; i < options_.devices.size(); ++i) workers_.emplace_back([this, i] { workerLoop(i); });
  std::unique_lock<std::mutex> lock(mutex_);
  ready_cv_.wait(lock, [&] { return ready_workers_ == workers_.size(); });
  if (startup_error_) {
    const std::exception_ptr error = startup_error_;
    stopping_ = draining_ = true;
    lock.unlock();
    work_cv_.notify_all();
    joinWorkers();
    std::rethrow_exception(error);
  }
}

DynamicBatcher::~DynamicBatcher() {
  drain(std::chrono::hours(24 * 365));
  joinWorkers();
}

void DynamicBatcher::joinWorkers() {
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

uint32_t DynamicBatcher::retryAfterHintMs() const {
  // About one batch's time: by then a worker has taken a batch off the queue.
  const double ms = static_cast<double>(options_.max_wait.count()) + last_batch_ms_;
  return static_cast<uint32_t>(std::clamp(std::ceil(ms), 1.0, 10000.0));
}

void DynamicBatcher::submit(ScoreRequest request, ScoreCallback done) {
  const size_t items = request.itemCount();
  std::optional<ScoreResult> refused;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (draining_) {
      ++stats_.rejected_shutting_down;
      refused = refusal(wire::ErrorCode::SHUTTING_DOWN, "the reward server is shutting down");
    } else if (items > options_.max_queue_items) {
      ++stats_.rejected_too_large;
      refused = refusal(wire::ErrorCode::TOO_LARGE,
                        fmt::format("request of {} items exceeds reward.server.max_queue_items = {}", items,
                                    options_.max_queue_items));
    } else if (queued_items_ + items > options_.max_queue_items) {
      ++stats_.rejected_overloaded;
      refused = refusal(
          wire::ErrorCode::OVERLOADED,
          fmt::format("reward server queue full ({} items queued, limit {})", queued_items_, options_.max_queue_items),
          retryAfterHintMs());
    } else {
      Pending pending;
      pending.items = items;
      pending.tokens = requestTokens(request);
      pending.request = std::move(request);
      pending.done = std::move(done);
      pending.enqueued = SteadyClock::now();
      queue_.push_back(std::move(pending));
      queued_items_ += items;
      ++stats_.requests;
      stats_.items += items;
    }
  }
  if (refused) {
    done(std::move(*refused));
  } else {
    work_cv_.notify_all();
  }
}

std::vector<size_t> DynamicBatcher::planBatch(bool* full) const {
  std::vector<size_t> positions{0};
  const RequestKind kind = queue_.front().request.kind;
  size_t items = queue_.front().items, tokens = queue_.front().tokens;
  *full = items >= options_.max_batch_items || tokens >= options_.max_batch_tokens;
  for (size_t i = 1; i < queue_.size() && !*full; ++i) {
    const Pending& p = queue_[i];
    if (p.request.kind != kind) continue;
    if (items + p.items > options_.max_batch_items || tokens + p.tokens > options_.max_batch_tokens) {
      *full = true;  // FIFO within a kind: a request that does not fit closes the batch
      break;
    }
    positions.push_back(i);
    items += p.items;
    tokens += p.tokens;
    *full = items >= options_.max_batch_items || tokens >= options_.max_batch_tokens;
  }
  return positions;
}

void DynamicBatcher::workerLoop(size_t index) {
  std::unique_ptr<RewardBackend> backend;
  try {
    backend = factory_(options_.devices[index]);
    GRAMRL_CHECK(backend != nullptr, ConfigError, "the reward backend factory returned nothing for device {}",
                 options_.devices[index]);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!startup_error_) startup_error_ = std::current_exception();
    ++ready_workers_;
    ready_cv_.notify_all();
    return;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  if (index == 0) backend_name_ = backend->name();
  ++ready_workers_;
  ready_cv_.notify_all();
  log::info("reward worker {} on {}: backend {}", index, options_.devices[index], backend->name());

  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left
    bool full = false;
    std::vector<size_t> positions = planBatch(&full);
    if (!full && !draining_) {
      const auto window_end = queue_.front().enqueued + options_.max_wait;
      if (SteadyClock::now() < window_end) {
        work_cv_.wait_until(lock, window_end);
        continue;  // re-plan: more requests may have come, or another worker took these
      }
    }
    std::vector<Pending> batch;
    batch.reserve(positions.size());
    for (size_t p : positions) batch.push_back(std::move(queue_[p]));
    for (auto it = positions.rbegin(); it != positions.rend(); ++it) {
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(*it));
    }
    for (const Pending& p : batch) queued_items_ -= p.items;
    in_flight_ += batch.size();
    lock.unlock();
    runBatch(*backend, batch);
    lock.lock();
    in_flight_ -= batch.size();
    if (queue_.empty() && in_flight_ == 0) idle_cv_.notify_all();
  }
}

void DynamicBatcher::answer(Pending& pending, ScoreResult result) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (result.ok) {
      ++stats_.answered;
    } else if (result.error_code == wire::ErrorCode::DEADLINE_EXCEEDED) {
      ++stats_.deadline_exceeded;
    } else if (result.error_code == wire::ErrorCode::SHUTTING_DOWN) {
      ++stats_.rejected_shutting_down;
    } else {
      ++stats_.failed;
    }
  }
  try {
    pending.done(std::move(result));
  } catch (const std::exception& e) {
    // A callback must not throw (score_sink.h); a worker outlives a broken one.
    log::error("reward batcher: a score callback threw: {}", e.what());
  }
}

void DynamicBatcher::runBatch(RewardBackend& backend, std::vector<Pending>& batch) {
  std::vector<Pending*> live;
  const uint64_t now_ms = nowUnixMs();
  for (Pending& p : batch) {
    const uint64_t deadline = p.request.deadline_unix_ms;
    if (deadline != 0 && now_ms >= deadline) {
      answer(p, refusal(
                    wire::ErrorCode::DEADLINE_EXCEEDED,
                    fmt::format("the request's deadline passed {} ms before it could be computed", now_ms - deadline)));
    } else {
      live.push_back(&p);
    }
  }
  if (live.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.batches;
    stats_.batched_requests += live.size();
    for (const Pending* p : live) stats_.batched_items += p->items;
  }
  std::vector<ScoreResult> results;
  try {
    results = compute(backend, live);
  } catch (...) {
    const std::exception_ptr error = std::current_exception();
    if (live.size() == 1) {
      answer(*live[0], errorResult(error));
      return;
    }
    log::warn("reward batcher: a batch of {} requests failed ({}); running them one by one", live.size(),
              errorResult(error).error);
    for (Pending* p : live) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++stats_.retried_alone;
      }
      ScoreResult result;
      try {
        result = std::move(compute(backend, {p}).front());
      } catch (...) {
        result = errorResult(std::current_exception());
      }
      answer(*p, std::move(result));
    }
    return;
  }
  for (size_t i = 0; i < live.size(); ++i) answer(*live[i], std::move(results[i]));
}

std::vector<ScoreResult> DynamicBatcher::compute(RewardBackend& backend, const std::vector<Pending*>& requests) {
  const auto start = SteadyClock::now();
  const RequestKind kind = requests.front()->request.kind;
  std::vector<double> scores;
  std::vector<uint32_t> best;
  size_t calls = 0;
  auto checkCount = [&](size_t got, size_t expected, const char* what) {
    GRAMRL_CHECK(got == expected, InternalError, "reward backend {} returned {} {} for {} items", backend.name(), got,
                 what, expected);
  };
  if (kind == RequestKind::kPointwise) {
    std::vector<PointwiseItem> items;
    for (const Pending* p : requests)
      items.insert(items.end(), p->request.pointwise.begin(), p->request.pointwise.end());
    for (const auto& range : chunk(items, options_.max_batch_items, options_.max_batch_tokens)) {
      std::vector<double> s = backend.pointwise(slice(items, range));
      checkCount(s.size(), range.second - range.first, "scores");
      scores.insert(scores.end(), s.begin(), s.end());
      ++calls;
    }
  } else if (kind == RequestKind::kPairwise) {
    std::vector<PairItem> items;
    for (const Pending* p : requests) items.insert(items.end(), p->request.pairwise.begin(), p->request.pairwise.end());
    for (const auto& range : chunk(items, options_.max_batch_items, options_.max_batch_tokens)) {
      std::vector<double> s = backend.pairwise(slice(items, range));
      checkCount(s.size(), range.second - range.first, "scores");
      scores.insert(scores.end(), s.begin(), s.end());
      ++calls;
    }
  } else {
    std::vector<CandidateGroup> groups;
    for (const Pending* p : requests) {
      groups.insert(groups.end(), p->request.best_of_n.begin(), p->request.best_of_n.end());
    }
    for (const auto& range : chunk(groups, options_.max_batch_items, options_.max_batch_tokens)) {
      std::vector<CandidateGroup> part = slice(groups, range);
      size_t candidates = 0;
      for (const auto& g : part) candidates += g.candidates.size();
      BestOfNResult r = backend.bestOfN(part);
      checkCount(r.scores.size(), candidates, "best-of-n scores");
      checkCount(r.best.size(), part.size(), "best-of-n winners");
      scores.insert(scores.end(), r.scores.begin(), r.scores.end());
      best.insert(best.end(), r.best.begin(), r.best.end());
      ++calls;
    }
  }
  const float compute_ms = std::chrono::duration<float, std::milli>(SteadyClock::now() - start).count();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.backend_calls += calls;
    last_batch_ms_ = compute_ms;
  }
  std::vector<ScoreResult> results(requests.size());
  size_t score_at = 0, best_at = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const ScoreRequest& request = requests[i]->request;
    const size_t n = request.itemCount();
    ScoreResult& r = results[i];
    r.ok = true;
    r.reply.model_name = backend.name();
    r.reply.compute_ms = compute_ms;
    r.reply.scores.assign(scores.begin() + static_cast<std::ptrdiff_t>(score_at),
                          scores.begin() + static_cast<std::ptrdiff_t>(score_at + n));
    score_at += n;
    if (kind == RequestKind::kBestOfN) {
      const size_t g = request.best_of_n.size();
      r.reply.best.assign(best.begin() + static_cast<std::ptrdiff_t>(best_at),
                          best.begin() + static_cast<std::ptrdiff_t>(best_at + g));
      best_at += g;
    }
  }
  return results;
}

bool DynamicBatcher::drain(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  draining_ = true;
  work_cv_.notify_all();
  auto idle = [&] { return queue_.empty() && in_flight_ == 0; };
  bool done;
  if (timeout >= std::chrono::hours(24)) {
    idle_cv_.wait(lock, idle);
    done = true;
  } else {
    done = idle_cv_.wait_for(lock, timeout, idle);
  }
  std::deque<Pending> leftover;
  leftover.swap(queue_);
  queued_items_ = 0;
  stopping_ = true;
  lock.unlock();
  work_cv_.notify_all();
  for (Pending& p : leftover) {
    answer(p, refusal(wire::ErrorCode::SHUTTING_DOWN, "the reward server shut down before this request ran"));
  }
  if (done) joinWorkers();
  return done;
}

BatcherStats DynamicBatcher::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

bool DynamicBatcher::isDraining() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return draining_;
}

size_t DynamicBatcher::queuedItems() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_items_;
}

}  // namespace gramrl::reward
