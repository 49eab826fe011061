// The reward service as it runs: real `gramrl reward serve` processes (rule backend world_gold,
// torch-free and fast) and reward_test_server (the same replica loop with a slow or gated test
// backend), with client processes forked from this test. Scores are checked against
// world::goldScore computed here. No sleeps as synchronisation: the test waits for files and log
// lines the processes write.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "common/world/gold.h"
#include "reward/service/reward_client.h"
#include "tests/integration/world_items.h"
#include "tests/support/files.h"
#include "tests/support/seed.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gramrl::reward {
namespace {
namespace fs = std::filesystem;
using namespace gramrl::testing;

// A client process: runs `body` in a forked child (its own ZeroMQ context) and exits with its
// result; a failure message goes to `output`.
Process fork(const std::string& output, const std::function<int()>& body) {
  Process p;
  p.output = output;
  p.pid = ::fork();
  if (p.pid == 0) {
    int code = 1;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::ofstream(output, std::ios::app) << "client failed: " << e.what() << "\n";
    }
    ::_exit(code);
  }
  return p;
}

std::string endpointOf(const Process& server) {
  const std::string marker = "serving reward on ";
  EXPECT_TRUE(waitForText(server.output, marker, server.pid)) << slurp(server.output);
  const std::string out = slurp(server.output);
  const size_t at = out.find(marker);
  if (at == std::string::npos) return "";
  return out.substr(at + marker.size(), out.find('\n', at) - at - marker.size());
}

// Two consecutive free TCP ports on loopback (p, p + 1).
int freePortPair() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    const int port = ntohs(addr.sin_port);
    ::close(fd);
    const int fd2 = ::socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_port = htons(static_cast<uint16_t>(port + 1));
    const bool free_next = port < 65535 && ::bind(fd2, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd2);
    if (free_next) return port;
  }
  ADD_FAILURE() << "no two consecutive free ports";
  return 0;
}

ScoreRequest requestOf(const std::vector<Item>& items, size_t begin, size_t end) {
  ScoreRequest r;
  r.kind = RequestKind::kPointwise;
  for (size_t i = begin; i < end; ++i) r.pointwise.push_back(PointwiseItem{items[i].prompt, items[i].response, "", ""});
  return r;
}

// Number of scores that differ from goldScore (as float: scores cross the wire as Float32).
int mismatches(const std::vector<Item>& items, size_t begin, const ScoreReply& reply, std::ostream& log) {
  int bad = 0;
  for (size_t i = 0; i < reply.scores.size(); ++i) {
    const float want = static_cast<float>(world::goldScore(items[begin + i].prompt, items[begin + i].response));
    if (static_cast<float>(reply.scores[i]) != want) {
      log << "item " << begin + i << ": got " << reply.scores[i] << ", gold " << want << "\n";
      ++bad;
    }
  }
  return bad;
}

RewardClientOptions clientOptions(std::vector<std::string> endpoints, int attempts = 3, int timeout_ms = 10000) {
  RewardClientOptions o;
  o.endpoints = std::move(endpoints);
  o.retry.max_attempts = attempts;
  o.retry.attempt_timeout = std::chrono::milliseconds(timeout_ms);
  o.retry.backoff_initial = std::chrono::milliseconds(1);
  o.retry.backoff_max = std::chrono::milliseconds(20);
  return o;
}

class RewardServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.file("reward.yaml");
    std::ofstream(config_) << "experiment: {name: reward, output_dir: " << dir_.file("runs") << "}\n"
                           << "reward:\n  backend: rule\n  rule: {check: world_gold}\n"
                           << "  server: {port: 0, max_wait_ms: 2, drain_timeout_s: 60}\n";
  }
  void TearDown() override {
    for (const Process& p : servers_) {
      if (::waitpid(p.pid, nullptr, WNOHANG) == 0) {
        ::kill(p.pid, SIGKILL);
        ::waitpid(p.pid, nullptr, 0);
      }
    }
  }
  Process serve(std::vector<std::string> args, const std::string& name) {
    std::vector<std::string> argv{"reward", "serve", config_};
    argv.insert(argv.end(), args.begin(), args.end());
    servers_.push_back(start(binaryPath("GRAMRL_BIN", GRAMRL_BIN), argv, dir_.file(name + ".log")));
    return servers_.back();
  }
  Process testServer(std::vector<std::string> args, const std::string& name) {
    std::vector<std::string> argv{config_};
    argv.insert(argv.end(), args.begin(), args.end());
    servers_.push_back(start(binaryPath("REWARD_TEST_SERVER", REWARD_TEST_SERVER), argv, dir_.file(name + ".log")));
    return servers_.back();
  }

  gramrl::testing::TempDir dir_{"reward-service"};
  std::string config_;
  std::vector<Process> servers_;
};

