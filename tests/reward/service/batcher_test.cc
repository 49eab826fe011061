// The dynamic batcher against a scripted backend (fake_backend.h). The backend's gate holds a
// worker inside a call so that the next requests pile up in the queue: which requests then share
// a backend call is deterministic, with no sleeps.
#include "reward/service/batcher.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "tests/reward/service/fake_backend.h"

namespace gramrl::reward {
namespace {

using testing::FakeBackend;
using testing::FakeCall;
using testing::FakeState;
using testing::pointwiseRequest;

// Collects the results of submits by id. Threads: any.
class Results {
 public:
  ScoreCallback callback(int id) {
    return [this, id](ScoreResult r) {
      std::lock_guard<std::mutex> lock(mutex_);
      EXPECT_EQ(results_.count(id), 0u) << "request " << id << " answered twice";
      results_[id] = std::move(r);
      cv_.notify_all();
    };
  }
  ScoreResult wait(int id) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return results_.count(id) > 0; });
    return results_.at(id);
  }
  bool has(int id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return results_.count(id) > 0;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::map<int, ScoreResult> results_;
};

class BatcherTest : public ::testing::Test {
 protected:
  std::unique_ptr<DynamicBatcher> make(BatcherOptions options) {
    return std::make_unique<DynamicBatcher>(std::move(options), [state = state_](const std::string& device) {
      return std::make_unique<FakeBackend>(state, device);
    });
  }
  static BatcherOptions options(size_t max_items = 64, size_t max_tokens = 16384, size_t max_queue = 4096) {
    BatcherOptions o;
    o.max_batch_items = max_items;
    o.max_batch_tokens = max_tokens;
    o.max_queue_items = max_queue;
    o.max_wait = std::chrono::milliseconds(0);
    return o;
  }
  // Holds the (single) worker inside a backend call on request "blocker" (id 0).
  void holdWorker(DynamicBatcher& batcher) {
    state_->closeGate();
    batcher.submit(pointwiseRequest({"100"}), results_.callback(0));
    state_->waitEntered(1);
  }

  std::shared_ptr<FakeState> state_ = std::make_shared<FakeState>();
  Results results_;
};

std::vector<double> scoresOf(const ScoreResult& r) {
  EXPECT_TRUE(r.ok) << r.error;
  return r.reply.scores;
}

TEST_F(BatcherTest, BatchesRequestsAcrossClientsAndSplitsScoresInOrder) {
  auto batcher = make(options());
  holdWorker(*batcher);
  batcher->submit(pointwiseRequest({"1", "2"}), results_.callback(1));
  batcher->submit(pointwiseRequest({"3"}), results_.callback(2));
  batcher->submit(pointwiseRequest({"4", "5", "6"}), results_.callback(3));
  state_->openGate();
  EXPECT_EQ(scoresOf(results_.wait(0)), std::vector<double>({100}));
  EXPECT_EQ(scoresOf(results_.wait(1)), std::vector<double>({1, 2}));
  EXPECT_EQ(scoresOf(results_.wait(2)), std::vector<double>({3}));
  EXPECT_EQ(scoresOf(results_.wait(3)), std::vector<double>({4, 5, 6}));
  EXPECT_EQ(results_.wait(3).reply.model_name, "fake");
  const auto calls = state_->calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].texts, std::vector<std::string>({"1", "2", "3", "4", "5", "6"}));
  const BatcherStats stats = batcher->stats();
  EXPECT_EQ(stats.requests, 4u);
  EXPECT_EQ(stats.items, 7u);
  EXPECT_EQ(stats.batches, 2u);
  EXPECT_DOUBLE_EQ(stats.meanBatchItems(), 3.5);
  EXPECT_DOUBLE_EQ(stats.meanBatchRequests(), 2.0);
}

TEST_F(BatcherTest, KindsAreNeverMixedInOneCall) {
  auto batcher = make(options());
  holdWorker(*batcher);
  batcher->submit(pointwiseRequest({"1"}), results_.callback(1));
  ScoreRequest pair;
  pair.kind = RequestKind::kPairwise;
  pair.pairwise = {PairItem{"p", "5", "2"}, PairItem{"p", "1", "4"}};
  batcher->submit(pair, results_.callback(2));
  batcher->submit(pointwiseRequest({"7"}), results_.callback(3));
  state_->openGate();
  EXPECT_EQ(scoresOf(results_.wait(2)), std::vector<double>({3, -3}));
  EXPECT_EQ(scoresOf(results_.wait(3)), std::vector<double>({7}));
  const auto calls = state_->calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[1].kind, RequestKind::kPointwise);
  EXPECT_EQ(calls[1].texts, std::vector<std::string>({"1", "7"}));  // the oldest request's kind goes first
  EXPECT_EQ(calls[2].kind, RequestKind::kPairwise);
}

