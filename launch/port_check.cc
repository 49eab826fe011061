#include "launch/port_check.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/core.h>

namespace gramrl::cli {

std::vector<ConfiguredPort> configuredPorts(const ExperimentConfig& config) {
  std::vector<ConfiguredPort> ports;
  const auto& server = config.reward.server;
  const std::string& bind_host = config.launch.transport.bind_host;
  for (int64_t i = 0; server.port != 0 && i < config.reward.replicas; ++i) {
    ports.push_back(
        {"reward.server.port", bind_host, server.port + i, fmt::format("the ZeroMQ endpoint of reward replica {}", i)});
  }
  for (int64_t i = 0; server.http_port != 0 && i < config.reward.replicas; ++i) {
    ports.push_back({"reward.server.http_port", bind_host, server.http_port + i,
                     fmt::format("the HTTP endpoint of reward replica {}", i)});
  }
  const auto& rendezvous = config.launch.rendezvous;
  if (rendezvous.port != 0) {
    ports.push_back({"launch.rendezvous.port", rendezvous.host, rendezvous.port, "the rendezvous store"});
  }
  return ports;
}

std::string tryBindTcp(const std::string& host, int64_t port) {
  std::string name = host;
  if (name == "*" || name.empty()) name = "0.0.0.0";
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (::getaddrinfo(name.c_str(), service.c_str(), &hints, &found) != 0 || found == nullptr) return "";
  std::string why;
  for (addrinfo* a = found; a != nullptr && why.empty(); a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    // As libzmq and Boost.Asio bind: SO_REUSEADDR, so a port in TIME_WAIT is not "in use".
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0) {
      const int err = errno;
      if (err == EADDRINUSE) why = "in use by another process";
      if (err == EACCES) why = "a privileged port (below 1024) this user cannot bind";
      // EADDRNOTAVAIL and the rest: not an address of this machine; nothing to say here.
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return why;
}

std::vector<ConfigIssue> checkConfiguredPorts(const ExperimentConfig& config) {
  std::vector<ConfigIssue> issues;
  for (const ConfiguredPort& p : configuredPorts(config)) {
    const std::string why = tryBindTcp(p.host, p.port);
    if (why.empty()) continue;
    issues.push_back({p.key,
                      fmt::format("port {} on {} ({}) is {}; stop what holds it or choose another port "
                                  "(or 0 for a free one)",
                                  p.port, p.host, p.what, why),
                      SourceLocation{"bind test on this machine"}});
  }
  return issues;
}

}  // namespace gramrl::cli