TEST_F(RewardServiceTest, ConcurrentClientProcessesGetGoldScoresInOrder) {
  const uint64_t seed = gramrl::testing::testSeed();
  const Process server = serve({}, "server");
  const std::string endpoint = endpointOf(server);
  ASSERT_FALSE(endpoint.empty());
  std::vector<Process> clients;
  for (int c = 0; c < 4; ++c) {
    const std::vector<Item> items = worldItems(100, seed + c);
    clients.push_back(fork(dir_.file("client" + std::to_string(c) + ".log"), [&, items, c] {
      transport::ZmqContext context;
      RewardClient client(context, clientOptions({endpoint}));
      std::vector<ScoreRequest> requests;
      std::vector<size_t> begins;
      std::mt19937_64 rng(seed * 31 + c);
      for (size_t at = 0; at < items.size();) {
        const size_t n = std::min(items.size() - at, size_t{1} + rng() % 6);
        begins.push_back(at);
        requests.push_back(requestOf(items, at, at + n));
        at += n;
      }
      const auto replies = client.scoreAll(requests);
      std::ofstream log(dir_.file("client" + std::to_string(c) + ".log"), std::ios::app);
      int bad = 0;
      for (size_t r = 0; r < replies.size(); ++r) {
        if (replies[r].scores.size() != requests[r].itemCount()) ++bad;
        bad += mismatches(items, begins[r], replies[r], log);
      }
      return bad == 0 ? 0 : 1;
    }));
  }
  for (size_t c = 0; c < clients.size(); ++c) EXPECT_EQ(wait(clients[c]), 0) << slurp(clients[c].output);
}

TEST_F(RewardServiceTest, TheRuleCheckInTheYamlChangesTheScores) {
  const std::vector<Item> items = worldItems(8, 5);
  std::vector<std::vector<double>> scores;
  for (const std::string check : {"world_gold", "length"}) {
    const Process server = serve({"reward.rule.check=" + check}, "server-" + check);
    const std::string endpoint = endpointOf(server);
    ASSERT_FALSE(endpoint.empty());
    transport::ZmqContext context;
    RewardClient client(context, clientOptions({endpoint}));
    scores.push_back(client.score(requestOf(items, 0, items.size())).scores);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(static_cast<float>(scores[0][i]),
              static_cast<float>(world::goldScore(items[i].prompt, items[i].response)));
    EXPECT_EQ(scores[1][i], static_cast<double>(items[i].response.size())) << items[i].response;
  }
  EXPECT_NE(scores[0], scores[1]);
}

TEST_F(RewardServiceTest, OverloadGivesOverloadedRepliesAndBackoffLosesNothing) {
  const Process server = testServer(
      {"--backend", "slow", "--delay-ms", "20", "reward.server.max_queue_items=4", "reward.server.max_batch_items=2"},
      "server");
  const std::string endpoint = endpointOf(server);
  ASSERT_FALSE(endpoint.empty());
  std::vector<Process> clients;
  for (int c = 0; c < 6; ++c) {
    const std::vector<Item> items = worldItems(20, 100 + c);
    const std::string stats = dir_.file("overloaded" + std::to_string(c));
    clients.push_back(fork(dir_.file("client" + std::to_string(c) + ".log"), [&, items, stats] {
      transport::ZmqContext context;
      RewardClient client(context, clientOptions({endpoint}, /*attempts=*/100000));
      std::ofstream log(stats + ".log");
      int bad = 0;
      for (size_t at = 0; at < items.size(); at += 2)
        bad += mismatches(items, at, client.score(requestOf(items, at, at + 2)), log);
      std::ofstream(stats) << client.stats().overloaded;
      return bad == 0 ? 0 : 1;
    }));
  }
  uint64_t overloaded = 0;
  for (int c = 0; c < 6; ++c) {
    EXPECT_EQ(wait(clients[c]), 0) << slurp(clients[c].output);
    overloaded += std::stoull("0" + slurp(dir_.file("overloaded" + std::to_string(c))));
  }
  EXPECT_GT(overloaded, 0u) << "6 clients, a queue of 4 items and a 20 ms backend must overload";
}

