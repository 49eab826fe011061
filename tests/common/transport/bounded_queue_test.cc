#include "common/transport/bounded_queue.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace gramrl::transport {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A one-shot count-down latch (C++17 has no std::latch).
class Latch {
 public:
  explicit Latch(int count) : count_(count) {}
  void countDown() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--count_ <= 0) cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return count_ <= 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int count_;
};

TEST(BoundedQueue, ZeroCapacityIsAConfigError) { EXPECT_THROW(BoundedQueue<int>(0), ConfigError); }

TEST(BoundedQueue, FifoUpToCapacityAndTryPushKeepsTheItemWhenFull) {
  BoundedQueue<std::string> queue(2);
  EXPECT_EQ(queue.capacity(), 2u);
  std::string a = "a", b = "b", c = "c";
  EXPECT_EQ(queue.tryPush(std::move(a)), PushResult::kOk);
  EXPECT_EQ(queue.tryPush(std::move(b)), PushResult::kOk);
  EXPECT_EQ(queue.tryPush(std::move(c)), PushResult::kFull);
  EXPECT_EQ(c, "c");  // not consumed
  EXPECT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue.tryPop(), "a");
  EXPECT_EQ(queue.tryPop(), "b");
  EXPECT_EQ(queue.tryPop(), std::nullopt);
  EXPECT_FALSE(queue.isClosed());
}

TEST(BoundedQueue, PushUntilTimesOutWhenFullWithoutConsuming) {
  BoundedQueue<std::unique_ptr<int>> queue(1);
  ASSERT_TRUE(queue.push(std::make_unique<int>(1)));
  auto item = std::make_unique<int>(2);
  const auto start = Clock::now();
  EXPECT_EQ(queue.pushUntil(std::move(item), start + 30ms), PushResult::kFull);
  EXPECT_GE(Clock::now() - start, 30ms);
  ASSERT_NE(item, nullptr);
  EXPECT_EQ(*item, 2);
}

TEST(BoundedQueue, PopForTimesOutOnEmptyOpenQueue) {
  BoundedQueue<int> queue(4);
  const auto start = Clock::now();
  EXPECT_EQ(queue.popFor(30ms), std::nullopt);
  EXPECT_GE(Clock::now() - start, 30ms);
  EXPECT_FALSE(queue.isClosed());
}

TEST(BoundedQueue, CloseKeepsPendingItemsPoppableAndRefusesPushes) {
  BoundedQueue<std::string> queue(4);
  ASSERT_TRUE(queue.push("x"));
  ASSERT_TRUE(queue.push("y"));
  queue.close();
  queue.close();  // idempotent
  EXPECT_TRUE(queue.isClosed());
  EXPECT_FALSE(queue.push("z"));
  std::string w = "w";
  EXPECT_EQ(queue.tryPush(std::move(w)), PushResult::kClosed);
  EXPECT_EQ(w, "w");
  EXPECT_EQ(queue.pop(), "x");
  EXPECT_EQ(queue.popFor(1s), "y");
  EXPECT_EQ(queue.pop(), std::nullopt);  // closed and drained: no waiting
  EXPECT_TRUE(queue.popBatch(8, Clock::now() + 1s).empty());
}

TEST(BoundedQueue, CloseWakesEveryBlockedPopper) {
  BoundedQueue<int> queue(4);
  constexpr int kThreads = 4;
  Latch started(kThreads);
  std::vector<std::optional<int>> results(kThreads, 42);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      started.countDown();
      results[i] = (i % 2 == 0) ? queue.pop() : queue.popUntil(Clock::time_point::max());
    });
  }
  started.wait();
  queue.close();
  for (auto& t : threads) t.join();  // hangs (test timeout) if close() does not wake them
  for (const auto& r : results) EXPECT_EQ(r, std::nullopt);
}

