// NOTE [Ports are checked before anything starts]: `config check` bind-tests the configured ports.
#include "launch/port_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace gramrl::cli {
namespace {

// A TCP socket bound and listening on 127.0.0.1 at a port the kernel picks: "in use" while held.
class HeldPort {
 public:
  HeldPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t length = sizeof(address);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
  }
  ~HeldPort() { ::close(fd_); }
  int64_t port() const { return port_; }

 private:
  int fd_ = -1;
  int64_t port_ = 0;
};

// Whether a TCP socket can bind 127.0.0.1:port now.
bool canBind(int64_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return ok;
}

std::string describeAll(const std::vector<ConfigIssue>& issues) {
  std::string all;
  for (const auto& i : issues) all += i.describe() + "\n";
  return all;
}

TEST(PortCheck, EveryHeldPortIsReportedUnderItsKey) {
  // Replica 1 of reward.server.port, held; replica 0 takes the port below it, which must be free
  // (another process on the machine may hold it: then pick again).
  auto zmq_second_replica = std::make_unique<HeldPort>();
  for (int attempt = 0; attempt < 50 && !canBind(zmq_second_replica->port() - 1); ++attempt) {
    zmq_second_replica = std::make_unique<HeldPort>();
  }
  HeldPort http;
  HeldPort store;
  ExperimentConfig config;
  config.launch.transport.bind_host = "127.0.0.1";
  config.reward.replicas = 2;
  config.reward.server.port = zmq_second_replica->port() - 1;
  config.reward.server.http_port = http.port();
  config.launch.rendezvous.host = "127.0.0.1";
  config.launch.rendezvous.port = store.port();
  const std::vector<ConfigIssue> issues = checkConfiguredPorts(config);
  const std::string all = describeAll(issues);
  ASSERT_EQ(issues.size(), 3u) << all;
  EXPECT_EQ(issues[0].path, "reward.server.port");
  EXPECT_NE(issues[0].message.find("port " + std::to_string(zmq_second_replica->port()) +
                                   " on 127.0.0.1 (the ZeroMQ endpoint of reward replica 1) is in use"),
            std::string::npos)
      << all;
  EXPECT_EQ(issues[1].path, "reward.server.http_port");
  EXPECT_NE(issues[1].message.find("HTTP endpoint of reward replica 0"), std::string::npos) << all;
  EXPECT_EQ(issues[2].path, "launch.rendezvous.port");
  EXPECT_NE(issues[2].describe().find("(bind test on this machine)"), std::string::npos) << all;
}

TEST(PortCheck, FreePortsZeroAndAddressesOfOtherMachinesPass) {
  int64_t freed = 0;
  {
    HeldPort p;
    freed = p.port();
  }
  ExperimentConfig config;
  config.launch.transport.bind_host = "127.0.0.1";
  config.reward.server.port = freed;
  config.reward.server.http_port = 0;
  config.launch.rendezvous.port = 0;
  EXPECT_EQ(describeAll(checkConfiguredPorts(config)), "");
  EXPECT_EQ(configuredPorts(config).size(), 1u);
  config.reward.server.port = 0;
  EXPECT_TRUE(configuredPorts(config).empty());
  // A held port, but on an address that is not this machine's (TEST-NET-3): nothing to say here.
  HeldPort held;
  config.launch.transport.bind_host = "203.0.113.7";
  config.reward.server.port = held.port();
  EXPECT_EQ(describeAll(checkConfiguredPorts(config)), "");
  // Every interface ("*", 0.0.0.0) includes loopback, where the port is held.
  for (const char* any : {"*", "0.0.0.0"}) {
    config.launch.transport.bind_host = any;
    EXPECT_NE(tryBindTcp(any, held.port()), "") << any;
  }
}

}  // namespace
}  // namespace gramrl::cli
