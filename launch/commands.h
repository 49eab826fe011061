// Subcommands of the `gramrl` command line, as plain functions over plain argument structs.
// Only main.cc sees CLI11 (it costs ~8 s of compile time per translation unit), so editing a
// command's logic rebuilds one light file.
// Each run* function returns the process exit code; gramrl::Error escapes to main, which maps it.
#pragma once

#include <string>
#include <vector>

namespace gramrl::cli {

// gramrl config check FILE... [section.key=value...]
struct ConfigCheckArgs {
  std::vector<std::string> files;
  std::vector<std::string> overrides;
  bool quiet = false;
  // Bind-test the configured ports (NOTE [Ports are checked before anything starts]).
  bool check_ports = true;
};
// Splits positional arguments: those containing '=' are overrides, the rest config files.
ConfigCheckArgs splitConfigCheckArgs(const std::vector<std::string>& positional, bool quiet, bool check_ports = true);
int runConfigCheck(const ConfigCheckArgs& args);
// gramrl config reference
int runConfigReference();

// gramrl selftest transport | transport-peer
struct SelftestArgs {
  std::string config;  // optional: take launch.transport limits and timeouts from it
  std::vector<std::string> transports{"tcp", "ipc"};
  int messages = 200;
  double payload_mb = 16;
  std::string rendezvous;  // peer only: host:port of the parent's store
};
int runSelftestTransport(const SelftestArgs& args);
int runSelftestPeer(const SelftestArgs& args);

}  // namespace gramrl::cli
