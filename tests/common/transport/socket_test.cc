// The raw Socket layer: endpoints, deadlines, ownership, shutdown, size limits.
#include "common/transport/socket.h"

#include <chrono>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "tests/common/transport/test_util.h"

namespace gramrl::transport {
namespace {

using namespace std::chrono_literals;
using namespace gramrl::transport::testing;
using ::testing::HasSubstr;
using ::testing::StartsWith;

Frames textFrames(std::initializer_list<std::string> parts) {
  Frames frames;
  for (const auto& p : parts) frames.emplace_back(p.data(), p.size());
  return frames;
}

std::vector<std::string> texts(const Frames& frames) {
  std::vector<std::string> out;
  for (const auto& f : frames) out.push_back(f.to_string());
  return out;
}

TEST(Socket, TcpWildcardBindReturnsTheChosenPort) {
  ZmqContext context;
  Socket socket(context, SocketType::kRouter);
  const std::string endpoint = socket.bind("tcp://127.0.0.1:*");
  EXPECT_THAT(endpoint, StartsWith("tcp://127.0.0.1:"));
  const int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
  EXPECT_GT(port, 0);
  EXPECT_THAT(socket.describe(), HasSubstr(endpoint));
}

TEST(Socket, BadEndpointsThrowSystemErrorNamingThem) {
  ZmqContext context;
  Socket socket(context, SocketType::kPull);
  try {
    socket.bind("bogus://nowhere");
    FAIL() << "bind accepted a bogus endpoint";
  } catch (const SystemError& e) {
    EXPECT_THAT(e.what(), HasSubstr("bind bogus://nowhere"));
    EXPECT_THAT(e.what(), HasSubstr("Protocol not supported"));
  }
  EXPECT_THROW(socket.connect("tcp://"), SystemError);
  // Binding an address that is already in use.
  const std::string endpoint = socket.bind("tcp://127.0.0.1:*");
  Socket other(context, SocketType::kPull);
  try {
    other.bind(endpoint);
    FAIL() << "bound the same address twice";
  } catch (const SystemError& e) {
    EXPECT_THAT(e.what(), HasSubstr("Address already in use"));
  }
}

class SocketTransports : public ::testing::TestWithParam<Transport> {
 protected:
  TempDir dir_;
  ZmqContext context_;
};

TEST_P(SocketTransports, PushPullCarriesMultipartMessagesInOrder) {
  Socket pull(context_, SocketType::kPull);
  Socket push(context_, SocketType::kPush);
  push.connect(pull.bind(bindEndpoint(GetParam(), dir_)));
  for (int i = 0; i < 3; ++i) {
    Frames out = textFrames({"part-a", std::to_string(i), ""});
    ASSERT_TRUE(push.sendFrames(out, deadlineAfter(5s)));
    EXPECT_EQ(out[0].size(), 0u);  // handed to libzmq
  }
  for (int i = 0; i < 3; ++i) {
    auto in = pull.recvFrames(deadlineAfter(5s));
    ASSERT_TRUE(in.has_value());
    EXPECT_EQ(texts(*in), (std::vector<std::string>{"part-a", std::to_string(i), ""}));
  }
}

TEST_P(SocketTransports, RecvMultipartKeepsAPrefixWithinBounds) {
  Socket pull(context_, SocketType::kPull);
  Socket push(context_, SocketType::kPush);
  push.connect(pull.bind(bindEndpoint(GetParam(), dir_)));
  Frames out = textFrames({"aaaa", "bbbb", "cccc", "dddd"});
  ASSERT_TRUE(push.sendFrames(out, deadlineAfter(5s)));
  Frames out2 = textFrames({"aaaa", "bbbbbbbbbb", "c"});
  ASSERT_TRUE(push.sendFrames(out2, deadlineAfter(5s)));
  Frames out3 = textFrames({"next"});
  ASSERT_TRUE(push.sendFrames(out3, deadlineAfter(5s)));

  auto by_count = pull.recvMultipart(deadlineAfter(5s), /*max_frames=*/2);
  ASSERT_TRUE(by_count);
  EXPECT_EQ(texts(by_count->frames), (std::vector<std::string>{"aaaa", "bbbb"}));
  EXPECT_EQ(by_count->dropped_frames, 2u);
  EXPECT_EQ(by_count->dropped_bytes, 8u);
  auto by_bytes = pull.recvMultipart(deadlineAfter(5s), Socket::kUnbounded, /*max_bytes=*/8);
  ASSERT_TRUE(by_bytes);
  EXPECT_EQ(texts(by_bytes->frames), (std::vector<std::string>{"aaaa"}));
  EXPECT_TRUE(by_bytes->isTruncated());
  EXPECT_EQ(by_bytes->dropped_frames, 2u);         // "c" would fit, but kept frames are a prefix
  auto next = pull.recvFrames(deadlineAfter(5s));  // the socket is still in step
  ASSERT_TRUE(next);
  EXPECT_EQ(texts(*next), (std::vector<std::string>{"next"}));
}

TEST_P(SocketTransports, RecvReturnsNothingAtTheDeadline) {
  Socket pull(context_, SocketType::kPull);
  pull.bind(bindEndpoint(GetParam(), dir_));
  const auto start = Clock::now();
  EXPECT_EQ(pull.recvFrames(start + 50ms), std::nullopt);
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, 50ms);
  EXPECT_LT(waited, 5s);
  EXPECT_EQ(pull.recvFrames(Clock::now() - 1s), std::nullopt);  // a past deadline only tries
}

TEST_P(SocketTransports, SendReturnsFalseAtTheDeadlineWhenTheHighWaterMarkIsReached) {
  SocketOptions options;
  options.send_hwm = 4;
  options.recv_hwm = 4;
  options.linger_ms = 0;  // the queued messages can never be delivered; do not wait for them
  Socket push(context_, SocketType::kPush, options);
  Socket pull(context_, SocketType::kPull, options);
  push.connect(pull.bind(bindEndpoint(GetParam(), dir_)));
  // Nobody reads: the pipe fills (send hwm + receive hwm + what the kernel buffers) and then a
  // send must give up at its deadline with the frames untouched.
  int sent = 0;
  bool refused = false;
  Frames out;
  while (sent < 100000) {
    out = textFrames({std::string(1024, 'x')});
    if (!push.sendFrames(out, deadlineAfter(20ms))) {
      refused = true;
      break;
    }
    ++sent;
  }
  EXPECT_TRUE(refused) << "sent " << sent << " messages without reaching the high-water mark";
  EXPECT_GE(sent, 4);
  EXPECT_EQ(out[0].size(), 1024u);  // not consumed by the failed send
}

TEST_P(SocketTransports, SendWithNoPeerReturnsFalseAtTheDeadline) {
  Socket push(context_, SocketType::kPush);
  push.bind(bindEndpoint(GetParam(), dir_));  // bound, nobody connected: no pipe to queue on
  Frames out = textFrames({"lost"});
  const auto start = Clock::now();
  EXPECT_FALSE(push.sendFrames(out, start + 50ms));
  EXPECT_GE(Clock::now() - start, 50ms);
  EXPECT_EQ(out[0].to_string(), "lost");
}

INSTANTIATE_TEST_SUITE_P(AllTransports, SocketTransports,
                         ::testing::Values(Transport::kTcp, Transport::kIpc, Transport::kInproc),
                         [](const auto& info) { return transportName(info.param); });

TEST(Socket, OversizedFramesAreDroppedByLibzmqOnTcpAndTheReceiverKeepsWorking) {
  ZmqContext context;
  SocketOptions small;
  small.max_message_bytes = 1024;
  Socket pull(context, SocketType::kPull, small);
  const std::string endpoint = pull.bind("tcp://127.0.0.1:*");
  SocketOptions no_linger;
  no_linger.linger_ms = 0;
  Socket offender(context, SocketType::kPush, no_linger);
  offender.connect(endpoint);
  Frames big = textFrames({std::string(4096, 'B')});
  ASSERT_TRUE(offender.sendFrames(big, deadlineAfter(5s)));
  // libzmq drops the offender's connection on the oversized frame, together with whatever else
  // that connection carried; the receiving socket itself goes on serving other peers.
  Socket good(context, SocketType::kPush);
  good.connect(endpoint);
  Frames ok = textFrames({"small"});
  ASSERT_TRUE(good.sendFrames(ok, deadlineAfter(5s)));
  auto in = pull.recvFrames(deadlineAfter(10s));
  ASSERT_TRUE(in);
  EXPECT_EQ(texts(*in), (std::vector<std::string>{"small"}));
  EXPECT_EQ(pull.recvFrames(deadlineAfter(200ms)), std::nullopt);  // the big frame never arrives
}

TEST(Socket, RouterReplyToAnUnknownPeerThrowsDisconnected) {
  ZmqContext context;
  Socket router(context, SocketType::kRouter);
  router.bind("tcp://127.0.0.1:*");
  Frames out = textFrames({"no-such-peer", "hello"});
  EXPECT_THROW(router.sendFrames(out, deadlineAfter(1s)), Disconnected);
}

TEST(Socket, UseFromAThreadThatDoesNotOwnItIsABug) {
  ZmqContext context;
  Socket socket(context, SocketType::kPull);
  std::string error;
  std::thread other([&] {
    try {
      socket.bind("inproc://" + uniqueName("owner"));
    } catch (const InternalError& e) {
      error = e.what();
    }
  });
  other.join();
  EXPECT_THAT(error, HasSubstr("does not own the socket"));
  std::string endpoint;
  std::thread adopter([&] {
    socket.adoptByCurrentThread();
    endpoint = socket.bind("inproc://" + uniqueName("owner"));
  });
  adopter.join();
  EXPECT_THAT(endpoint, StartsWith("inproc://owner-"));
}

TEST(Socket, ShutdownWakesABlockedRecvWithDisconnected) {
  ZmqContext context;
  std::mutex mutex;
  std::condition_variable cv;
  bool about_to_block = false;
  std::string error;
  std::thread receiver([&] {
    Socket pull(context, SocketType::kPull);
    pull.bind("inproc://" + uniqueName("shutdown"));
    {
      std::lock_guard<std::mutex> lock(mutex);
      about_to_block = true;
    }
    cv.notify_one();
    try {
      pull.recvFrames(noDeadline());
      error = "recv returned";
    } catch (const Disconnected& e) {
      error = e.what();
    }
  });
  {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return about_to_block; });
  }
  context.shutdown();
  receiver.join();  // hangs (test timeout) if shutdown does not wake it
  EXPECT_THAT(error, HasSubstr("shut down"));
  EXPECT_TRUE(context.isShutdown());
}

