// A bounded, closable multi-producer multi-consumer queue: the boundary between components
// (a socket's owner thread and the workers it feeds, the reward server's receiver and its
// batcher).
//
// NOTE [Queue close semantics]
// close() is idempotent and callable from any thread. After it, every push fails (returns
// false / kClosed, and the item is not consumed except by push(T), which takes it by value),
// and every waiter, in push or in pop, wakes at once. Items already queued stay poppable: pop()
// returns std::nullopt only when the queue is closed AND drained, so a consumer loop
// `while (auto item = queue.pop()) {...}` handles every item and then ends.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "common/core/errors.h"

namespace gramrl::transport {

enum class PushResult { kOk, kFull, kClosed };

// Threads: every member may be called from any number of threads at once.
// Blocking: push/pop block (push while full, pop while empty) until they can proceed or the
// queue is closed; the *For/*Until variants also stop at their deadline; try* never block.
// Throws: ConfigError for capacity 0 (construction); otherwise only what T's moves throw.
template <class T>
class BoundedQueue {
 public:
  using Clock = std::chrono::steady_clock;

  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {
    GRAMRL_CHECK(capacity > 0, ConfigError, "BoundedQueue capacity must be > 0, got {}", capacity);
  }
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Blocks while full. Returns false (and drops the item) if the queue is or becomes closed.
  bool push(T item) { return pushUntil(std::move(item), Clock::time_point::max()) == PushResult::kOk; }

  // Never blocks. Moves from `item` only when the result is kOk.
  PushResult tryPush(T&& item) { return pushUntil(std::move(item), Clock::time_point::min()); }

  // Blocks while full until the deadline (kFull). Moves from `item` only on kOk.
  PushResult pushUntil(T&& item, Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!waitUntil(lock, not_full_, deadline, [&] { return closed_ || items_.size() < capacity_; })) {
      return PushResult::kFull;
    }
    if (closed_) return PushResult::kClosed;
    items_.push_back(std::move(item));
    lock.unlock();
    not_empty_.notify_one();
    return PushResult::kOk;
  }
  template <class Rep, class Period>
  PushResult pushFor(T&& item, std::chrono::duration<Rep, Period> timeout) {
    return pushUntil(std::move(item), Clock::now() + timeout);
  }

  // Blocks while empty. std::nullopt only when closed and drained.
  std::optional<T> pop() { return popUntil(Clock::time_point::max()); }

  // Never blocks. std::nullopt when empty (closed or not).
  std::optional<T> tryPop() { return popUntil(Clock::time_point::min()); }

  // Blocks while empty until the deadline. std::nullopt on deadline or when closed and drained
  // (isClosed() tells which).
  std::optional<T> popUntil(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!waitUntil(lock, not_empty_, deadline, [&] { return closed_ || !items_.empty(); }) || items_.empty()) {
      return std::nullopt;
    }
    T item = std::move(items_.front());
    items_.pop_front();
    lock.unlock();
    not_full_.notify_one();
    return item;
  }
  template <class Rep, class Period>
  std::optional<T> popFor(std::chrono::duration<Rep, Period> timeout) {
    return popUntil(Clock::now() + timeout);
  }

  // For dynamic batching: blocks (without limit) until at least one item is available, takes
  // what is there, and if that is fewer than max_items waits until `deadline` for more.
  // Returns between 1 and max_items items in push order, or an empty vector only when closed
  // and drained. To measure the batching window from the first item, pop() it first.
  std::vector<T> popBatch(size_t max_items, Clock::time_point deadline) {
    GRAMRL_ASSERT(max_items > 0, "popBatch with max_items 0");
    std::vector<T> batch;
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    for (;;) {
      const size_t taken = batch.size();
      while (!items_.empty() && batch.size() < max_items) {
        batch.push_back(std::move(items_.front()));
        items_.pop_front();
      }
      if (batch.size() > taken) not_full_.notify_all();
      if (batch.size() >= max_items || closed_) break;
      if (!waitUntil(lock, not_empty_, deadline, [&] { return closed_ || !items_.empty(); })) break;
    }
    return batch;
  }

  // Idempotent; wakes every waiter (NOTE [Queue close semantics]).
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  bool isClosed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return closed_;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }

 private:
  // Waits for `ready` until `deadline`; time_point::max() waits forever and min() not at all.
  template <class Ready>
  static bool waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, Clock::time_point deadline,
                        Ready ready) {
    if (deadline == Clock::time_point::max()) {
      cv.wait(lock, ready);
      return true;
    }
    if (deadline == Clock::time_point::min()) return ready();
    return cv.wait_until(lock, deadline, ready);
  }

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace gramrl::transport