TEST_F(RewardServiceTest, KillingOneReplicaMidStreamFailsOverWithEveryRequestAnswered) {
  const int port = freePortPair();
  ASSERT_GT(port, 0);
  const std::string p = "reward.server.port=" + std::to_string(port);
  const Process replica0 = serve({p, "reward.replicas=2", "--replica", "0"}, "replica0");
  const Process replica1 = serve({p, "reward.replicas=2", "--replica", "1"}, "replica1");
  const std::vector<std::string> endpoints{endpointOf(replica0), endpointOf(replica1)};
  ASSERT_EQ(endpoints[0], "tcp://127.0.0.1:" + std::to_string(port));
  ASSERT_EQ(endpoints[1], "tcp://127.0.0.1:" + std::to_string(port + 1));
  const std::string killed = dir_.file("killed");
  std::vector<Process> clients;
  for (int c = 0; c < 3; ++c) {
    const std::vector<Item> items = worldItems(60, 200 + c);
    const std::string progress = dir_.file("progress" + std::to_string(c));
    clients.push_back(fork(dir_.file("client" + std::to_string(c) + ".log"), [&, items, progress] {
      transport::ZmqContext context;
      RewardClient client(context, clientOptions(endpoints, /*attempts=*/6, /*timeout_ms=*/1000));
      std::ofstream log(progress + ".log");
      int bad = 0;
      for (size_t i = 0; i < items.size(); ++i) {
        if (i == 10) {  // mid-stream: tell the test, and go on only once replica 0 is dead
          std::ofstream(progress) << "10";
          while (!fs::exists(killed)) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        bad += mismatches(items, i, client.score(requestOf(items, i, i + 1)), log);
      }
      return bad == 0 ? 0 : 1;
    }));
  }
  for (int c = 0; c < 3; ++c) ASSERT_TRUE(waitForText(dir_.file("progress" + std::to_string(c)), "10"));
  ::kill(replica0.pid, SIGKILL);
  EXPECT_EQ(wait(replica0), 128 + SIGKILL);
  std::ofstream(killed) << "1";
  for (int c = 0; c < 3; ++c) EXPECT_EQ(wait(clients[c]), 0) << slurp(clients[c].output);
}

TEST_F(RewardServiceTest, MalformedTruncatedOversizedAndRandomMessagesDoNotStopTheServer) {
  const uint64_t seed = gramrl::testing::testSeed();
  const Process server = serve({"reward.server.max_request_mb=1"}, "server");
  const std::string endpoint = endpointOf(server);
  ASSERT_FALSE(endpoint.empty());
  transport::ZmqContext context;
  auto errorReplyTo = [&](transport::Frames frames) -> std::optional<wire::ErrorCode> {
    transport::Socket raw(context, transport::SocketType::kDealer);
    raw.connect(endpoint);
    EXPECT_TRUE(raw.sendFrames(frames, transport::deadlineAfter(std::chrono::seconds(30))));
    auto reply = raw.recvFrames(transport::deadlineAfter(std::chrono::seconds(5)));
    if (!reply) return std::nullopt;  // dropped
    auto message = transport::decodeFrames(transport::Channel::kReward, std::move(*reply), {});
    auto root = message.getRoot<wire::RewardMessage>();
    EXPECT_TRUE(root.isError());
    return root.isError() ? std::optional(root.getError().getCode()) : std::nullopt;
  };
  auto goodFrames = [&](size_t text_bytes) {
    transport::OutgoingMessage m;
    auto root = m.initRoot<wire::RewardMessage>();
    root.setSeq(9);
    ScoreRequest r = requestOf(worldItems(2, 1), 0, 2);
    r.pointwise[1].response = std::string(text_bytes, 'a');
    fillScoreRequest(root, r);
    return transport::encodeFrames(transport::Channel::kReward, std::move(m));
  };
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 20; ++i) {  // random bytes in 1-4 frames
    transport::Frames frames;
    for (size_t f = 0, n = 1 + rng() % 4; f < n; ++f) {
      std::string bytes(rng() % 300, '\0');
      for (char& b : bytes) b = static_cast<char>(rng());
      if (f == 0 && rng() % 2) bytes.replace(0, std::min<size_t>(4, bytes.size()), "GRL1");
      frames.emplace_back(bytes.data(), bytes.size());
    }
    EXPECT_EQ(errorReplyTo(std::move(frames)), wire::ErrorCode::MALFORMED) << "random message " << i;
  }
  {  // truncated: the last segment cut in half
    transport::Frames frames = goodFrames(100);
    zmq::message_t& last = frames.back();
    frames.back() = zmq::message_t(last.data(), last.size() / 2);
    EXPECT_EQ(errorReplyTo(std::move(frames)), wire::ErrorCode::MALFORMED);
  }
  // Over max_request_mb (1 MiB of text, 2 MiB of message): an error reply.
  EXPECT_EQ(errorReplyTo(goodFrames(size_t{5} << 19)), wire::ErrorCode::TOO_LARGE);
  // Far over (libzmq's ZMQ_MAXMSGSIZE): the connection is dropped, or an error reply.
  const auto huge = errorReplyTo(goodFrames(size_t{8} << 20));
  if (huge) {
    EXPECT_NE(*huge, wire::ErrorCode::INTERNAL);
  }
  RewardClient client(context, clientOptions({endpoint}));
  const std::vector<Item> items = worldItems(3, 9);
  std::ostringstream log;
  EXPECT_EQ(mismatches(items, 0, client.score(requestOf(items, 0, 3)), log), 0) << log.str();
  EXPECT_EQ(::waitpid(server.pid, nullptr, WNOHANG), 0) << "the server exited";
}

