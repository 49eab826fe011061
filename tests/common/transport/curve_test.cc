// CurveZMQ (NOTE [CurveZMQ] in common/transport/curve.h): key directories written and read back,
// bad key files named in the error, and a CURVE server that talks to an authorized client only.
#include "common/transport/curve.h"

#include <sys/stat.h>
#include <zmq.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "common/transport/message_socket.h"
#include "tests/common/transport/test_messages.h"
#include "tests/common/transport/test_util.h"
#include "tests/support/files.h"

namespace gramrl::transport {
namespace {

using namespace std::chrono_literals;
using namespace gramrl::transport::testing;
using ::gramrl::testing::slurp;
using ::gramrl::testing::spit;
using ::testing::HasSubstr;

// The ConfigError message of `f`, or "" when it does not throw one.
template <class F>
std::string configErrorOf(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

unsigned permissionsOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(CurveKeys, KeygenWritesEveryFileAndLoads) {
  TempDir dir;
  const std::string keys_dir = dir.file("keys");
  writeCurveKeyDir(keys_dir);
  for (const char* name :
       {"server.key", "server.key_secret", "client.key", "client.key_secret", "authorized_clients/client.key"}) {
    const std::string text = slurp(keys_dir + "/" + name);
    ASSERT_EQ(text.size(), kCurveKeyZ85Chars + 1) << name;
    EXPECT_EQ(text.back(), '\n') << name;
  }
  EXPECT_EQ(permissionsOf(keys_dir + "/server.key_secret"), 0600u);
  EXPECT_EQ(permissionsOf(keys_dir + "/client.key_secret"), 0600u);
  EXPECT_EQ(slurp(keys_dir + "/authorized_clients/client.key"), slurp(keys_dir + "/client.key"));
  EXPECT_NE(slurp(keys_dir + "/server.key"), slurp(keys_dir + "/client.key"));
  // No temporary file is left behind.
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(keys_dir)) files += entry.is_regular_file();
  EXPECT_EQ(files, 5u);

  const auto server = loadCurveKeys(keys_dir, CurveRole::kServer);
  EXPECT_EQ(server.server_public + "\n", slurp(keys_dir + "/server.key"));
  EXPECT_EQ(server.server_secret + "\n", slurp(keys_dir + "/server.key_secret"));
  EXPECT_TRUE(server.client_secret.empty());
  ASSERT_EQ(server.authorized_clients.size(), 1u);
  EXPECT_EQ(server.authorized_clients[0] + "\n", slurp(keys_dir + "/client.key"));

  const auto client = loadCurveKeys(keys_dir, CurveRole::kClient);
  EXPECT_EQ(client.server_public, server.server_public);
  EXPECT_EQ(client.client_public + "\n", slurp(keys_dir + "/client.key"));
  EXPECT_EQ(client.client_secret + "\n", slurp(keys_dir + "/client.key_secret"));
  EXPECT_TRUE(client.server_secret.empty());

  // keygen never overwrites keys.
  EXPECT_THAT(configErrorOf([&] { writeCurveKeyDir(keys_dir); }), HasSubstr("server.key already exists"));
}

TEST(CurveKeys, BadKeyFilesAreNamed) {
  TempDir dir;
  const std::string keys = dir.file("keys");
  writeCurveKeyDir(keys);
  const std::string good_server_secret = slurp(keys + "/server.key_secret");

  EXPECT_THAT(configErrorOf([&] { loadCurveKeys(dir.file("nowhere"), CurveRole::kServer); }),
              HasSubstr(dir.file("nowhere") + ": missing"));

  std::filesystem::remove(keys + "/server.key_secret");
  EXPECT_THAT(configErrorOf([&] { loadCurveKeys(keys, CurveRole::kServer); }),
              HasSubstr("curve key file " + keys + "/server.key_secret: missing"));
  // The client role does not need the server's secret.
  EXPECT_NO_THROW(loadCurveKeys(keys, CurveRole::kClient));

  spit(keys + "/server.key_secret", "tooShort\n");
  EXPECT_THAT(configErrorOf([&] { loadCurveKeys(keys, CurveRole::kServer); }),
              HasSubstr(keys + "/server.key_secret: expected a 40-character Z85 key, got 8 characters"));

  spit(keys + "/server.key_secret", std::string(40, '~') + "\n");  // '~' is not in the Z85 alphabet
  EXPECT_THAT(configErrorOf([&] { loadCurveKeys(keys, CurveRole::kServer); }),
              HasSubstr(keys + "/server.key_secret: not a Z85 key"));

  spit(keys + "/server.key_secret", slurp(keys + "/client.key_secret"));  // a valid key of another pair
  EXPECT_THAT(configErrorOf([&] { loadCurveKeys(keys, CurveRole::kServer); }),
              HasSubstr("the public key is not the secret key's"));

  spit(keys + "/server.key_secret", good_server_secret);
  std::filesystem::remove(keys + "/authorized_clients/client.key");
  EXPECT_THAT(configErrorOf([&] { loadCurveKeys(keys, CurveRole::kServer); }),
              HasSubstr(keys + "/authorized_clients: no *.key file"));

  spit(keys + "/client.key", "\n");
  EXPECT_THAT(configErrorOf([&] { loadCurveKeys(keys, CurveRole::kClient); }),
              HasSubstr(keys + "/client.key: expected a 40-character Z85 key, got 0 characters"));
}

TEST(CurveKeys, SocketOptionsAreChecked) {
  ZmqContext context;
  SocketOptions options;
  options.curve_server = true;
  options.curve_secret_key = "short";
  EXPECT_THAT(configErrorOf([&] { Socket(context, SocketType::kRouter, options); }),
              HasSubstr("SocketOptions.curve_secret_key: expected a 40-character Z85 key, got 5 characters"));
  SocketOptions keys_only;
  keys_only.curve_public_key = generateCurveKeyPair().public_key;
  EXPECT_THAT(configErrorOf([&] { Socket(context, SocketType::kDealer, keys_only); }),
              HasSubstr("neither curve_server nor curve_server_key"));
  EXPECT_EQ(context.liveSockets(), 0);
}

// A CURVE reward server (ROUTER) behind a ZapAuthenticator with the key directory's client.
class CurveServerTest : public ::testing::Test {
 protected:
  CurveServerTest() {
    writeCurveKeyDir(dir_.file("keys"));
    server_keys_ = loadCurveKeys(dir_.file("keys"), CurveRole::kServer);
    client_keys_ = loadCurveKeys(dir_.file("keys"), CurveRole::kClient);
    auth_.emplace(context_, server_keys_.authorized_clients, "gramrl");
    SocketOptions options;
    setCurveServerOptions(options, server_keys_);
    server_.emplace(context_, SocketType::kRouter, Channel::kReward, options);
    endpoint_ = server_->bind("tcp://127.0.0.1:*");
  }
  ~CurveServerTest() override {
    server_.reset();
    auth_.reset();
  }