TEST(BoundedQueue, CloseWakesEveryBlockedPusher) {
  BoundedQueue<int> queue(1);
  ASSERT_TRUE(queue.push(0));
  constexpr int kThreads = 3;
  Latch started(kThreads);
  std::vector<int> results(kThreads, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      started.countDown();
      results[i] = queue.push(i + 1) ? 1 : 0;
    });
  }
  started.wait();
  queue.close();
  for (auto& t : threads) t.join();
  for (int r : results) EXPECT_EQ(r, 0);
  EXPECT_EQ(queue.pop(), 0);  // the item queued before close is still there
  EXPECT_EQ(queue.pop(), std::nullopt);
}

TEST(BoundedQueue, BlockedPushProceedsWhenAConsumerMakesRoom) {
  BoundedQueue<int> queue(1);
  ASSERT_TRUE(queue.push(1));
  std::thread producer([&] { EXPECT_TRUE(queue.push(2)); });
  EXPECT_EQ(queue.pop(), 1);
  EXPECT_EQ(queue.pop(), 2);  // waits for the producer
  producer.join();
}

TEST(BoundedQueue, PopBatchTakesUpToMaxAtOnce) {
  BoundedQueue<int> queue(16);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(queue.push(i));
  const auto start = Clock::now();
  auto batch = queue.popBatch(5, Clock::now() + 10s);
  EXPECT_LT(Clock::now() - start, 5s);  // full batch: no waiting for the deadline
  EXPECT_EQ(batch, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(queue.size(), 2u);
}

TEST(BoundedQueue, PopBatchWaitsUntilDeadlineForMore) {
  BoundedQueue<int> queue(16);
  ASSERT_TRUE(queue.push(1));
  ASSERT_TRUE(queue.push(2));
  const auto start = Clock::now();
  auto batch = queue.popBatch(5, start + 40ms);
  EXPECT_GE(Clock::now() - start, 40ms);
  EXPECT_EQ(batch, (std::vector<int>{1, 2}));
}

TEST(BoundedQueue, PopBatchBlocksForTheFirstItemAndCollectsLaterOnes) {
  BoundedQueue<int> queue(16);
  std::vector<int> batch;
  Latch consumer_started(1);
  std::thread consumer([&] {
    consumer_started.countDown();
    batch = queue.popBatch(3, Clock::time_point::max());  // returns when it has 3
  });
  consumer_started.wait();
  for (int i = 10; i < 13; ++i) ASSERT_TRUE(queue.push(i));
  consumer.join();
  EXPECT_EQ(batch, (std::vector<int>{10, 11, 12}));
}

TEST(BoundedQueue, CloseEndsAPopBatchThatIsWaitingForMore) {
  BoundedQueue<int> queue(16);
  ASSERT_TRUE(queue.push(7));
  std::vector<int> batch;
  Latch started(1);
  const auto start = Clock::now();
  std::thread consumer([&] {
    started.countDown();
    batch = queue.popBatch(10, Clock::now() + 30s);
  });
  started.wait();
  queue.close();
  consumer.join();
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_EQ(batch, (std::vector<int>{7}));
}

TEST(BoundedQueue, ManyProducersAndConsumersDeliverEveryItemOnce) {
  BoundedQueue<int> queue(8);
  constexpr int kProducers = 4, kConsumers = 3, kPerProducer = 5000;
  std::vector<std::vector<int>> seen(kConsumers);
  std::vector<std::thread> consumers, producers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&, c] {
      if (c == 0) {
        while (true) {
          auto batch = queue.popBatch(4, Clock::now() + 1ms);
          if (batch.empty()) break;
          seen[c].insert(seen[c].end(), batch.begin(), batch.end());
        }
      } else {
        while (auto item = queue.pop()) seen[c].push_back(*item);
      }
    });
  }
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) ASSERT_TRUE(queue.push(p * kPerProducer + i));
    });
  }
  for (auto& t : producers) t.join();
  queue.close();
  for (auto& t : consumers) t.join();
  std::vector<int> all;
  for (const auto& s : seen) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  std::vector<int> expected(kProducers * kPerProducer);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(all, expected);
}

}  // namespace
}  // namespace gramrl::transport
