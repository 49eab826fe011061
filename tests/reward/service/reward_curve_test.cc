// The reward server and client with CurveZMQ (NOTE [Reward server CURVE] in reward_server.h), in
// one process over tcp loopback with the scripted backend: an authorized client scores; a client
// with other valid keys and a plain client get nothing (their requests time out, the backend
// never sees them, and the ZAP handler counts the refusal); a key directory missing a file is a
// ConfigError naming the file, on the server and on the client.
#include <zmq.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "common/transport/curve.h"
#include "reward/service/reward_client.h"
#include "reward/service/reward_server.h"
#include "tests/reward/service/fake_backend.h"
#include "tests/support/temp_dir.h"

namespace gramrl::reward {
namespace {

namespace fs = std::filesystem;
using testing::FakeBackend;
using testing::FakeState;
using testing::pointwiseRequest;

class RewardCurveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!zmq_has("curve")) GTEST_SKIP() << "this libzmq has no CURVE";
    keys_ = dir_.file("keys");
    transport::writeCurveKeyDir(keys_);
  }
  void start() {
    BatcherOptions options;
    options.max_wait = std::chrono::milliseconds(1);
    batcher_ = std::make_unique<DynamicBatcher>(
        options, [state = state_](const std::string& device) { return std::make_unique<FakeBackend>(state, device); });
    server_ = std::make_unique<RewardServer>(context_, *batcher_, settings());
    thread_ = std::thread([this] { drained_ = server_->run(); });
  }
  RewardServerSettings settings() const {
    RewardServerSettings s;
    s.endpoint = "tcp://127.0.0.1:*";
    s.request_limits.max_items = 100;
    s.receive_limits.max_message_bytes = 1 << 20;
    s.curve_keys_dir = keys_;
    return s;
  }
  void TearDown() override {
    if (thread_.joinable()) {
      server_->requestStop();
      thread_.join();
      EXPECT_TRUE(drained_);
    }
  }
  RewardClientOptions clientOptions(const std::string& keys_dir, int attempts, std::chrono::milliseconds timeout) {
    RewardClientOptions o;
    o.endpoints = {server_->endpoint()};
    o.retry.max_attempts = attempts;
    o.retry.attempt_timeout = timeout;
    o.retry.backoff_initial = std::chrono::milliseconds(1);
    o.curve_keys_dir = keys_dir;
    return o;
  }
  // A client directory with the server's public key and a second, valid but unauthorized pair.
  std::string intruderKeys() {
    const std::string other = dir_.file("other");
    transport::writeCurveKeyDir(other);
    const std::string intruder = dir_.file("intruder");
    fs::create_directories(intruder);
    fs::copy_file(keys_ + "/server.key", intruder + "/server.key");
    fs::copy_file(other + "/client.key", intruder + "/client.key");
    fs::copy_file(other + "/client.key_secret", intruder + "/client.key_secret");
    return intruder;
  }
  // Waits (no time limit: the ctest timeout bounds it) for the ZAP handler to count a refusal.
  void waitForRefusal() {
    while (server_->stats().curve_refused == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  gramrl::testing::TempDir dir_{"reward-curve"};
  std::string keys_;
  transport::ZmqContext context_;
  std::shared_ptr<FakeState> state_ = std::make_shared<FakeState>();
  std::unique_ptr<DynamicBatcher> batcher_;
  std::unique_ptr<RewardServer> server_;
  std::thread thread_;
  bool drained_ = false;
};

TEST_F(RewardCurveTest, AuthorizedClientScores) {
  start();
  EXPECT_TRUE(server_->isCurveEnabled());
  RewardClient client(context_, clientOptions(keys_, 3, std::chrono::seconds(30)));
  EXPECT_TRUE(client.ping(std::chrono::seconds(30)));
  EXPECT_EQ(client.score(pointwiseRequest({"1.5", "-2", "7"})).scores, std::vector<double>({1.5, -2, 7}));
  const RewardServerStats stats = server_->stats();
  EXPECT_EQ(stats.scored, 1u);
  EXPECT_GE(stats.curve_accepted, 1u);
  EXPECT_EQ(stats.curve_refused, 0u);
}

// A refused client gets no answer: the server closes the handshake's connection, which the client
// sees at once as Disconnected (NOTE [Request retries]), or, when the close comes before its
// request was queued, its attempt times out. Either way every attempt ends without a reply.
void expectNoAnswer(RewardClient& client) {
  try {
    client.score(pointwiseRequest({"1"}));
    ADD_FAILURE() << "expected no answer";
  } catch (const Disconnected&) {
  } catch (const Timeout&) {
  }
  const auto& t = client.stats().transport;
  EXPECT_EQ(t.attempts, 2u);
  EXPECT_EQ(t.timeouts + t.disconnects, 2u);
}

TEST_F(RewardCurveTest, ClientWithOtherKeysGetsNoAnswerAndIsRefused) {
  start();
  RewardClient intruder(context_, clientOptions(intruderKeys(), 2, std::chrono::milliseconds(300)));
  expectNoAnswer(intruder);
  waitForRefusal();
  EXPECT_GE(server_->stats().curve_refused, 1u);
  EXPECT_EQ(server_->stats().received, 0u);
  EXPECT_TRUE(state_->calls().empty());
  // The server still serves an authorized client afterwards.
  RewardClient client(context_, clientOptions(keys_, 3, std::chrono::seconds(30)));
  EXPECT_EQ(client.score(pointwiseRequest({"4"})).scores, std::vector<double>({4}));
}

TEST_F(RewardCurveTest, PlainClientGetsNoAnswer) {
  start();
  RewardClient plain(context_, clientOptions("", 2, std::chrono::milliseconds(300)));
  expectNoAnswer(plain);
  EXPECT_EQ(server_->stats().received, 0u);
  EXPECT_TRUE(state_->calls().empty());
}

TEST_F(RewardCurveTest, ServerKeyDirMissingAFileIsAConfigErrorNamingIt) {
  const std::string missing = keys_ + "/server.key_secret";
  fs::remove(missing);
  DynamicBatcher batcher(BatcherOptions{}, [state = state_](const std::string& device) {
    return std::make_unique<FakeBackend>(state, device);
  });
  try {
    RewardServer server(context_, batcher, settings());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
}

TEST_F(RewardCurveTest, ServerKeyDirWithoutAuthorizedClientsIsAConfigError) {
  fs::remove_all(keys_ + "/authorized_clients");
  DynamicBatcher batcher(BatcherOptions{}, [state = state_](const std::string& device) {
    return std::make_unique<FakeBackend>(state, device);
  });
  try {
    RewardServer server(context_, batcher, settings());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("authorized_clients"), std::string::npos) << e.what();
  }
}

TEST_F(RewardCurveTest, ClientKeyDirMissingAFileIsAConfigErrorNamingIt) {
  const std::string missing = keys_ + "/client.key_secret";
  fs::remove(missing);
  RewardClientOptions o;
  o.endpoints = {"tcp://127.0.0.1:1"};
  o.curve_keys_dir = keys_;
  try {
    RewardClient client(context_, o);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gramrl::reward
