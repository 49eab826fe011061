// `gramrl train dpo` as a user runs it: separate learner processes under the local launcher.
// 2 ranks match 1 rank; a run killed mid-way resumes to the parameters of an uninterrupted run;
// a killed or hung rank becomes an error instead of a hang; bad data lines are named.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/checkpoint.h"
#include "tests/support/files.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

using testing::Process;
using testing::slurp;
using testing::start;
using testing::wait;

// This test's processes (whole training runs) get 240 s and are polled every 10 ms.
constexpr std::chrono::seconds kRunTimeout(240);
constexpr std::chrono::milliseconds kPoll(10);

std::string gramrlBinary() { return testing::binaryPath("GRAMRL_BIN", GRAMRL_BIN); }

int run(const std::vector<std::string>& args, const std::string& output) {
  return testing::run(gramrlBinary(), args, output, kRunTimeout, kPoll);
}

class TrainDpoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.file("pairs.jsonl");
    ASSERT_EQ(run({"world", "generate", "labeled", "--n", "64", "--seed", "3", "--out", data_}, dir_.file("gen.log")),
              0)
        << slurp(dir_.file("gen.log"));
    config_ = dir_.file("dpo.yaml");
    std::ofstream(config_) << "experiment: {name: run, output_dir: " << dir_.file("runs") << ", seed: 7}\n"
                           << "policy: {model: 'builtin:tiny', max_prompt_tokens: 64, max_new_tokens: 32}\n"
                           << "learner:\n"
                           << "  algorithm: dpo\n  threads: 1\n  total_steps: 4\n  global_batch_size: 8\n"
                           << "  micro_batch_size: 2\n  lr: 0.001\n  warmup_ratio: 0\n"
                           << "  collective_timeout_s: 20\n"
                           << "  data: {train: " << data_ << "}\n"
                           << "  checkpoint: {every_steps: 2}\n";
  }

  std::vector<std::string> train(const std::string& name, std::vector<std::string> overrides = {}) {
    std::vector<std::string> args{"train", "dpo", config_, "experiment.name=" + name};
    args.insert(args.end(), overrides.begin(), overrides.end());
    return args;
  }

  fs::path runDir(const std::string& name) const { return fs::path(dir_.path()) / "runs" / name; }

  checkpoint::StateDict finalWeights(const std::string& name, int64_t step) const {
    char step_dir[32];
    std::snprintf(step_dir, sizeof(step_dir), "step-%08lld", static_cast<long long>(step));
    return checkpoint::loadCheckpointDir((runDir(name) / "checkpoints" / step_dir / "model").string());
  }

  static double maxDifference(const checkpoint::StateDict& a, const checkpoint::StateDict& b) {
    EXPECT_EQ(a.size(), b.size());
    double worst = 0;
    for (const auto& [k, t] : a) worst = std::max(worst, (t - b.at(k)).abs().max().item<double>());
    return worst;
  }

  // Waits for a file to appear (the run's progress), failing after `timeout`.
  static bool waitFor(const fs::path& path, std::chrono::seconds timeout = std::chrono::seconds(120)) {
    const auto deadline = Clock::now() + timeout;
    while (!fs::exists(path)) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  pid_t pidOf(const std::string& run, const std::string& process) {
    EXPECT_TRUE(waitFor(runDir(run) / "processes.json"));
    const auto j = nlohmann::json::parse(slurp((runDir(run) / "processes.json").string()));
    for (const auto& p : j) {
      if (p["name"] == process) return p["pid"].get<pid_t>();
    }
    ADD_FAILURE() << "no " << process << " in processes.json";
    return -1;
  }

  testing::TempDir dir_;
  std::string data_;
  std::string config_;
};

// AdamW with eps = 1 keeps the update linear in the gradient (NOTE [Comparing updates across
// batch splits] in tests/learner/trainer_test.cc), so the two runs differ only by the float32
// summation order of the gradients; the bound is relative to how far the parameters moved.
TEST_F(TrainDpoTest, TwoRanksMatchOneRankOnTheSameGlobalBatch) {
  const std::vector<std::string> adam{"learner.adam_eps=1", "learner.lr=0.5"};
  auto with = [&](std::string ranks) {
    auto o = adam;
    o.push_back(std::move(ranks));
    return o;
  };
  ASSERT_EQ(run(train("one", with("learner.ranks=1")), dir_.file("one.log")), 0) << slurp(dir_.file("one.log"));
  ASSERT_EQ(run(train("two", with("learner.ranks=2")), dir_.file("two.log")), 0) << slurp(dir_.file("two.log"));
  const double diff = maxDifference(finalWeights("one", 4), finalWeights("two", 4));
  const double moved = maxDifference(finalWeights("one", 4), finalWeights("one", 2));
  std::printf("max |w_1rank - w_2ranks| after 4 steps: %.3g (parameters moved %.3g in steps 3-4)\n", diff, moved);
  EXPECT_GT(moved, 1e-4);  // it trained
  EXPECT_LT(diff, 1e-4 * moved);
  EXPECT_NE(slurp(dir_.file("two.log")).find("2 learner rank(s)"), std::string::npos);
}