  MessageSocket client(SocketOptions options) {
    options.linger_ms = 0;  // a refused client's queued request must not delay the context's end
    MessageSocket socket(context_, SocketType::kDealer, Channel::kReward, options);
    socket.connect(endpoint_);
    return socket;
  }

  TempDir dir_;
  ZmqContext context_;
  CurveKeys server_keys_;
  CurveKeys client_keys_;
  std::optional<ZapAuthenticator> auth_;
  std::optional<MessageSocket> server_;
  std::string endpoint_;
};

TEST_F(CurveServerTest, AuthorizedClientExchangesMessages) {
  SocketOptions options;
  setCurveClientOptions(options, client_keys_);
  auto dealer = client(options);
  ASSERT_TRUE(dealer.send(makeScoreRequest(41, 3), deadlineAfter(10s)));
  auto request = server_->recv(deadlineAfter(10s));
  ASSERT_TRUE(request.has_value()) << "no request within 10 s";
  ASSERT_TRUE(request->ok()) << request->error;
  expectScoreRequest(request->message.getRoot<wire::RewardMessage>(), 41, 3);
  ASSERT_TRUE(server_->sendTo(request->peer, makeScoreReply(41, 3), deadlineAfter(10s)));
  auto reply = dealer.recv(deadlineAfter(10s));
  ASSERT_TRUE(reply.has_value()) << "no reply within 10 s";
  ASSERT_TRUE(reply->ok()) << reply->error;
  EXPECT_EQ(reply->message.getRoot<wire::RewardMessage>().getSeq(), 41u);
  EXPECT_EQ(auth_->acceptedCount(), 1u);
  EXPECT_EQ(auth_->refusedCount(), 0u);
  EXPECT_NO_THROW(auth_->rethrowIfFailed());
}

TEST_F(CurveServerTest, UnauthorizedClientIsRefused) {
  SocketOptions options;
  setCurveClientOptions(options, client_keys_);
  const auto stranger = generateCurveKeyPair();  // valid keys, not in authorized_clients/
  options.curve_public_key = stranger.public_key;
  options.curve_secret_key = stranger.secret_key;
  auto dealer = client(options);
  ASSERT_TRUE(dealer.send(makeScoreRequest(42, 1), deadlineAfter(10s)));  // queued for the connection
  // Wait (bounded) for the handler's answer; then the connection is gone and nothing can arrive.
  const auto until = deadlineAfter(10s);
  while (auth_->refusedCount() == 0 && Clock::now() < until) std::this_thread::sleep_for(5ms);
  EXPECT_GE(auth_->refusedCount(), 1u);
  EXPECT_EQ(auth_->acceptedCount(), 0u);
  EXPECT_FALSE(server_->recv(deadlineAfter(300ms)).has_value()) << "a refused client's message was delivered";
  EXPECT_FALSE(dealer.recv(deadlineAfter(10ms)).has_value());
}

TEST_F(CurveServerTest, PlainClientGetsNothing) {
  // A monitor tells when the server has failed the plain client's handshake.
  const std::string monitor_endpoint = "inproc://" + uniqueName("curve-monitor");
  ASSERT_EQ(zmq_socket_monitor(server_->socket().handle(), monitor_endpoint.c_str(),
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                   ZMQ_EVENT_HANDSHAKE_SUCCEEDED),
            0);
  Socket monitor(context_, SocketType::kPair);
  monitor.connect(monitor_endpoint);

  auto dealer = client(SocketOptions{});
  ASSERT_TRUE(dealer.send(makeScoreRequest(43, 1), deadlineAfter(10s)));
  auto event = monitor.recvFrames(deadlineAfter(10s));
  ASSERT_TRUE(event.has_value()) << "no handshake event within 10 s";
  ASSERT_GE(event->size(), 1u);
  ASSERT_GE((*event)[0].size(), 2u);
  uint16_t id = 0;
  std::memcpy(&id, (*event)[0].data(), 2);
  EXPECT_NE(id, ZMQ_EVENT_HANDSHAKE_SUCCEEDED) << "a plain client completed a CURVE handshake";
  EXPECT_FALSE(server_->recv(deadlineAfter(300ms)).has_value()) << "a plain client's message was delivered";
  EXPECT_EQ(auth_->acceptedCount(), 0u);
  zmq_socket_monitor(server_->socket().handle(), nullptr, 0);
}

TEST_F(CurveServerTest, OneAuthenticatorPerContext) {
  try {
    ZapAuthenticator second(context_, server_keys_.authorized_clients);
    FAIL() << "a second ZAP handler bound";
  } catch (const SystemError& e) {
    EXPECT_THAT(e.what(), HasSubstr("a ZAP handler is already running in this context"));
  }
}

}  // namespace
}  // namespace gramrl::transport
