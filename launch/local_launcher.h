// Starts the processes of a run on this machine and watches them until they end.
//
// NOTE [Local supervision]
// Each process is fork/exec'd in a process group of its own, with default signal handling and
// PR_SET_PDEATHSIG = SIGTERM, so it cannot outlive a launcher that is killed; stop signals go to
// the whole group (what a wrapper script started stops with it). The launcher then waits: when every process has exited
// 0 it returns 0; when one exits non-zero or is killed by a signal, it names that process (and its log file), sends
// SIGTERM to the others, waits up to `grace` for them and SIGKILLs what is left, then returns
// the failed process's exit code (128 + signal for a signal). SIGINT and SIGTERM sent to the
// launcher are forwarded the same way. Processes with a log_file get stdout and stderr appended
// there; the others share the launcher's terminal.
//
// NOTE [Process lifetimes]
// A process either runs to completion (learner ranks) or serves until stopped (reward replicas,
// rollout actors). The run is over when every process that runs to completion has exited 0:
// the serving ones are then sent SIGTERM (they drain), and SIGKILLed after `grace`; how they
// end no longer matters. A serving process that exits 0 by itself (an actor told the run is
// finished) is done. A process that fails is started again, up to its restart_limit times
// (launch.restart_limit), with the same command line; past that, it fails the run as above.
//
// NOTE [Learner restarts]
// Learner ranks train in lockstep (every collective needs them all), so one cannot be replaced
// alone: processes that share a restart_group (the learner ranks) fail and restart as one. When
// one of them fails and the group has restarts left (launch.restart_limit), the others are
// SIGKILLed (they would only wait in a collective for the dead one), and so are the processes
// that follow the group (follows_group: the actors, which hold leases and weights of the
// learners that are gone); once all of them have exited, the before_group_restart hook runs (the
// rlhf launcher removes the learner's endpoints from the rendezvous store there, so that the new
// actors wait for the new learner) and every one of them is started again with the same command
// line and GRAMRL_RESTART_ATTEMPT=<the group's restart count> in its environment (the learner
// names its process group by it, so that the new group meets none of the old one's store keys).
// The learners resume from the newest checkpoint, as after a stop; the ledger in it makes the
// prompts of the lost steps go out again. Serving processes outside the group (the reward
// replicas) keep running. Past the limit, the failure stops the run as any other.
//
// NOTE [Event-driven supervision]
// The launcher does not poll. One Boost.Asio io_context on the calling thread waits for events:
// SIGCHLD (reap every child that has exited: waitpid with WNOHANG, since signals coalesce),
// SIGINT / SIGTERM (stop the run; a second one SIGKILLs at once), the grace timer of a stop
// (SIGKILL what is left), a restart's back-off timer (0.5 s times the restart's number, at most
// 5 s, so a process that fails at start cannot spin), the status timer and the liveness timer
// (LaunchHooks: a process the hook names as hung is SIGKILLed and then handled as any process
// killed by a signal, NOTE [Heartbeats] in common/control/heartbeat_monitor.h). The
// signal sets are installed before the first fork, so no exit can be missed.
//
// Threads: call from one thread; owns SIGCHLD, SIGINT and SIGTERM for the duration of run().
// Blocks until every process has ended. Throws SystemError when a process cannot be started.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace gramrl {

struct ProcessSpec {
  std::string name;               // for messages: "learner-1"
  std::vector<std::string> argv;  // argv[0] is the executable path
  std::string log_file;           // empty: inherit stdout and stderr
  bool serves = false;            // serves until stopped (NOTE [Process lifetimes]); else runs to completion
  int64_t restart_limit = 0;      // restarts after a failure before the run stops
  std::vector<std::pair<std::string, std::string>> env;  // set in the child (e.g. CUDA_VISIBLE_DEVICES)
  // NOTE [Learner restarts]: members of a restart group fail and restart together (restart_limit
  // then counts the group's restarts); followers are stopped and started again with it.
  std::string restart_group;
  std::string follows_group;
};

struct LaunchResult {
  int exit_code = 0;
  std::string failed;  // the first process that failed, empty on success
  int64_t restarts = 0;
};

struct ProcessState {
  std::string name;
  pid_t pid = -1;
  bool running = false;  // false once it has ended for good (or while a restart waits)
  int64_t restarts = 0;
};

struct LaunchHooks {
  // Sees every (name, pid) once all processes have started, and again after each restart.
  std::function<void(const std::vector<std::pair<std::string, pid_t>>&)> on_started;
  // Called every status_interval while processes run (live status lines).
  std::function<void(const std::vector<ProcessState>&)> on_status;
  std::chrono::milliseconds status_interval{10000};
  // Called every liveness_interval while processes run, with every process's state: returns the
  // names of running processes that are hung, each with a reason for the log. They are SIGKILLed (their process group)
  // and then restarted or fail the run like any process killed by a signal.
  std::function<std::vector<std::pair<std::string, std::string>>(const std::vector<ProcessState>&)> find_hung;
  std::chrono::milliseconds liveness_interval{1000};
  // NOTE [Learner restarts]: runs after every member and follower of `group` has exited and before
  // they are started again as restart `attempt` (1, 2, ...). An exception stops the run.
  std::function<void(const std::string& group, int64_t attempt)> before_group_restart;
};

LaunchResult runLocal(const std::vector<ProcessSpec>& specs, const LaunchHooks& hooks = {},
                      std::chrono::milliseconds grace = std::chrono::milliseconds(10000));

// This executable's absolute path (/proc/self/exe), to start workers of the same build.
std::string selfExecutable();

}  // namespace gramrl