TEST(Socket, CallsAfterShutdownThrowDisconnected) {
  ZmqContext context;
  Socket push(context, SocketType::kPush);
  push.connect("inproc://" + uniqueName("nobody"));
  context.shutdown();
  Frames out = textFrames({"x"});
  EXPECT_THROW(push.sendFrames(out, deadlineAfter(1s)), Disconnected);
  EXPECT_THROW(Socket(context, SocketType::kPull), Disconnected);
}

TEST(Socket, MovedSocketsKeepWorkingAndTheContextCountsThem) {
  ZmqContext context;
  {
    Socket a(context, SocketType::kPair);
    EXPECT_EQ(context.liveSockets(), 1);
    Socket b(std::move(a));
    EXPECT_FALSE(a.isOpen());
    EXPECT_TRUE(b.isOpen());
    EXPECT_EQ(context.liveSockets(), 1);
    EXPECT_THROW(a.bind("inproc://x"), InternalError);
    Socket c(context, SocketType::kPair);
    EXPECT_EQ(context.liveSockets(), 2);
    c = std::move(b);
    EXPECT_EQ(context.liveSockets(), 1);
  }
  EXPECT_EQ(context.liveSockets(), 0);
}

TEST(Deadline, DeadlineAfterSaturates) {
  EXPECT_EQ(deadlineAfter(Clock::duration::max()), noDeadline());
  const auto d = deadlineAfter(10ms);
  EXPECT_GT(d, Clock::now());
  EXPECT_LE(d, Clock::now() + 10ms);
}

}  // namespace
}  // namespace gramrl::transport
