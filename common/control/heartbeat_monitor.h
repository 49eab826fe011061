// The launcher side of the control channel: receives every process's heartbeats and keeps the
// table of processes that the launcher's status lines, its status file (status_file.h) and
// its hang detection all read.
//
// NOTE [Heartbeats]
// Every process of a run (learner ranks, reward replicas, rollout actors) sends a Heartbeat
// (schemas/control.capnp) every launch.heartbeat_ms from a thread of its own
// (heartbeat_sender.h): its state, step and policy version. The launcher binds one PULL socket
// (loopback unless launch.transport.bind_host says otherwise) and tells each process where it
// is through $GRAMRL_CONTROL. A process counts as hung when nothing has come from it for
// launch.heartbeat_timeout_s since its last beat. Before its first beat the limit is the longer
// start timeout (launch.rendezvous.timeout_s, the time a process may take to join the run): the
// sender starts before any model is loaded, but loading LibTorch and the config when several
// processes start at once on a loaded machine took over 3 s here, and that is not a hang.
// A hung process is SIGKILLed by the supervisor and then handled exactly as a dead one
// (restarted up to launch.restart_limit, or the run stops: NOTE [Process lifetimes] in
// launch/local_launcher.h). Beats are matched to the process by
// (role, index) and by pid, so a beat still in flight from a killed process cannot vouch for
// its replacement. Beats are fire-and-forget (PUSH/PULL, no reply): a launcher that is slow to
// read costs nothing to the workers, and a beat that cannot be queued is dropped.
//
// Threads: one receive thread owns the socket; every public method may be called from any
// thread (one mutex). Blocking: none (the destructor joins the thread within ~100 ms).
// Malformed or unknown messages are counted and dropped, never thrown.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gramrl::control {

// One row of the table of processes: what the launcher knows and what the last beat said.
struct ProcessStatus {
  std::string name;  // "actor-1"
  std::string role;  // "learner" | "actor" | "reward"
  int64_t index = 0;
  pid_t pid = -1;                  // the process the launcher started (-1 while none)
  bool running = false;            // from the supervisor
  int64_t restarts = 0;            // from the supervisor
  std::string host;                // from the beats (empty before the first)
  int64_t worker_pid = -1;         // from the beats: the process's own pid (behind srun, not srun's)
  std::string state = "starting";  // the last beat's state; "exited" once it has ended
  int64_t step = -1;
  int64_t policy_version = -1;
  std::string detail;
  uint64_t beats = 0;              // beats received from this pid
  double seconds_since_beat = -1;  // -1: none yet from this pid
  bool hung = false;               // killed for missing its beats
};

class HeartbeatMonitor {
 public:
  using Clock = std::chrono::steady_clock;

  // Binds tcp://bind_host:* and starts the receive thread. `timeout`: silence after which a
  // running process is hung; `start_timeout`: the same before its first beat (at least `timeout`).
  HeartbeatMonitor(const std::string& bind_host, std::chrono::milliseconds timeout,
                   std::chrono::milliseconds start_timeout);
  ~HeartbeatMonitor();
  HeartbeatMonitor(const HeartbeatMonitor&) = delete;
  HeartbeatMonitor& operator=(const HeartbeatMonitor&) = delete;

  // The endpoint to give processes ($GRAMRL_CONTROL).
  const std::string& endpoint() const { return endpoint_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // The process `name` (role-index) was (re)started as `pid`: its silence is counted from now,
  // and beats from a pid other than `beat_pid` are ignored (0: any pid, for a process behind a
  // wrapper such as srun whose own pid the launcher does not know).
  void started(const std::string& name, const std::string& role, int64_t index, pid_t pid, pid_t beat_pid);
  void started(const std::string& name, const std::string& role, int64_t index, pid_t pid) {
    started(name, role, index, pid, pid);
  }
  // The supervisor's view: whether it runs and how often it was restarted.
  void update(const std::string& name, bool running, int64_t restarts);
  // Running processes silent for longer than the timeout, with how long each has been silent.
  std::vector<std::pair<std::string, double>> hung(Clock::time_point now = Clock::now());
  void markHung(const std::string& name);
  // The table, in the order processes were first started.
  std::vector<ProcessStatus> snapshot(Clock::time_point now = Clock::now()) const;
  // Messages dropped as malformed or from unknown processes.
  uint64_t dropped() const { return dropped_.load(); }

 private:
  struct Entry {
    ProcessStatus status;
    Clock::time_point since;  // last beat, or the start if none yet
    pid_t beat_pid = 0;       // beats must come from this pid (0: any)
  };
  void loop();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds start_timeout_;
  mutable std::mutex mu_;
  std::vector<std::string> order_;      // guarded by mu_
  std::map<std::string, Entry> table_;  // guarded by mu_
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> dropped_{0};
  std::thread thread_;
};

}  // namespace gramrl::control
