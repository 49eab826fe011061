// `gramrl reward score` as a user runs it: against a real `gramrl reward serve` process (rule
// backend world_gold, torch-free and fast), plain and with CurveZMQ keys from `gramrl reward
// keygen`. Each output line is its input item with "score" added, in input order, and the score
// equals world::goldScore computed here. A malformed item is an error naming file:line, and no
// output file is left behind. No sleeps as synchronisation: the test waits for the server's
// "serving reward on" line and for processes to exit.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/world/gold.h"
#include "tests/integration/world_items.h"
#include "tests/support/files.h"
#include "tests/support/seed.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::json;

using namespace gramrl::testing;

std::string gramrlBinary() { return binaryPath("GRAMRL_BIN", GRAMRL_BIN); }

// Runs gramrl with stdout and stderr going to `output`; or to `stdout_file` and `output`.
int run(const std::vector<std::string>& args, const std::string& output, const std::string& stdout_file = "") {
  return wait(start(gramrlBinary(), args, output, stdout_file));
}

class RewardScoreCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.file("reward.yaml");
    std::ofstream(config_) << "experiment: {name: reward, output_dir: " << dir_.file("runs") << "}\n"
                           << "reward:\n  backend: rule\n  rule: {check: world_gold}\n"
                           << "  server: {port: 0, max_wait_ms: 2, drain_timeout_s: 60}\n";
  }
  void TearDown() override {
    if (server_.pid > 0 && ::waitpid(server_.pid, nullptr, WNOHANG) == 0) {
      ::kill(server_.pid, SIGKILL);
      ::waitpid(server_.pid, nullptr, 0);
    }
  }
  // Starts `gramrl reward serve` and returns its endpoint (from its "serving reward on" line).
  std::string serve(const std::vector<std::string>& overrides) {
    std::vector<std::string> args{"reward", "serve", config_};
    args.insert(args.end(), overrides.begin(), overrides.end());
    server_log_ = dir_.file("server.log");
    server_ = start(gramrlBinary(), args, server_log_);
    const std::string marker = "serving reward on ";
    while (slurp(server_log_).find(marker) == std::string::npos) {
      if (::waitpid(server_.pid, nullptr, WNOHANG) != 0) {
        server_.pid = -1;
        ADD_FAILURE() << "the server exited: " << slurp(server_log_);
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const std::string out = slurp(server_log_);
    const size_t at = out.find(marker) + marker.size();
    return out.substr(at, out.find('\n', at) - at);
  }
  void stopServer() {
    ASSERT_EQ(::kill(server_.pid, SIGTERM), 0);
    EXPECT_EQ(wait(server_), 0) << slurp(server_log_);
    server_.pid = -1;
  }
  std::string writeItems(const std::vector<Item>& items) {
    const std::string path = dir_.file("items.jsonl");
    std::ofstream out(path);
    for (size_t i = 0; i < items.size(); ++i) {
      Json row;
      row["id"] = i;
      row["prompt"] = items[i].prompt;
      row["response"] = items[i].response;
      out << row.dump() << "\n";
    }
    return path;
  }
  // Scores must be goldScore (as float: they cross the wire as Float32), in input order, each
  // line the input item with "score" added.
  void expectGold(const std::vector<Item>& items, const std::string& output) {
    std::istringstream lines(output);
    std::string line;
    size_t n = 0;
    int bad = 0;
    while (std::getline(lines, line)) {
      ASSERT_LT(n, items.size()) << "more output lines than items";
      const Json row = Json::parse(line);
      EXPECT_EQ(row.at("id").get<size_t>(), n);
      EXPECT_EQ(row.at("prompt").get<std::string>(), items[n].prompt);
      EXPECT_EQ(row.at("response").get<std::string>(), items[n].response);
      const float want = static_cast<float>(world::goldScore(items[n].prompt, items[n].response));
      if (static_cast<float>(row.at("score").get<double>()) != want) {
        ADD_FAILURE() << "item " << n << ": score " << row.at("score") << ", gold " << want;
        ++bad;
      }
      ++n;
    }
    EXPECT_EQ(n, items.size());
    EXPECT_EQ(bad, 0);
  }

  gramrl::testing::TempDir dir_{"reward-score"};
  std::string config_;
  std::string server_log_;
  Process server_;
};

TEST_F(RewardScoreCliTest, ScoresEqualGoldInInputOrder) {
  const uint64_t seed = gramrl::testing::testSeed();
  const std::vector<Item> items = worldItems(50, seed);
  // Not every item scores the same (else order would not be checked).
  std::set<double> distinct;
  for (const auto& item : items) distinct.insert(world::goldScore(item.prompt, item.response));
  ASSERT_GT(distinct.size(), 1u);
  const std::string endpoint = serve({});
  ASSERT_FALSE(endpoint.empty());
  const std::string data = writeItems(items);
  const std::string out = dir_.file("scored.jsonl");
  ASSERT_EQ(run({"reward", "score", config_, "--data", data, "--out", out, "--endpoint", endpoint, "--batch", "7"},
                dir_.file("score.log")),
            0)
      << slurp(dir_.file("score.log"));
  expectGold(items, slurp(out));
  // Without --out the lines go to stdout (the log stays on stderr).
  const std::string stdout_file = dir_.file("stdout.jsonl");
  ASSERT_EQ(
      run({"reward", "score", config_, "--data", data, "--endpoint", endpoint}, dir_.file("score2.log"), stdout_file),
      0)
      << slurp(dir_.file("score2.log"));
  expectGold(items, slurp(stdout_file));
  stopServer();
}

TEST_F(RewardScoreCliTest, ScoresWithCurveKeys) {
  const std::string keys = dir_.file("keys");
  ASSERT_EQ(run({"reward", "keygen", keys}, dir_.file("keygen.log")), 0) << slurp(dir_.file("keygen.log"));
  const std::vector<Item> items = worldItems(20, gramrl::testing::testSeed() + 1);
  const std::string curve = "reward.server.curve_keys_dir=" + keys;
  const std::string endpoint = serve({curve});
  ASSERT_FALSE(endpoint.empty());
  EXPECT_NE(slurp(server_log_).find("CURVE on"), std::string::npos) << slurp(server_log_);
  const std::string data = writeItems(items);
  const std::string out = dir_.file("scored.jsonl");
  ASSERT_EQ(run({"reward", "score", config_, curve, "--data", data, "--out", out, "--endpoint", endpoint},
                dir_.file("score.log")),
            0)
      << slurp(dir_.file("score.log"));
  expectGold(items, slurp(out));
  // Without the keys the client gets no answer: it fails after its attempts, writing nothing.
  const std::string plain_out = dir_.file("plain.jsonl");
  EXPECT_NE(run({"reward", "score", config_, "launch.transport.request_timeout_ms=300",
                 "launch.transport.max_attempts=2", "--data", data, "--out", plain_out, "--endpoint", endpoint},
                dir_.file("plain.log")),
            0);
  EXPECT_FALSE(fs::exists(plain_out));
  stopServer();
}

TEST_F(RewardScoreCliTest, MalformedItemIsAnErrorNamingFileAndLine) {
  const std::string data = dir_.file("bad.jsonl");
  std::ofstream(data) << R"({"prompt": "a", "response": "b"})"
                      << "\n\n"
                      << R"({"prompt": "a"})"
                      << "\n";
  const std::string out = dir_.file("scored.jsonl");
  // No server is needed: items are read before anything is sent.
  EXPECT_NE(run({"reward", "score", config_, "--data", data, "--out", out, "--endpoint", "tcp://127.0.0.1:1"},
                dir_.file("score.log")),
            0);
  const std::string log = slurp(dir_.file("score.log"));
  EXPECT_NE(log.find(data + ":3"), std::string::npos) << log;
  EXPECT_NE(log.find("response"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace gramrl
