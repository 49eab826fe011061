// reward_test_server CONFIG [overrides...] --backend gold|slow|gated [--delay-ms N] [--gate-dir D]
// The same replica main loop as `gramrl reward serve` (serveReward), with a backend the
// integration test controls. Every backend scores like the rule backend world_gold (pointwise:
// world::goldScore(prompt, response); pairwise: the difference of the two; best-of-n: the highest)
//   gold   as it is;
//   slow   sleeps --delay-ms per backend call (to fill the queue: overload);
//   gated  before each call creates <gate-dir>/entered and waits until <gate-dir>/open exists
//          (an in-flight request the test holds while it sends SIGTERM).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/config/config_loader.h"
#include "common/core/errors.h"
#include "common/world/gold.h"
#include "reward/service/reward_server.h"

namespace gramrl::reward {
namespace {

class TestBackend : public RewardBackend {
 public:
  TestBackend(std::string kind, int delay_ms, std::string gate_dir)
      : kind_(std::move(kind)), delay_ms_(delay_ms), gate_dir_(std::move(gate_dir)) {}
  std::string name() const override { return "test:" + kind_; }
  std::vector<double> pointwise(const std::vector<PointwiseItem>& items) override {
    before();
    std::vector<double> s;
    for (const auto& i : items) s.push_back(world::goldScore(i.prompt, i.response));
    return s;
  }
  std::vector<double> pairwise(const std::vector<PairItem>& items) override {
    before();
    std::vector<double> s;
    for (const auto& i : items)
      s.push_back(world::goldScore(i.prompt, i.response_a) - world::goldScore(i.prompt, i.response_b));
    return s;
  }
  BestOfNResult bestOfN(const std::vector<CandidateGroup>& groups) override {
    before();
    BestOfNResult r;
    for (const auto& g : groups) {
      uint32_t best = 0;
      double top = -1;
      for (size_t i = 0; i < g.candidates.size(); ++i) {
        const double s = world::goldScore(g.prompt, g.candidates[i]);
        r.scores.push_back(s);
        if (s > top) top = s, best = static_cast<uint32_t>(i);
      }
      r.best.push_back(best);
    }
    return r;
  }

 private:
  void before() {
    if (kind_ == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    if (kind_ == "gated") {
      std::ofstream(gate_dir_ + "/entered") << "1";
      while (!std::filesystem::exists(gate_dir_ + "/open")) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  std::string kind_;
  int delay_ms_;
  std::string gate_dir_;
};

int run(int argc, char** argv) {
  std::string config_path, backend = "gold", gate_dir;
  int delay_ms = 0;
  std::vector<std::string> overrides;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      GRAMRL_CHECK(i + 1 < argc, ConfigError, "{} needs a value", a);
      return argv[++i];
    };
    if (a == "--backend") {
      backend = value();
    } else if (a == "--delay-ms") {
      delay_ms = std::stoi(value());
    } else if (a == "--gate-dir") {
      gate_dir = value();
    } else if (config_path.empty()) {
      config_path = a;
    } else {
      overrides.push_back(a);
    }
  }
  const ExperimentConfig config = loadExperimentConfig(config_path, overrides);
  return serveReward(config, 0,
                     [=](const std::string&) { return std::make_unique<TestBackend>(backend, delay_ms, gate_dir); });
}

}  // namespace
}  // namespace gramrl::reward

int main(int argc, char** argv) {
  try {
    return gramrl::reward::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "reward_test_server: %s\n", e.what());
    return gramrl::exitCodeFor(e);
  }
}
