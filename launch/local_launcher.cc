#include "launch/local_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/control/launch_environment.h"
#include "common/core/errors.h"
#include "common/core/logging.h"

namespace gramrl {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

extern "C" char** environ;

struct Child {
  const ProcessSpec* spec;
  pid_t pid = -1;
  bool running = false;
  bool restart_pending = false;  // failed; its back-off timer runs
  bool hung = false;             // SIGKILLed by us for missing its heartbeats
  bool cycling = false;          // stopped by us for its group's restart; started again with it
  int64_t restarts = 0;
  std::unique_ptr<asio::steady_timer> restart_timer;
};

pid_t spawn(const ProcessSpec& spec, int64_t restart_attempt = 0) {
  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::pair<std::string, std::string>> env = spec.env;
  if (restart_attempt > 0) env.emplace_back(control::kRestartAttemptEnv, std::to_string(restart_attempt));
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    bool replaced = false;
    for (const auto& [k, v] : env) replaced = replaced || entry.rfind(k + "=", 0) == 0;
    if (!replaced) env_strings.push_back(entry);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  int log_fd = -1;
  if (!spec.log_file.empty()) {
    log_fd = ::open(spec.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    GRAMRL_CHECK(log_fd >= 0, SystemError, "cannot open log file {} for {}: {}", spec.log_file, spec.name,
                 std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // A child starts with default signal handling and nothing blocked, whatever the launcher's
    // process had (a blocked or ignored SIGTERM is inherited through exec).
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGTERM, SIGINT, SIGCHLD, SIGPIPE, SIGHUP}) ::signal(sig, SIG_DFL);
    ::setpgid(0, 0);  // its own process group: a stop reaches what it started too
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // the launcher died before prctl took effect
    if (log_fd >= 0) {
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  const int err = errno;
  if (pid > 0) ::setpgid(pid, pid);  // also here, so that no signal can come before the child's own call
  if (log_fd >= 0) ::close(log_fd);
  GRAMRL_CHECK(pid > 0, SystemError, "cannot start {}: fork failed: {}", spec.name, std::strerror(err));
  return pid;
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

std::string describe(int status) {
  if (WIFSIGNALED(status))
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("exited with code {}", exitCodeOf(status));
}

// NOTE [Event-driven supervision] in local_launcher.h.
class Supervisor {
 public:
  Supervisor(const std::vector<ProcessSpec>& specs, const LaunchHooks& hooks, std::chrono::milliseconds grace)
      : specs_(specs),
        hooks_(hooks),
        grace_(grace),
        child_signal_(io_, SIGCHLD),
        stop_signals_(io_, SIGINT, SIGTERM),
        kill_timer_(io_),
        status_timer_(io_),
        liveness_timer_(io_) {}

  LaunchResult run() {
    try {
      for (const auto& spec : specs_) {
        Child c{&spec};
        c.pid = spawn(spec);
        c.running = true;
        c.restart_timer = std::make_unique<asio::steady_timer>(io_);
        children_.push_back(std::move(c));
      }
    } catch (...) {
      for (auto& c : children_) {
        ::kill(c.pid, SIGKILL);
        ::waitpid(c.pid, nullptr, 0);
      }
      throw;
    }
    for (const auto& c : children_) any_completes_ = any_completes_ || !c.spec->serves;
    reportStarted("after starting the processes");
    waitForChildren();
    waitForStopSignal();
    if (hooks_.on_status) scheduleStatus();
    if (hooks_.find_hung) scheduleLiveness();
    io_.run();
    return result_;
  }

 private:
  void waitForChildren() {
    child_signal_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      reap();
      if (alive() == 0) {
        finish();
        return;
      }
      waitForChildren();
    });
  }

  void waitForStopSignal() {
    stop_signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (stopping_) {
        log::warn("received signal {} again; killing every process now", sig);
        signalAll(SIGKILL);
      } else {
        log::warn("received signal {}; stopping every process", sig);
        if (result_.failed.empty()) result_.exit_code = 128 + sig;
        beginStop();
      }
      waitForStopSignal();
    });
  }

