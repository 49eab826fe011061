// The reward server and client in one process over tcp loopback, with the scripted backend:
// pings, scores in order from several client threads, bad bytes from a raw DEALER, overload seen
// by the client, and the drain protocol.
#include "reward/service/reward_server.h"

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