TEST_F(RewardServiceTest, AnExpiredDeadlineIsAnsweredDeadlineExceeded) {
  const Process server = serve({}, "server");
  const std::string endpoint = endpointOf(server);
  ASSERT_FALSE(endpoint.empty());
  transport::ZmqContext context;
  RewardClient client(context, clientOptions({endpoint}, /*attempts=*/1));
  const std::vector<Item> items = worldItems(2, 3);
  ScoreRequest expired = requestOf(items, 0, 2);
  expired.deadline_unix_ms = 1000;  // 1970
  EXPECT_THROW(client.score(expired), Timeout);
  EXPECT_EQ(client.stats().deadline_exceeded, 1u);
  std::ostringstream log;
  EXPECT_EQ(mismatches(items, 0, client.score(requestOf(items, 0, 2)), log), 0) << log.str();
}

TEST_F(RewardServiceTest, SigtermAnswersTheRequestInFlightRefusesNewOnesAndExits0) {
  const std::string gate = dir_.file("gate");
  fs::create_directories(gate);
  const Process server = testServer({"--backend", "gated", "--gate-dir", gate}, "server");
  const std::string endpoint = endpointOf(server);
  ASSERT_FALSE(endpoint.empty());
  const std::vector<Item> items = worldItems(4, 11);
  transport::ZmqContext context;
  int inflight_bad = -1;
  std::thread inflight([&] {
    RewardClient client(context, clientOptions({endpoint}, 1, 60000));
    std::ostringstream log;
    inflight_bad = mismatches(items, 0, client.score(requestOf(items, 0, 4)), log);
  });
  ASSERT_TRUE(waitForText(gate + "/entered", "1"));
  ::kill(server.pid, SIGTERM);
  ASSERT_TRUE(waitForText(server.output, "draining", server.pid)) << slurp(server.output);
  {
    RewardClient late(context, clientOptions({endpoint}, 1));
    EXPECT_THROW(late.score(requestOf(items, 0, 1)), Disconnected);  // SHUTTING_DOWN
    EXPECT_EQ(late.stats().shutting_down, 1u);
  }
  std::ofstream(gate + "/open") << "1";
  inflight.join();
  EXPECT_EQ(inflight_bad, 0);
  EXPECT_EQ(wait(server), 0) << slurp(server.output);
}

TEST_F(RewardServiceTest, SupervisedReplicasServeAndStopOnSigterm) {
  const int port = freePortPair();
  ASSERT_GT(port, 0);
  const Process launcher = serve({"reward.server.port=" + std::to_string(port), "reward.replicas=2"}, "launcher");
  transport::ZmqContext context;
  for (int k = 0; k < 2; ++k) {
    RewardClient client(context, clientOptions({"tcp://127.0.0.1:" + std::to_string(port + k)}));
    EXPECT_TRUE(client.ping(std::chrono::seconds(60))) << "replica " << k << "\n" << slurp(launcher.output);
  }
  ::kill(launcher.pid, SIGTERM);
  EXPECT_EQ(wait(launcher), 0) << slurp(launcher.output);
}

}  // namespace
}  // namespace gramrl::reward
