// The reward server and client in one process over tcp loopback, with the scripted backend:
// pings, scores in order from several client threads, bad bytes from a raw DEALER, overload seen
// by the client, and the drain protocol.
#include "reward/service/reward_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "common/transport/message_socket.h"
#include "reward/service/reward_client.h"
#include "tests/reward/service/fake_backend.h"

namespace gramrl::reward {
namespace {

using testing::FakeBackend;
using testing::FakeState;
using testing::pointwiseRequest;

class RewardServerTest : public ::testing::Test {
 protected:
  void start(BatcherOptions options = {}) {
    options.max_wait = std::chrono::milliseconds(1);
    batcher_ = std::make_unique<DynamicBatcher>(
        options, [state = state_](const std::string& device) { return std::make_unique<FakeBackend>(state, device); });
    RewardServerSettings settings;
    settings.endpoint = "tcp://127.0.0.1:*";
    settings.request_limits.max_items = 100;
    settings.receive_limits.max_message_bytes = 1 << 20;
    server_ = std::make_unique<RewardServer>(context_, *batcher_, settings);
    thread_ = std::thread([this] { drained_ = server_->run(); });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      server_->requestStop();
      thread_.join();
    }
  }
  RewardClientOptions clientOptions(int attempts = 3) {
    RewardClientOptions o;
    o.endpoints = {server_->endpoint()};
    o.retry.max_attempts = attempts;
    o.retry.attempt_timeout = std::chrono::seconds(30);
    o.retry.backoff_initial = std::chrono::milliseconds(1);
    return o;
  }

