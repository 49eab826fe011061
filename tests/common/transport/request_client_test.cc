// RequestClient against scripted ROUTER servers: success, stale replies, Lazy Pirate retries,
// failover, Overloaded backoff, and the final errors.
#include "common/transport/request_client.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/common/transport/test_messages.h"
#include "tests/common/transport/test_util.h"

namespace gramrl::transport {
namespace {

using namespace std::chrono_literals;
using namespace gramrl::transport::testing;
using ::testing::HasSubstr;
using Client = RequestClient<wire::RewardMessage>;

// A reward ROUTER on its own thread and its own context (so stopping it cannot disturb the
// client's context). The handler sees every request, numbered from 0, and decides what to send.
class ScriptedServer {
 public:
  using Handler = std::function<void(MessageSocket& socket, const Received& request, int index)>;

  ScriptedServer(std::string bind_endpoint, Handler handler) : handler_(std::move(handler)) {
    std::promise<std::string> bound;
    auto endpoint = bound.get_future();
    thread_ = std::thread([this, bind_endpoint, bound = std::move(bound)]() mutable {
      MessageSocket socket(context_, SocketType::kRouter, Channel::kReward);
      try {
        bound.set_value(socket.bind(bind_endpoint));
      } catch (...) {
        bound.set_exception(std::current_exception());
        return;
      }
      for (int index = 0;; ++index) {
        std::optional<Received> request;
        try {
          request = socket.recv(noDeadline());
        } catch (const Disconnected&) {
          return;  // stopped
        }
        requests_.fetch_add(1);
        if (request->ok()) {
          std::lock_guard<std::mutex> lock(mutex_);
          seqs_.push_back(request->message.getRoot<wire::RewardMessage>().getSeq());
        }
        try {
          handler_(socket, *request, index);
        } catch (const Disconnected&) {
          if (context_.isShutdown()) return;  // otherwise a client went away: keep serving
        }
      }
    });
    try {
      endpoint_ = endpoint.get();
    } catch (...) {
      thread_.join();
      throw;
    }
  }
  ~ScriptedServer() {
    context_.shutdown();
    thread_.join();
  }

  const std::string& endpoint() const { return endpoint_; }
  int requests() const { return requests_.load(); }
  std::vector<uint64_t> seqs() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seqs_;
  }

