// <run_dir>/status.json: the launcher's table of processes (heartbeat_monitor.h), written
// atomically every launch.heartbeat_ms while the run lives, and read by `gramrl status RUN_DIR`.
//
// NOTE [Status from a file]
// `gramrl status` reads a file rather than asking the launcher over the control channel: it
// works from any machine that sees the run directory (a Slurm login node, where the batch host's
// loopback port is out of reach), needs no port or key, and after the launcher has ended (or
// been killed) it still shows the last table, with its age and whether the launcher's pid is
// alive, which is what one needs to know after a crash. The launcher's own status lines are
// made from the same rows (formatRoleLines), so the two can never disagree.
//
// Threads: pure functions. Throws: SystemError when the file cannot be written; ConfigError
// (naming the file) when it cannot be read or parsed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/control/heartbeat_monitor.h"

namespace gramrl::control {

struct StatusFile {
  int64_t updated_unix_ms = 0;
  int64_t launcher_pid = 0;
  std::string launcher_host;
  double heartbeat_timeout_s = 0;
  std::vector<ProcessStatus> processes;
};

void writeStatusFile(const std::string& path, const StatusFile& status);
StatusFile readStatusFile(const std::string& path);

// The table `gramrl status` prints: one row per process.
std::string formatStatusTable(const StatusFile& status, int64_t now_unix_ms);
// One line per role for the launcher's log: "actor: 2 of 2 running (ready 2), 1 restart(s), step 12, policy v5".
std::vector<std::string> formatRoleLines(const std::vector<ProcessStatus>& processes);

}  // namespace gramrl::control