  void scheduleStatus() {
    status_timer_.expires_after(hooks_.status_interval);
    status_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      try {
        hooks_.on_status(states());
      } catch (const std::exception& e) {
        log::warn("status: {}", e.what());
      }
      scheduleStatus();
    });
  }

  void scheduleLiveness() {
    liveness_timer_.expires_after(hooks_.liveness_interval);
    liveness_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      if (!stopping_) {
        std::vector<std::pair<std::string, std::string>> hung;
        try {
          hung = hooks_.find_hung(states());
        } catch (const std::exception& e) {
          log::warn("liveness check: {}", e.what());
        }
        for (const auto& [name, reason] : hung) {
          for (auto& c : children_) {
            if (c.spec->name != name || !c.running || c.hung) continue;
            log::error("{} (pid {}) is hung: {}; killing it{}", name, c.pid, reason, logHint(c));
            c.hung = true;
            if (::kill(-c.pid, SIGKILL) != 0) ::kill(c.pid, SIGKILL);
          }
        }
      }
      scheduleLiveness();
    });
  }

  // Reaps every child that has exited; restarts failed ones that have restarts left, unless
  // stopping; starts the stop when the run is over or has failed.
  void reap() {
    for (auto& c : children_) {
      if (!c.running) continue;
      int status = 0;
      const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
      if (r == 0) continue;
      c.running = false;
      if (r < 0 || stopping_ || c.cycling) continue;  // stopped by us: how it ends does not matter
      if (c.hung) {
        // Killed for missing its heartbeats: a failure, whatever the signal made of its status.
        c.hung = false;
        if (exitCodeOf(status) == 0) status = SIGKILL;
      }
      const std::string& group = c.spec->restart_group;
      if (exitCodeOf(status) != 0 && !group.empty() && group_restarts_[group] < c.spec->restart_limit) {
        beginGroupRestart(c, status);
        continue;
      }
      if (exitCodeOf(status) != 0 && group.empty() && c.restarts < c.spec->restart_limit) {
        scheduleRestart(c, status);
        continue;
      }
      if (exitCodeOf(status) != 0 && result_.failed.empty()) {
        result_.failed = c.spec->name;
        result_.exit_code = exitCodeOf(status);
        log::error("{} {}{}", c.spec->name, describe(status), logHint(c));
      }
    }
    if (stopping_) return;
    if (!result_.failed.empty()) {
      log::warn("stopping the other processes because {} failed", result_.failed);
      beginStop();
      return;
    }
    finishGroupRestarts();
    if (stopping_) return;
    bool completed = any_completes_;
    for (const auto& c : children_) {
      completed = completed && !c.cycling && (c.spec->serves || (!c.running && !c.restart_pending));
    }
    if (completed) {
      // NOTE [Process lifetimes]: the work is done; stop the services.
      log::info("every process that runs to completion has finished; stopping the services");
      beginStop();
    }
  }

  void scheduleRestart(Child& c, int status) {
    ++c.restarts;
    ++result_.restarts;
    const auto delay = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(500) * c.restarts,
                                                           std::chrono::milliseconds(5000));
    log::warn("{} {}; restarting it in {:.1f} s ({} of {} restarts){}", c.spec->name, describe(status),
              static_cast<double>(delay.count()) / 1000.0, c.restarts, c.spec->restart_limit, logHint(c));
    c.restart_pending = true;
    c.restart_timer->expires_after(delay);
    c.restart_timer->async_wait([this, &c](const boost::system::error_code& ec) {
      if (ec || !c.restart_pending) return;
      c.restart_pending = false;
      if (stopping_) {
        if (alive() == 0) finish();
        return;
      }
      try {
        c.pid = spawn(*c.spec);
        c.running = true;
      } catch (const std::exception& e) {
        log::error("{}", e.what());
        if (result_.failed.empty()) {
          result_.failed = c.spec->name;
          result_.exit_code = 1;
        }
        beginStop();
        if (alive() == 0) finish();
        return;
      }
      reportStarted("after restarting a process");
    });
  }

  // NOTE [Learner restarts]: stops every member and follower of the failed process's group.
  void beginGroupRestart(const Child& failed, int status) {
    const std::string group = failed.spec->restart_group;
    const int64_t attempt = ++group_restarts_[group];
    ++result_.restarts;
    std::vector<std::string> names;
    for (auto& c : children_) {
      if (c.spec->restart_group != group && c.spec->follows_group != group) continue;
      names.push_back(c.spec->name);
      c.cycling = true;
      c.restart_pending = false;
      c.restart_timer->cancel();
      c.hung = false;
      if (c.running && ::kill(-c.pid, SIGKILL) != 0) ::kill(c.pid, SIGKILL);
    }
    log::warn("{} {}; restarting the {} group from its newest checkpoint ({} of {} restarts): {}{}", failed.spec->name,
              describe(status), group, attempt, failed.spec->restart_limit, fmt::join(names, ", "), logHint(failed));
  }

  // Starts each group whose members and followers have all exited again.
  void finishGroupRestarts() {
    for (const auto& [group, attempt] : group_restarts_) {
      bool waiting = false;
      bool cycling = false;
      for (const auto& c : children_) {
        if (!c.cycling || (c.spec->restart_group != group && c.spec->follows_group != group)) continue;
        cycling = true;
        waiting = waiting || c.running;
      }
      if (!cycling || waiting) continue;
      try {
        if (hooks_.before_group_restart) hooks_.before_group_restart(group, attempt);
        for (auto& c : children_) {
          if (!c.cycling || (c.spec->restart_group != group && c.spec->follows_group != group)) continue;
          c.cycling = false;
          c.pid = spawn(*c.spec, attempt);
          c.running = true;
        }
      } catch (const std::exception& e) {
        log::error("restarting the {} group: {}", group, e.what());
        if (result_.failed.empty()) {
          result_.failed = group;
          result_.exit_code = 1;
        }
        beginStop();
        return;
      }
      reportStarted("after restarting a group");
    }
  }

  void beginStop() {
    stopping_ = true;
    for (auto& c : children_) {
      c.cycling = false;
      c.restart_pending = false;
      c.restart_timer->cancel();
    }
    signalAll(SIGTERM);
    kill_timer_.expires_after(grace_);
    kill_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      log::warn("processes still running {:.0f} s after SIGTERM; killing them",
                std::chrono::duration<double>(grace_).count());
      signalAll(SIGKILL);
    });
    if (alive() == 0) finish();
  }

  void finish() {
    child_signal_.cancel();
    stop_signals_.cancel();
    kill_timer_.cancel();
    status_timer_.cancel();
    liveness_timer_.cancel();
    for (auto& c : children_) c.restart_timer->cancel();
    io_.stop();
  }

  std::vector<ProcessState> states() const {
    std::vector<ProcessState> out;
    for (const auto& c : children_) out.push_back({c.spec->name, c.pid, c.running, c.restarts});
    return out;
  }

  int alive() const {
    int n = 0;
    for (const auto& c : children_) n += (c.running || c.restart_pending || c.cycling) ? 1 : 0;
    return n;
  }

  void signalAll(int sig) {
    for (auto& c : children_) {
      if (!c.running) continue;
      // The process group: a shell's or wrapper's children stop with it.
      if (::kill(-c.pid, sig) != 0) ::kill(c.pid, sig);
      // A stopped process (SIGSTOP, a debugger) only acts on SIGTERM once it runs again.
      if (sig == SIGTERM) ::kill(-c.pid, SIGCONT);
    }
  }

  void reportStarted(const char* when) {
    if (!hooks_.on_started) return;
    std::vector<std::pair<std::string, pid_t>> pids;
    for (const auto& c : children_) pids.emplace_back(c.spec->name, c.pid);
    try {
      hooks_.on_started(pids);
    } catch (const std::exception& e) {
      log::warn("{}: {}", when, e.what());
    }
  }

  static std::string logHint(const Child& c) {
    return c.spec->log_file.empty() ? std::string() : fmt::format(" (its log: {})", c.spec->log_file);
  }

  const std::vector<ProcessSpec>& specs_;
  const LaunchHooks& hooks_;
  const std::chrono::milliseconds grace_;
  asio::io_context io_;
  asio::signal_set child_signal_;
  asio::signal_set stop_signals_;
  asio::steady_timer kill_timer_;
  asio::steady_timer status_timer_;
  asio::steady_timer liveness_timer_;
  std::vector<Child> children_;
  LaunchResult result_;
  std::map<std::string, int64_t> group_restarts_;  // NOTE [Learner restarts]: restarts so far, per group
  bool stopping_ = false;
  bool any_completes_ = false;
};

}  // namespace

std::string selfExecutable() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  GRAMRL_CHECK(n > 0, SystemError, "cannot read /proc/self/exe: {}", std::strerror(errno));
  return std::string(buf, static_cast<size_t>(n));
}

LaunchResult runLocal(const std::vector<ProcessSpec>& specs, const LaunchHooks& hooks,
                      std::chrono::milliseconds grace) {
  Supervisor supervisor(specs, hooks, grace);
  return supervisor.run();
}

}  // namespace gramrl