TEST_F(BatcherTest, BestOfNGroupsAreConcatenatedAndSplitBack) {
  auto batcher = make(options());
  holdWorker(*batcher);
  ScoreRequest a, b;
  a.kind = b.kind = RequestKind::kBestOfN;
  a.best_of_n = {CandidateGroup{"a0", {"1", "9", "3"}}, CandidateGroup{"a1", {"8", "2"}}};
  b.best_of_n = {CandidateGroup{"b0", {"4", "6"}}};
  batcher->submit(a, results_.callback(1));
  batcher->submit(b, results_.callback(2));
  state_->openGate();
  const ScoreResult ra = results_.wait(1), rb = results_.wait(2);
  EXPECT_EQ(scoresOf(ra), std::vector<double>({1, 9, 3, 8, 2}));
  EXPECT_EQ(ra.reply.best, std::vector<uint32_t>({1, 0}));
  EXPECT_EQ(scoresOf(rb), std::vector<double>({4, 6}));
  EXPECT_EQ(rb.reply.best, std::vector<uint32_t>({1}));
  const auto calls = state_->calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].texts, std::vector<std::string>({"a0", "a1", "b0"}));
  EXPECT_EQ(calls[1].units, 7u);
}

TEST_F(BatcherTest, MaxBatchItemsClosesABatchWithoutSplittingRequests) {
  auto batcher = make(options(/*max_items=*/4));
  holdWorker(*batcher);
  batcher->submit(pointwiseRequest({"1", "2", "3"}), results_.callback(1));
  batcher->submit(pointwiseRequest({"4", "5"}), results_.callback(2));  // 3 + 2 > 4: next batch
  batcher->submit(pointwiseRequest({"6"}), results_.callback(3));
  batcher->submit(pointwiseRequest({"7", "8", "9", "10", "11", "12"}), results_.callback(4));  // > 4 alone
  state_->openGate();
  EXPECT_EQ(scoresOf(results_.wait(4)), std::vector<double>({7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(scoresOf(results_.wait(2)), std::vector<double>({4, 5}));
  const auto calls = state_->calls();
  std::vector<std::vector<std::string>> texts;
  for (const auto& c : calls) texts.push_back(c.texts);
  const std::vector<std::vector<std::string>> expected{
      {"100"}, {"1", "2", "3"}, {"4", "5", "6"}, {"7", "8", "9", "10"}, {"11", "12"}};
  EXPECT_EQ(texts, expected);
  for (const auto& c : calls) EXPECT_LE(c.units, 4u);
}

TEST_F(BatcherTest, MaxBatchTokensAndAnOversizedItemRunsAlone) {
  // Tokens are estimated as ceil(bytes / 4) per item; the pointwise prompt is "p" (1 byte).
  // "1" -> 2 bytes -> 1 token; the 99-byte response -> 100 bytes -> 25 tokens > 8.
  auto batcher = make(options(/*max_items=*/64, /*max_tokens=*/8));
  const std::string big(99, '7');
  batcher->submit(pointwiseRequest({"1", "2", big, "3", "4"}), results_.callback(1));
  EXPECT_EQ(scoresOf(results_.wait(1)), std::vector<double>({1, 2, std::stod(big), 3, 4}));
  std::vector<std::vector<std::string>> texts;
  for (const auto& c : state_->calls()) texts.push_back(c.texts);
  const std::vector<std::vector<std::string>> expected{{"1", "2"}, {big}, {"3", "4"}};
  EXPECT_EQ(texts, expected);
}

TEST_F(BatcherTest, ExpiredDeadlineIsAnsweredAndNotComputed) {
  auto batcher = make(options());
  holdWorker(*batcher);
  const uint64_t now_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  batcher->submit(pointwiseRequest({"1"}, now_ms - 1), results_.callback(1));
  batcher->submit(pointwiseRequest({"2"}, now_ms + 3600 * 1000), results_.callback(2));
  state_->openGate();
  const ScoreResult expired = results_.wait(1);
  EXPECT_FALSE(expired.ok);
  EXPECT_EQ(expired.error_code, wire::ErrorCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(scoresOf(results_.wait(2)), std::vector<double>({2}));
  for (const auto& c : state_->calls()) {
    for (const auto& t : c.texts) EXPECT_NE(t, "1") << "an expired request was computed";
  }
  EXPECT_EQ(batcher->stats().deadline_exceeded, 1u);
}

TEST_F(BatcherTest, FullQueueAnswersOverloadedAtOnce) {
  auto batcher = make(options(64, 16384, /*max_queue=*/3));
  holdWorker(*batcher);  // in flight, not queued
  batcher->submit(pointwiseRequest({"1", "2"}), results_.callback(1));
  batcher->submit(pointwiseRequest({"3", "4"}), results_.callback(2));  // 2 + 2 > 3
  ASSERT_TRUE(results_.has(2)) << "OVERLOADED must be answered inline";
  const ScoreResult overloaded = results_.wait(2);
  EXPECT_EQ(overloaded.error_code, wire::ErrorCode::OVERLOADED);
  EXPECT_GT(overloaded.retry_after_ms, 0u);
  batcher->submit(pointwiseRequest({"5"}), results_.callback(3));                 // 2 + 1 fits
  batcher->submit(pointwiseRequest({"6", "7", "8", "9"}), results_.callback(4));  // can never fit
  ASSERT_TRUE(results_.has(4));
  EXPECT_EQ(results_.wait(4).error_code, wire::ErrorCode::TOO_LARGE);
  EXPECT_EQ(batcher->queuedItems(), 3u);
  state_->openGate();
  EXPECT_EQ(scoresOf(results_.wait(1)), std::vector<double>({1, 2}));
  EXPECT_EQ(scoresOf(results_.wait(3)), std::vector<double>({5}));
  EXPECT_EQ(batcher->stats().rejected_overloaded, 1u);
  EXPECT_EQ(batcher->stats().rejected_too_large, 1u);
}

TEST_F(BatcherTest, DrainAnswersEverythingInFlightAndRefusesNewRequests) {
  auto batcher = make(options());
  holdWorker(*batcher);
  batcher->submit(pointwiseRequest({"1"}), results_.callback(1));  // queued
  bool drained = false;
  std::thread drainer([&] { drained = batcher->drain(std::chrono::seconds(120)); });
  while (!batcher->isDraining()) std::this_thread::yield();
  batcher->submit(pointwiseRequest({"2"}), results_.callback(2));
  ASSERT_TRUE(results_.has(2));
  EXPECT_EQ(results_.wait(2).error_code, wire::ErrorCode::SHUTTING_DOWN);
  EXPECT_FALSE(results_.has(0));
  state_->openGate();
  drainer.join();
  EXPECT_TRUE(drained);
  EXPECT_EQ(scoresOf(results_.wait(0)), std::vector<double>({100}));
  EXPECT_EQ(scoresOf(results_.wait(1)), std::vector<double>({1}));
  batcher->submit(pointwiseRequest({"3"}), results_.callback(3));
  EXPECT_EQ(results_.wait(3).error_code, wire::ErrorCode::SHUTTING_DOWN);
}

TEST_F(BatcherTest, DrainTimeoutAnswersQueuedRequestsShuttingDown) {
  auto batcher = make(options());
  holdWorker(*batcher);
  batcher->submit(pointwiseRequest({"1"}), results_.callback(1));
  EXPECT_FALSE(batcher->drain(std::chrono::milliseconds(1)));  // the gate is closed: cannot finish
  EXPECT_EQ(results_.wait(1).error_code, wire::ErrorCode::SHUTTING_DOWN);
  state_->openGate();
  EXPECT_EQ(scoresOf(results_.wait(0)), std::vector<double>({100}));  // the call in flight still ends
}

TEST_F(BatcherTest, AThrowingItemFailsOnlyItsOwnRequest) {
  auto batcher = make(options());
  holdWorker(*batcher);
  batcher->submit(pointwiseRequest({"1", "2"}), results_.callback(1));
  batcher->submit(pointwiseRequest({"3", "bad"}), results_.callback(2));
  batcher->submit(pointwiseRequest({"boom"}), results_.callback(3));
  batcher->submit(pointwiseRequest({"4"}), results_.callback(4));
  state_->openGate();
  EXPECT_EQ(scoresOf(results_.wait(1)), std::vector<double>({1, 2}));
  const ScoreResult bad = results_.wait(2);
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.error_code, wire::ErrorCode::MALFORMED);
  EXPECT_NE(bad.error.find("cannot score \"bad\""), std::string::npos) << bad.error;
  const ScoreResult boom = results_.wait(3);
  EXPECT_EQ(boom.error_code, wire::ErrorCode::INTERNAL);
  EXPECT_NE(boom.error.find("fake backend exploded"), std::string::npos) << boom.error;
  EXPECT_EQ(scoresOf(results_.wait(4)), std::vector<double>({4}));
  // blocker, the failed batch of four, then each of the four alone.
  EXPECT_EQ(state_->calls().size(), 6u);
  const BatcherStats stats = batcher->stats();
  EXPECT_EQ(stats.retried_alone, 4u);
  EXPECT_EQ(stats.failed, 2u);
  EXPECT_EQ(stats.answered, 3u);
}

TEST_F(BatcherTest, OneWorkerPerDeviceEachWithItsOwnBackend) {
  BatcherOptions o = options();
  o.devices = {"cpu", "cuda:0", "cuda:1"};
  auto batcher = make(o);
  auto devices = state_->devices();
  std::sort(devices.begin(), devices.end());
  EXPECT_EQ(devices, std::vector<std::string>({"cpu", "cuda:0", "cuda:1"}));
  for (int i = 0; i < 30; ++i) batcher->submit(pointwiseRequest({std::to_string(i)}), results_.callback(i));
  for (int i = 0; i < 30; ++i) EXPECT_EQ(scoresOf(results_.wait(i)), std::vector<double>({double(i)}));
}

TEST_F(BatcherTest, BackendFactoryFailureThrowsFromTheConstructor) {
  auto failing = [](const std::string& device) -> std::unique_ptr<RewardBackend> {
    throw ConfigError("no such model on " + device);
  };
  BatcherOptions o = options();
  o.devices = {"cpu", "cpu"};
  try {
    DynamicBatcher batcher(o, failing);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no such model on cpu"), std::string::npos);
  }
}

}  // namespace
}  // namespace gramrl::reward
