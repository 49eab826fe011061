// A scripted reward backend for the reward-service tests: records every call it gets, scores a
// pointwise item by parsing its response as a number, can be held at a gate (so that requests
// pile up in the batcher's queue while a worker is busy), and throws for marked items.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/core/errors.h"
#include "reward/backends/reward_backend.h"
#include "reward/service/reward_codec.h"

namespace gramrl::reward::testing {

struct FakeCall {
  RequestKind kind;
  std::string device;
  std::vector<std::string> texts;  // responses (pointwise), response_a (pairwise), prompts (best-of-n)
  size_t units = 0;                // items, or candidates for best-of-n
};

// Shared by every FakeBackend a factory makes. Threads: any.
class FakeState {
 public:
  void closeGate() {
    std::lock_guard<std::mutex> lock(mutex_);
    gate_open_ = false;
  }
  void openGate() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      gate_open_ = true;
    }
    cv_.notify_all();
  }
  // Blocks until `n` backend calls have started (no time limit: the ctest timeout bounds it).
  void waitEntered(size_t n) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }
  std::vector<FakeCall> calls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }
  std::vector<std::string> devices() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return devices_;
  }

  void enter(FakeCall call) {
    std::unique_lock<std::mutex> lock(mutex_);
    calls_.push_back(std::move(call));
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return gate_open_; });
  }
  void madeOn(const std::string& device) {
    std::lock_guard<std::mutex> lock(mutex_);
    devices_.push_back(device);
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool gate_open_ = true;
  size_t entered_ = 0;
  std::vector<FakeCall> calls_;
  std::vector<std::string> devices_;
};

// Score of a text: "bad" -> DataError, "boom" -> std::runtime_error, else std::stod(text).
inline double fakeScore(const std::string& text) {
  if (text == "bad") throw DataError("fake backend: cannot score \"bad\"");
  if (text == "boom") throw std::runtime_error("fake backend exploded");
  return std::stod(text);
}

// pointwise: stod(response); pairwise: stod(a) - stod(b); best-of-n: stod(candidate), the
// winner is the highest (first on ties).
class FakeBackend : public RewardBackend {
 public:
  FakeBackend(std::shared_ptr<FakeState> state, std::string device) : state_(std::move(state)), device_(device) {
    state_->madeOn(device);
  }
  std::string name() const override { return "fake"; }
  std::vector<double> pointwise(const std::vector<PointwiseItem>& items) override {
    FakeCall call{RequestKind::kPointwise, device_, {}, items.size()};
    for (const auto& item : items) call.texts.push_back(item.response);
    state_->enter(call);
    std::vector<double> scores;
    for (const auto& item : items) scores.push_back(fakeScore(item.response));
    return scores;
  }
  std::vector<double> pairwise(const std::vector<PairItem>& items) override {
    FakeCall call{RequestKind::kPairwise, device_, {}, items.size()};
    for (const auto& item : items) call.texts.push_back(item.response_a);
    state_->enter(call);
    std::vector<double> scores;
    for (const auto& item : items) scores.push_back(fakeScore(item.response_a) - fakeScore(item.response_b));
    return scores;
  }
  BestOfNResult bestOfN(const std::vector<CandidateGroup>& groups) override {
    FakeCall call{RequestKind::kBestOfN, device_, {}, 0};
    for (const auto& g : groups) {
      call.texts.push_back(g.prompt);
      call.units += g.candidates.size();
    }
    state_->enter(call);
    BestOfNResult result;
    for (const auto& g : groups) {
      uint32_t best = 0;
      for (size_t i = 0; i < g.candidates.size(); ++i) {
        result.scores.push_back(fakeScore(g.candidates[i]));
        if (fakeScore(g.candidates[i]) > fakeScore(g.candidates[best])) best = static_cast<uint32_t>(i);
      }
      result.best.push_back(best);
    }
    return result;
  }

 private:
  std::shared_ptr<FakeState> state_;
  std::string device_;
};

inline ScoreRequest pointwiseRequest(const std::vector<std::string>& responses, uint64_t deadline_unix_ms = 0) {
  ScoreRequest r;
  r.kind = RequestKind::kPointwise;
  r.deadline_unix_ms = deadline_unix_ms;
  for (const auto& text : responses) r.pointwise.push_back(PointwiseItem{"p", text, "", ""});
  return r;
}

}  // namespace gramrl::reward::testing
