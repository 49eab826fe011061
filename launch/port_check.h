// The ports a config asks processes to bind, tried on this machine by `gramrl config check`.
//
// NOTE [Ports are checked before anything starts]
// A port another process holds used to pass `config check` and fail only when `reward serve`
// (or the rendezvous store) bound it (issue 15). checkConfiguredPorts binds a plain TCP socket to
// every fixed port of the config, on the address that process would bind, and closes it again:
// EADDRINUSE and EACCES are issues naming the key and the port. An address that is not this
// machine's (a cluster's bind_host or rendezvous host, checked on a login node) is skipped: the
// check can only speak for the machine it runs on. It is a snapshot (the port may be taken a
// moment later); the bind itself stays the last word, and `reward serve` prints "serving" only
// once every endpoint is bound. Port 0 (a free port picked at bind time) is never checked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/config_node.h"
#include "common/config/experiment_config.h"

namespace gramrl::cli {

// One port a config makes some process bind.
struct ConfiguredPort {
  std::string key;   // the config key that sets it, e.g. "reward.server.port"
  std::string host;  // the address it is bound on
  int64_t port = 0;
  std::string what;  // "the ZeroMQ endpoint of reward replica 1"
};

// reward.server.port + i and http_port + i (i < reward.replicas) on launch.transport.bind_host,
// launch.rendezvous.port on launch.rendezvous.host; ports that are 0 are left out.
std::vector<ConfiguredPort> configuredPorts(const ExperimentConfig& config);

// "" when a TCP socket can bind host:port now (or the host is not an address of this machine),
// else why not ("in use by another process", "needs privileges"). Does not throw.
std::string tryBindTcp(const std::string& host, int64_t port);

// One issue per configured port that cannot be bound now (NOTE above). Threads: any. Does not
// throw; takes about a millisecond per port.
std::vector<ConfigIssue> checkConfiguredPorts(const ExperimentConfig& config);

}  // namespace gramrl::cli