  transport::ZmqContext context_;
  std::shared_ptr<FakeState> state_ = std::make_shared<FakeState>();
  std::unique_ptr<DynamicBatcher> batcher_;
  std::unique_ptr<RewardServer> server_;
  std::thread thread_;
  bool drained_ = false;
};

TEST_F(RewardServerTest, PingAndScoresInOrderFromSeveralClients) {
  start();
  RewardClient pinger(context_, clientOptions());
  EXPECT_TRUE(pinger.ping(std::chrono::seconds(30)));
  std::vector<std::thread> clients;
  std::vector<int> mismatches(4, 0);
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      RewardClient client(context_, clientOptions());
      std::vector<ScoreRequest> requests;
      for (int i = 0; i < 20; ++i) {
        requests.push_back(pointwiseRequest({std::to_string(c * 1000 + i), std::to_string(c * 1000 + i + 0.5)}));
      }
      const auto replies = client.scoreAll(requests);
      for (int i = 0; i < 20; ++i) {
        const std::vector<double> expected{c * 1000.0 + i, c * 1000.0 + i + 0.5};
        if (replies[i].scores != expected || replies[i].model_name != "fake") ++mismatches[c];
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
  EXPECT_EQ(server_->stats().scored, 80u);
}

// NOTE [Count before replying]: once a client holds its answer, the counter that describes it
// is already up to date. Checked after every one of many replies of each kind, so that a counter
// updated after the send (the race behind issue 15's flaky scored=79 of 80) fails here.
TEST_F(RewardServerTest, CountersAreCurrentWhenTheReplyArrives) {
  start();
  RewardClient client(context_, clientOptions());
  transport::Socket raw(context_, transport::SocketType::kDealer);
  raw.connect(server_->endpoint());
  for (uint64_t i = 1; i <= 150; ++i) {
    const ScoreReply reply = client.score(pointwiseRequest({std::to_string(i)}));
    ASSERT_EQ(reply.scores, std::vector<double>{static_cast<double>(i)});
    const RewardServerStats s = server_->stats();
    ASSERT_EQ(s.scored, i) << "after reply " << i;

    std::string junk = "not a message " + std::to_string(i);
    transport::Frames frames;
    frames.emplace_back(junk.data(), junk.size());
    ASSERT_TRUE(raw.sendFrames(frames, transport::deadlineAfter(std::chrono::seconds(30))));
    ASSERT_TRUE(raw.recvFrames(transport::deadlineAfter(std::chrono::seconds(30))).has_value());
    ASSERT_EQ(server_->stats().errors, i) << "after error reply " << i;
  }
}

// Issue 15: a request over the servers' limits is refused by the client at once, naming the key,
// instead of being sent (libzmq drops a message far over its limit with the connection, and no
// error reply can come back) and timing out after every attempt.
TEST_F(RewardServerTest, ClientRefusesARequestOverTheServersLimitsAtOnce) {
  start();
  RewardClientOptions options = clientOptions(5);
  options.request_limits = RequestLimits{3, 64};
  RewardClient client(context_, options);
  const auto started = std::chrono::steady_clock::now();
  try {
    client.score(pointwiseRequest({"1", "2", "3", "4"}));
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(
        std::string(e.what()).find("4 items, more than the server's limit of 3 (reward.server.max_request_items)"),
        std::string::npos)
        << e.what();
  }
  try {
    client.score(pointwiseRequest({std::string(65, '7')}));
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("(reward.server.max_request_mb)"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(server_->stats().received, 0u);
  EXPECT_EQ(client.score(pointwiseRequest({"5", "6"})).scores, (std::vector<double>{5, 6}));
}

// Issue 15: a client that does not know the server's limits (another config, no request_limits)
// sends a request over them. The server receives it (libzmq's cap sits above what it can answer,
// NOTE [Oversize messages are answered]) and answers TOO_LARGE with the request's seq; the client
// stops at once with a DataError naming the key, after one attempt, and the server keeps serving.
TEST_F(RewardServerTest, ARequestOverTheMessageLimitIsAnsweredTooLargeAndTheClientStopsAtOnce) {
  start();                                          // receive_limits: 1 MiB
  RewardClient client(context_, clientOptions(4));  // no request_limits: it sends anything
  const auto started = std::chrono::steady_clock::now();
  uint64_t refused = 0;
  for (size_t bytes : {size_t{1100} << 10, size_t{2900} << 10}) {
    try {
      client.score(pointwiseRequest({"1", std::string(bytes, '9')}));
      FAIL() << "expected a DataError for " << bytes << " bytes";
    } catch (const DataError& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find("too large"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("reward.server.max_request_mb"), std::string::npos) << e.what();
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_EQ(client.stats().transport.attempts, refused);
  EXPECT_EQ(client.stats().transport.timeouts, 0u);
  EXPECT_EQ(server_->stats().malformed, refused);
  EXPECT_EQ(client.score(pointwiseRequest({"7"})).scores, std::vector<double>{7});
}

// Past what the server can answer (libzmq's cap, twice its limit), libzmq drops the connection;
// the client sees the drop and stops after its attempts, each ended at once, not after the 30 s
// attempt timeout (NOTE [Request retries]); the server keeps serving.
TEST_F(RewardServerTest, ARequestPastTheHardCapEndsAtOnceAsDisconnected) {
  start();  // receive_limits: 1 MiB, so libzmq's cap is 3 MiB
  RewardClient client(context_, clientOptions(3));
  const auto started = std::chrono::steady_clock::now();
  try {
    client.score(pointwiseRequest({std::string(size_t{5} << 20, '8')}));
    FAIL() << "expected Disconnected";
  } catch (const Disconnected& e) {
    EXPECT_NE(std::string(e.what()).find("reward.server.max_request_mb"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));
  EXPECT_EQ(client.stats().transport.disconnects, 3u);
  EXPECT_EQ(server_->stats().received, 0u);
  EXPECT_EQ(client.score(pointwiseRequest({"3"})).scores, std::vector<double>{3});
}

TEST(RewardEndpoints, AreValidatedAndARefusedConnectionIsSeenAtOnce) {
  for (const char* bad : {"tcp://127.0.0.1:70000", "tcp://127.0.0.1:0", "tcp://127.0.0.1:", "tcp://:5555",
                          "127.0.0.1:5555", "tcp://host:12a", "ipc://"}) {
    EXPECT_THROW(validateEndpoint(bad, "--endpoint"), ConfigError) << bad;
  }
  try {
    validateEndpoint("tcp://127.0.0.1:123456", "--endpoint");
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--endpoint tcp://127.0.0.1:123456: port 123456 is not a port number (1 to 65535)");
  }
  for (const char* good : {"tcp://127.0.0.1:1", "tcp://localhost:65535", "ipc:///tmp/x", "inproc://r"}) {
    EXPECT_NO_THROW(validateEndpoint(good, "--endpoint")) << good;
  }
  transport::ZmqContext context;
  transport::Socket listening(context, transport::SocketType::kRouter);
  const std::string open = listening.bind("tcp://127.0.0.1:*");
  EXPECT_EQ(probeTcpEndpoint(open, std::chrono::seconds(2)), "");
  // A port nothing listens on: take a free one and close it again.
  std::string closed;
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    socklen_t length = sizeof(address);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
    closed = "tcp://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
    ::close(fd);  // bound, never listening: a connect is refused
  }
  const auto started = std::chrono::steady_clock::now();
  EXPECT_NE(probeTcpEndpoint(closed, std::chrono::seconds(2)), "");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

TEST_F(RewardServerTest, BadBytesGetErrorRepliesAndTheServerKeepsServing) {
  start();
  transport::Socket raw(context_, transport::SocketType::kDealer);
  raw.connect(server_->endpoint());
  auto sendRaw = [&](std::vector<std::string> parts) {
    transport::Frames frames;
    for (auto& p : parts) frames.emplace_back(p.data(), p.size());
    ASSERT_TRUE(raw.sendFrames(frames, transport::deadlineAfter(std::chrono::seconds(30))));
  };
  auto readReply = [&]() -> std::pair<uint64_t, wire::ErrorCode> {
    auto frames = raw.recvFrames(transport::deadlineAfter(std::chrono::seconds(30)));
    EXPECT_TRUE(frames.has_value());
    if (!frames) return {~0ull, wire::ErrorCode::INTERNAL};
    auto message = transport::decodeFrames(transport::Channel::kReward, std::move(*frames), {});
    auto root = message.getRoot<wire::RewardMessage>();
    EXPECT_TRUE(root.isError());
    return {root.getSeq(), root.isError() ? root.getError().getCode() : wire::ErrorCode::INTERNAL};
  };
  sendRaw({"random bytes that are not a message"});
  EXPECT_EQ(readReply(), std::make_pair(uint64_t{0}, wire::ErrorCode::MALFORMED));
  sendRaw({std::string("GRL1\x01\x01\0\0\x01\0\0\0\0\0\0\0", 16)});  // a header, its segment missing
  EXPECT_EQ(readReply().second, wire::ErrorCode::MALFORMED);
  {
    // A valid message of the wrong kind (a reply sent to the server) keeps its seq.
    transport::OutgoingMessage m;
    auto root = m.initRoot<wire::RewardMessage>();
    root.setSeq(77);
    root.setPong();
    auto frames = transport::encodeFrames(transport::Channel::kReward, std::move(m));
    ASSERT_TRUE(raw.sendFrames(frames, transport::deadlineAfter(std::chrono::seconds(30))));
    EXPECT_EQ(readReply(), std::make_pair(uint64_t{77}, wire::ErrorCode::MALFORMED));
  }
  {
    // More items than the server's limit.
    std::vector<std::string> many(101, "1");
    transport::OutgoingMessage m;
    auto root = m.initRoot<wire::RewardMessage>();
    root.setSeq(78);
    fillScoreRequest(root, pointwiseRequest(many));
    auto frames = transport::encodeFrames(transport::Channel::kReward, std::move(m));
    ASSERT_TRUE(raw.sendFrames(frames, transport::deadlineAfter(std::chrono::seconds(30))));
    EXPECT_EQ(readReply(), std::make_pair(uint64_t{78}, wire::ErrorCode::TOO_LARGE));
  }
  RewardClient client(context_, clientOptions());
  EXPECT_EQ(client.score(pointwiseRequest({"42"})).scores, std::vector<double>({42}));
  // A backend DataError comes back to the client as DataError with the backend's message.
  try {
    client.score(pointwiseRequest({"bad"}));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot score"), std::string::npos) << e.what();
  }
  EXPECT_EQ(server_->stats().malformed, 4u);
}

TEST_F(RewardServerTest, OverloadIsRetriedWithBackoffAndNothingIsLost) {
  BatcherOptions options;
  options.max_queue_items = 1;
  start(options);
  state_->closeGate();
  RewardClient first(context_, clientOptions());
  std::thread blocker([&] {
    first.adoptByCurrentThread();
    EXPECT_EQ(first.score(pointwiseRequest({"1"})).scores, std::vector<double>({1}));
  });
  state_->waitEntered(1);  // the worker holds request 1; the queue is empty
  RewardClient second(context_, clientOptions(1000));
  std::thread queued([&] {
    second.adoptByCurrentThread();
    EXPECT_EQ(second.score(pointwiseRequest({"2"})).scores, std::vector<double>({2}));
  });
  // A third client finds the queue full (request 2 waits in it) until the gate opens.
  RewardClient third(context_, clientOptions(100000));
  std::thread overloaded([&] {
    third.adoptByCurrentThread();
    EXPECT_EQ(third.score(pointwiseRequest({"3"})).scores, std::vector<double>({3}));
  });
  while (batcher_->stats().rejected_overloaded == 0) std::this_thread::yield();
  state_->openGate();
  blocker.join();
  queued.join();
  overloaded.join();
  EXPECT_GE(third.stats().overloaded + second.stats().overloaded, 1u);
}

TEST_F(RewardServerTest, StopDrainsInFlightRequestsAndRefusesNewOnes) {
  start();
  state_->closeGate();
  RewardClient inflight(context_, clientOptions());
  std::thread t([&] {
    inflight.adoptByCurrentThread();
    EXPECT_EQ(inflight.score(pointwiseRequest({"5"})).scores, std::vector<double>({5}));
  });
  state_->waitEntered(1);
  server_->requestStop();
  RewardClient late(context_, clientOptions(1));
  EXPECT_THROW(late.score(pointwiseRequest({"6"})), Disconnected);  // SHUTTING_DOWN, no replica left
  EXPECT_EQ(late.stats().shutting_down, 1u);
  state_->openGate();
  t.join();
  thread_.join();
  EXPECT_TRUE(drained_);
}

}  // namespace
}  // namespace gramrl::reward