 private:
  ZmqContext context_;
  Handler handler_;
  std::string endpoint_;
  std::atomic<int> requests_{0};
  std::mutex mutex_;
  std::vector<uint64_t> seqs_;
  std::thread thread_;
};

uint64_t seqOf(const Received& request) { return request.message.getRoot<wire::RewardMessage>().getSeq(); }

OutgoingMessage pong(uint64_t seq) {
  OutgoingMessage message;
  auto root = message.initRoot<wire::RewardMessage>();
  root.setSeq(seq);
  root.setPong();
  return message;
}

void replyPong(MessageSocket& socket, const Received& request, int) {
  socket.sendTo(request.peer, pong(seqOf(request)), deadlineAfter(5s));
}

// A validate() as the reward client will write it: an `overloaded` error asks for a retry.
void rejectOverloaded(wire::RewardMessage::Reader reply) {
  if (reply.isError() && reply.getError().getCode() == wire::ErrorCode::OVERLOADED) {
    throw Overloaded(std::string("server overloaded: ") + reply.getError().getMessage().cStr());
  }
}

auto ping = [](wire::RewardMessage::Builder request) { request.setPing(); };

RetryPolicy fastPolicy(int attempts, std::chrono::milliseconds timeout) {
  RetryPolicy policy;
  policy.max_attempts = attempts;
  policy.attempt_timeout = timeout;
  policy.backoff_initial = 10ms;
  policy.backoff_max = 100ms;
  return policy;
}

class RequestClientTest : public ::testing::Test {
 protected:
  std::string ipc(const std::string& stem) { return bindEndpoint(Transport::kIpc, dir_, stem); }
  TempDir dir_;
  ZmqContext context_;
};

TEST_F(RequestClientTest, CallReturnsTheMatchingReply) {
  ScriptedServer server("tcp://127.0.0.1:*", replyPong);
  Client client(context_, Channel::kReward, {server.endpoint()}, fastPolicy(3, 5s));
  for (int i = 0; i < 5; ++i) {
    IncomingMessage reply = client.call(ping);
    auto root = reply.getRoot<wire::RewardMessage>();
    EXPECT_TRUE(root.isPong());
    EXPECT_EQ(root.getSeq(), static_cast<uint64_t>(i + 1));
  }
  EXPECT_EQ(client.stats().calls, 5u);
  EXPECT_EQ(client.stats().attempts, 5u);
  EXPECT_EQ(client.stats().timeouts, 0u);
  EXPECT_EQ(server.seqs(), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST_F(RequestClientTest, StaleRepliesAreDroppedAndCounted) {
  ScriptedServer server("tcp://127.0.0.1:*", [](MessageSocket& socket, const Received& request, int) {
    const uint64_t seq = seqOf(request);
    socket.sendTo(request.peer, pong(seq + 1000), deadlineAfter(5s));  // an answer to something else
    socket.sendTo(request.peer, pong(seq - 1), deadlineAfter(5s));
    socket.sendTo(request.peer, pong(seq), deadlineAfter(5s));
  });
  Client client(context_, Channel::kReward, {server.endpoint()}, fastPolicy(1, 5s));
  IncomingMessage reply = client.call(ping);
  EXPECT_EQ(reply.getRoot<wire::RewardMessage>().getSeq(), 1u);
  EXPECT_EQ(client.stats().stale_replies, 2u);
  EXPECT_EQ(client.stats().attempts, 1u);
}

// Issue 15: a server that cannot read a request's seq (too large to keep, malformed) answers
// with seq 0; that reply ends the call at once instead of being dropped as stale while every
// attempt times out (NOTE [Request retries]).
TEST_F(RequestClientTest, AnErrorReplyWithSeqZeroEndsTheCallAtOnce) {
  ScriptedServer server("tcp://127.0.0.1:*", [](MessageSocket& socket, const Received& request, int) {
    socket.sendTo(request.peer, makeErrorReply(0, wire::ErrorCode::TOO_LARGE, "cannot read it"), deadlineAfter(5s));
  });
  Client client(context_, Channel::kReward, {server.endpoint()}, fastPolicy(4, 20s));
  const auto start = Clock::now();
  try {
    client.call(ping, [](wire::RewardMessage::Reader reply) {
      if (reply.isError()) throw DataError(std::string("refused: ") + reply.getError().getMessage().cStr());
    });
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot read it"));
  }
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(client.stats().attempts, 1u);
  EXPECT_EQ(client.stats().stale_replies, 0u);
  EXPECT_EQ(server.requests(), 1);
}

// A server that drops the connection without answering (here libzmq's ZMQ_MAXMSGSIZE on a raw
// ROUTER, as for a request far over a server's limit): each attempt ends as soon as the drop is
// seen, not after attempt_timeout, and the call ends as Disconnected naming the limit.
TEST_F(RequestClientTest, AConnectionDroppedWithoutAnAnswerEndsTheAttemptAtOnce) {
  SocketOptions tight;
  tight.max_message_bytes = 2048;
  Socket server(context_, SocketType::kRouter, tight);
  const std::string endpoint = server.bind("tcp://127.0.0.1:*");
  Client client(context_, Channel::kReward, {endpoint}, fastPolicy(3, 20s));
  const auto start = Clock::now();
  try {
    client.call([](wire::RewardMessage::Builder request) {
      auto items = request.initScoreRequest().initPointwise(1);
      items[0].setResponse(std::string(64 << 10, 'r'));
    });
    FAIL() << "expected Disconnected";
  } catch (const Disconnected& e) {
    EXPECT_THAT(e.what(), HasSubstr("closed the connection without answering"));
    EXPECT_THAT(e.what(), HasSubstr("max_request_mb"));
  }
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_EQ(client.stats().attempts, 3u);
  EXPECT_EQ(client.stats().disconnects, 3u);
  EXPECT_EQ(client.stats().timeouts, 0u);
}

TEST_F(RequestClientTest, RetriesAfterATimeoutWhenTheServerDropsTheFirstRequest) {
  ScriptedServer server(ipc("drop-first"), [](MessageSocket& socket, const Received& request, int index) {
    if (index == 0) return;  // lost
    replyPong(socket, request, index);
  });
  Client client(context_, Channel::kReward, {server.endpoint()}, fastPolicy(3, 200ms));
  const auto start = Clock::now();
  IncomingMessage reply = client.call(ping);
  EXPECT_GE(Clock::now() - start, 200ms);
  EXPECT_TRUE(reply.getRoot<wire::RewardMessage>().isPong());
  EXPECT_EQ(client.stats().attempts, 2u);
  EXPECT_EQ(client.stats().timeouts, 1u);
  EXPECT_EQ(client.stats().socket_resets, 1u);
  EXPECT_EQ(server.seqs(), (std::vector<uint64_t>{1, 1}));  // the same request, resent
}

TEST_F(RequestClientTest, FailsOverToTheSecondEndpointAndStaysThere) {
  ScriptedServer live(ipc("live"), replyPong);
  const std::string dead = ipc("dead");  // nobody binds it
  Client client(context_, Channel::kReward, {dead, live.endpoint()}, fastPolicy(3, 150ms));
  IncomingMessage reply = client.call(ping);
  EXPECT_TRUE(reply.getRoot<wire::RewardMessage>().isPong());
  EXPECT_EQ(client.stats().attempts, 2u);
  EXPECT_EQ(client.stats().timeouts, 1u);
  // The next call starts at the endpoint that answered.
  client.call(ping);
  EXPECT_EQ(client.stats().attempts, 3u);
  EXPECT_EQ(live.requests(), 2);
}

TEST_F(RequestClientTest, OverloadedRepliesBackOffAndRetry) {
  ScriptedServer server("tcp://127.0.0.1:*", [](MessageSocket& socket, const Received& request, int index) {
    if (index < 2) {
      socket.sendTo(request.peer, makeErrorReply(seqOf(request), wire::ErrorCode::OVERLOADED, "queue full"),
                    deadlineAfter(5s));
    } else {
      replyPong(socket, request, index);
    }
  });
  RetryPolicy policy = fastPolicy(3, 5s);
  policy.backoff_initial = 40ms;
  policy.backoff_multiplier = 2.0;
  Client client(context_, Channel::kReward, {server.endpoint()}, policy);
  const auto start = Clock::now();
  IncomingMessage reply = client.call(ping, rejectOverloaded);
  EXPECT_GE(Clock::now() - start, 40ms + 80ms);  // two backoffs
  EXPECT_TRUE(reply.getRoot<wire::RewardMessage>().isPong());
  EXPECT_EQ(client.stats().retryable_errors, 2u);
  EXPECT_EQ(client.stats().attempts, 3u);
  EXPECT_EQ(client.stats().socket_resets, 0u);  // the server answered: no reason to reconnect
}

TEST_F(RequestClientTest, ThrowsTimeoutNamingEndpointsAttemptsAndTime) {
  const std::string dead = ipc("nobody");
  Client client(context_, Channel::kReward, {dead}, fastPolicy(2, 100ms));
  const auto start = Clock::now();
  try {
    client.call(ping);
    FAIL() << "expected Timeout";
  } catch (const Timeout& e) {
    EXPECT_THAT(e.what(), HasSubstr(dead));
    EXPECT_THAT(e.what(), HasSubstr("after 2 attempt(s)"));
    EXPECT_THAT(e.what(), HasSubstr("no reply within 100 ms"));
  }
  EXPECT_GE(Clock::now() - start, 200ms);
  EXPECT_EQ(client.stats().timeouts, 2u);
}

TEST_F(RequestClientTest, ThrowsTheLastOverloadedWhenEveryAttemptIsRefused) {
  ScriptedServer server("tcp://127.0.0.1:*", [](MessageSocket& socket, const Received& request, int) {
    socket.sendTo(request.peer, makeErrorReply(seqOf(request), wire::ErrorCode::OVERLOADED, "still full"),
                  deadlineAfter(5s));
  });
  Client client(context_, Channel::kReward, {server.endpoint()}, fastPolicy(3, 5s));
  try {
    client.call(ping, rejectOverloaded);
    FAIL() << "expected Overloaded";
  } catch (const Overloaded& e) {
    EXPECT_THAT(e.what(), HasSubstr("still full"));
    EXPECT_THAT(e.what(), HasSubstr("after 3 attempt(s)"));
  }
  EXPECT_EQ(server.requests(), 3);
}

TEST_F(RequestClientTest, OtherErrorsFromValidateEndTheCallAtOnce) {
  ScriptedServer server("tcp://127.0.0.1:*", replyPong);
  Client client(context_, Channel::kReward, {server.endpoint()}, fastPolicy(3, 5s));
  EXPECT_THROW(client.call(ping, [](wire::RewardMessage::Reader) { throw DataError("bad scores"); }), DataError);
  EXPECT_EQ(client.stats().attempts, 1u);
}

TEST_F(RequestClientTest, AReplyThatIsNotARewardMessageIsAProtocolError) {
  ScriptedServer server("tcp://127.0.0.1:*", [](MessageSocket& socket, const Received& request, int) {
    Frames frames;
    frames.emplace_back(request.peer.data(), request.peer.size());
    frames.emplace_back("HTTP/1.1 400 Bad Request", 24);
    socket.socket().sendFrames(frames, deadlineAfter(5s));
  });
  Client client(context_, Channel::kReward, {server.endpoint()}, fastPolicy(3, 5s));
  try {
    client.call(ping);
    FAIL() << "expected ProtocolError";
  } catch (const ProtocolError& e) {
    EXPECT_THAT(e.what(), HasSubstr("invalid reply from " + server.endpoint()));
  }
}

TEST_F(RequestClientTest, CallsFromAnotherThreadAreABugUntilAdopted) {
  ScriptedServer server("tcp://127.0.0.1:*", replyPong);
  Client client(context_, Channel::kReward, {server.endpoint()}, fastPolicy(3, 5s));
  client.call(ping);  // creates the socket on this thread
  std::string error;
  bool adopted_ok = false;
  std::thread other([&] {
    try {
      client.call(ping);
    } catch (const InternalError& e) {
      error = e.what();
    }
    client.adoptByCurrentThread();
    adopted_ok = client.call(ping).getRoot<wire::RewardMessage>().isPong();
  });
  other.join();
  EXPECT_THAT(error, HasSubstr("does not own it"));
  EXPECT_TRUE(adopted_ok);
}

TEST_F(RequestClientTest, ConfigurationErrors) {
  EXPECT_THROW(Client(context_, Channel::kReward, {}), ConfigError);
  EXPECT_THROW(Client(context_, Channel::kReward, {"tcp://127.0.0.1:1"}, fastPolicy(0, 1s)), ConfigError);
}

TEST_F(RequestClientTest, ShutdownEndsACallWithDisconnected) {
  const std::string dead = ipc("nobody");
  std::mutex mutex;
  std::condition_variable cv;
  bool calling = false;
  std::string error;
  const auto start = Clock::now();
  std::thread caller([&] {
    Client client(context_, Channel::kReward, {dead}, fastPolicy(100, 30s));
    {
      std::lock_guard<std::mutex> lock(mutex);
      calling = true;
    }
    cv.notify_one();
    try {
      client.call(ping);
      error = "call returned";
    } catch (const Disconnected& e) {
      error = e.what();
    }
  });
  {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return calling; });
  }
  context_.shutdown();  // wakes the call whether it is already waiting for a reply or not
  caller.join();
  EXPECT_THAT(error, HasSubstr("shut down"));
  EXPECT_LT(Clock::now() - start, 20s);
}

}  // namespace
}  // namespace gramrl::transport
