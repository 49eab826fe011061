#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>

#include "common/core/errors.h"
#include "common/rendezvous/rendezvous.h"

namespace gramrl {
namespace {

namespace bp = boost::process;
using namespace std::chrono_literals;

TEST(RendezvousAddress, Parses) {
  RendezvousAddress a = RendezvousAddress::parse("10.0.0.5:29500");
  EXPECT_EQ(a.host, "10.0.0.5");
  EXPECT_EQ(a.port, 29500);
  EXPECT_EQ(a.toString(), "10.0.0.5:29500");
}

TEST(RendezvousAddress, RejectsMalformed) {
  EXPECT_THROW(RendezvousAddress::parse("localhost"), ConfigError);
  EXPECT_THROW(RendezvousAddress::parse(":29500"), ConfigError);
  EXPECT_THROW(RendezvousAddress::parse("host:"), ConfigError);
  EXPECT_THROW(RendezvousAddress::parse("host:abc"), ConfigError);
  EXPECT_THROW(RendezvousAddress::parse("host:0"), ConfigError);
  EXPECT_THROW(RendezvousAddress::parse("host:70000"), ConfigError);
}

TEST(EndpointKey, ValidatesNames) {
  EXPECT_EQ(endpointKey("reward", 2, "score"), "gramrl/ep/reward/2/score");
  EXPECT_THROW(endpointKey("", 0, "x"), ConfigError);
  EXPECT_THROW(endpointKey("a/b", 0, "x"), ConfigError);
  EXPECT_THROW(endpointKey("a", -1, "x"), ConfigError);
  EXPECT_THROW(endpointKey("a", 0, "x y"), ConfigError);
}

// NOTE [Published endpoints are dialable]: a wildcard bind is registered under this host's name.
TEST(Rendezvous, AWildcardEndpointIsPublishedWithTheHostName) {
  auto host = Rendezvous::host({"127.0.0.1", 0}, 5s);
  char name[256] = {};
  ASSERT_EQ(::gethostname(name, sizeof(name) - 1), 0);
  host->publish("reward", 0, "zmq", "tcp://0.0.0.0:5555");
  host->publish("reward", 1, "zmq", "tcp://*:5556");
  host->publish("reward", 2, "zmq", "tcp://127.0.0.1:5557");
  EXPECT_EQ(host->lookup("reward", 0, "zmq", 1s), "tcp://" + std::string(name) + ":5555");
  EXPECT_EQ(host->lookup("reward", 1, "zmq", 1s), "tcp://" + std::string(name) + ":5556");
  EXPECT_EQ(host->lookup("reward", 2, "zmq", 1s), "tcp://127.0.0.1:5557");
}

TEST(Rendezvous, HostOnEphemeralPortPublishesAndLooksUp) {
  auto host = Rendezvous::host({"127.0.0.1", 0}, 5s);
  ASSERT_NE(host->address().port, 0);
  EXPECT_TRUE(host->isHost());
  host->publish("reward", 0, "score", "tcp://127.0.0.1:5555");
  auto client = Rendezvous::connect(host->address(), 5s);
  EXPECT_FALSE(client->isHost());
  EXPECT_EQ(client->lookup("reward", 0, "score", 1s), "tcp://127.0.0.1:5555");
  client->publish("reward", 0, "score", "tcp://127.0.0.1:6666");  // a restarted replica
  EXPECT_EQ(host->lookup("reward", 0, "score", 1s), "tcp://127.0.0.1:6666");
  EXPECT_EQ(client->add("n", 2), 2);
  EXPECT_EQ(host->add("n", 3), 5);
}

TEST(Rendezvous, LookupOfAnUnregisteredEndpointTimesOut) {
  auto host = Rendezvous::host({"127.0.0.1", 0}, 5s);
  const auto start = std::chrono::steady_clock::now();
  try {
    host->lookup("actor", 9, "rollout", 300ms);
    FAIL() << "expected Timeout";
  } catch (const Timeout& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("no endpoint 'rollout' of actor 9 was registered within 300 ms"), std::string::npos) << what;
  }
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 5s);
}

TEST(Rendezvous, ConnectToNobodyFailsWithinTheTimeout) {
  // Take a free port from a store we then close, so nothing listens there.
  uint16_t port = 0;
  {
    auto probe = Rendezvous::host({"127.0.0.1", 0}, 1s);
    port = probe->address().port;
  }
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(Rendezvous::connect({"127.0.0.1", port}, 500ms), Timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(Rendezvous, TwoRealProcessesFindEachOther) {
  auto host = Rendezvous::host({"127.0.0.1", 0}, 10s);
  host->publish("learner", 0, "weights", "tcp://127.0.0.1:39999");
  const std::string address = host->address().toString();

  constexpr int kPeers = 2;
  std::vector<bp::ipstream> outs(kPeers);
  std::vector<bp::child> peers;
  for (int i = 0; i < kPeers; ++i) {
    peers.emplace_back(GRAMRL_RENDEZVOUS_PEER, bp::args({address, std::to_string(i + 1)}), bp::std_out > outs[i]);
  }
  for (int i = 0; i < kPeers; ++i) {
    EXPECT_EQ(host->lookup("actor", i + 1, "rollout", 10s), "tcp://127.0.0.1:" + std::to_string(40001 + i));
  }
  std::set<std::string> lines;
  for (int i = 0; i < kPeers; ++i) {
    std::string line;
    std::getline(outs[i], line);
    lines.insert(line);
  }
  host->set("done", "1");
  for (auto& p : peers) {
    p.wait();
    EXPECT_EQ(p.exit_code(), 0);
  }
  // Each peer saw the host's endpoint, and the shared counter gave them distinct tickets.
  EXPECT_EQ(lines, (std::set<std::string>{"weights=tcp://127.0.0.1:39999 joined=1",
                                          "weights=tcp://127.0.0.1:39999 joined=2"}));
}

}  // namespace
}  // namespace gramrl