TEST_F(TrainDpoTest, KilledRunResumesToTheParametersOfAnUninterruptedRun) {
  const std::vector<std::string> longer{"learner.total_steps=12"};
  ASSERT_EQ(run(train("straight", longer), dir_.file("straight.log")), 0) << slurp(dir_.file("straight.log"));

  const Process victim = start(gramrlBinary(), train("killed", longer), dir_.file("killed.log"));
  ASSERT_TRUE(waitFor(runDir("killed") / "checkpoints" / "step-00000004")) << slurp(dir_.file("killed.log"));
  ::kill(victim.pid, SIGKILL);  // the launcher; its ranks get SIGTERM (PR_SET_PDEATHSIG)
  EXPECT_EQ(wait(victim, kRunTimeout, kPoll), 128 + SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the orphaned rank die
  ASSERT_FALSE(fs::exists(runDir("killed") / "checkpoints" / "step-00000012")) << "the run ended before the kill";

  ASSERT_EQ(run(train("killed", longer), dir_.file("resumed.log")), 0) << slurp(dir_.file("resumed.log"));
  EXPECT_NE(slurp(dir_.file("resumed.log")).find("resumed from"), std::string::npos);
  EXPECT_EQ(maxDifference(finalWeights("straight", 12), finalWeights("killed", 12)), 0.0);
}

TEST_F(TrainDpoTest, AKilledRankStopsTheRunWithItsName) {
  const Process launcher =
      start(gramrlBinary(), train("rank_killed", {"learner.ranks=2", "learner.total_steps=100000"}),
            dir_.file("rank_killed.log"));
  ASSERT_TRUE(waitFor(runDir("rank_killed") / "checkpoints" / "step-00000002"));
  ::kill(pidOf("rank_killed", "learner-1"), SIGKILL);
  const auto t0 = Clock::now();
  EXPECT_NE(wait(launcher, std::chrono::seconds(60), kPoll), 0);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::string log = slurp(dir_.file("rank_killed.log"));
  std::printf("launcher stopped %.2f s after the kill\n", seconds);
  EXPECT_NE(log.find("learner-1 was killed by signal 9"), std::string::npos) << log;
}

TEST_F(TrainDpoTest, AHungRankBecomesACollectiveErrorOnItsPeer) {
  const Process launcher =
      start(gramrlBinary(),
            train("rank_hung", {"learner.ranks=2", "learner.total_steps=100000", "learner.collective_timeout_s=3"}),
            dir_.file("rank_hung.log"));
  ASSERT_TRUE(waitFor(runDir("rank_hung") / "checkpoints" / "step-00000002"));
  const pid_t hung = pidOf("rank_hung", "learner-1");
  ::kill(hung, SIGSTOP);
  const auto t0 = Clock::now();
  const int code = wait(launcher, std::chrono::seconds(90), kPoll);
  ::kill(hung, SIGKILL);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::string log = slurp(dir_.file("rank_hung.log"));
  std::printf("run stopped %.2f s after rank 1 hung (collective timeout 3 s)\n", seconds);
  EXPECT_EQ(code, 4) << log;  // CollectiveError's exit code, from learner-0
  EXPECT_NE(log.find("learner-0 exited with code 4"), std::string::npos) << log;
  EXPECT_NE(log.find("timed out"), std::string::npos) << log;
}

TEST_F(TrainDpoTest, AMalformedDataLineIsNamedOrSkipped) {
  std::string text = slurp(data_);
  const size_t second = text.find('\n') + 1;
  const size_t third = text.find('\n', second) + 1;
  text.insert(third, "{\"prompt\": \"srt:12\", \"chosen\": 5, \"rejected\": \"1\"}\n");  // line 3
  std::ofstream(data_) << text;
  EXPECT_EQ(run(train("bad"), dir_.file("bad.log")), 2);
  const std::string log = slurp(dir_.file("bad.log"));
  EXPECT_NE(log.find("pairs.jsonl:3"), std::string::npos) << log;
  EXPECT_NE(log.find("chosen"), std::string::npos) << log;
  EXPECT_EQ(run(train("skipped", {"learner.data.skip_bad_lines=true"}), dir_.file("skipped.log")), 0)
      << slurp(dir_.file("skipped.log"));
}

}  // namespace
}  // namespace gramrl
