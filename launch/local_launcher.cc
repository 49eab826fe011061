#include "launch/local_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/core/errors.h"
#include "common/core/logging.h"

namespace gramrl {
namespace {

std::atomic<int> g_signal{0};

void onSignal(int sig) { g_signal.store(sig); }

extern "C" char** environ;

struct Child {
  const ProcessSpec* spec;
  pid_t pid = -1;
  bool running = false;
  int64_t restarts = 0;
};

pid_t spawn(const ProcessSpec& spec) {
  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    bool replaced = false;
    for (const auto& [k, v] : spec.env) replaced = replaced || entry.rfind(k + "=", 0) == 0;
    if (!replaced) env_strings.push_back(entry);
  }
  for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
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

// Reaps what has exited, restarting failed processes that have restarts left unless `stopping`;
// returns the number still running. Sets `restarted` when a process was started again.
int reap(std::vector<Child>& children, LaunchResult& result, bool stopping, bool& restarted) {
  int running = 0;
  for (auto& c : children) {
    if (!c.running) continue;
    int status = 0;
    const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
    if (r == 0) {
      ++running;
      continue;
    }
    c.running = false;
    if (r < 0) continue;
    if (stopping) continue;  // stopped by us: how it ends does not matter
    if (exitCodeOf(status) != 0 && c.restarts < c.spec->restart_limit) {
      ++c.restarts;
      ++result.restarts;
      log::warn("{} {}; restarting it ({} of {} restarts){}", c.spec->name, describe(status), c.restarts,
                c.spec->restart_limit, c.spec->log_file.empty() ? "" : fmt::format(" (its log: {})", c.spec->log_file));
      c.pid = spawn(*c.spec);
      c.running = true;
      restarted = true;
      ++running;
      continue;
    }
    if (exitCodeOf(status) != 0 && result.failed.empty()) {
      result.failed = c.spec->name;
      result.exit_code = exitCodeOf(status);
      log::error("{} {}{}", c.spec->name, describe(status),
                 c.spec->log_file.empty() ? "" : fmt::format(" (its log: {})", c.spec->log_file));
    }
  }
  return running;
}

void signalAll(std::vector<Child>& children, int sig) {
  for (auto& c : children) {
    if (!c.running) continue;
    ::kill(c.pid, sig);
    // A stopped process (SIGSTOP, a debugger) only acts on SIGTERM once it runs again.
    if (sig == SIGTERM) ::kill(c.pid, SIGCONT);
  }
}

}  // namespace

std::string selfExecutable() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  GRAMRL_CHECK(n > 0, SystemError, "cannot read /proc/self/exe: {}", std::strerror(errno));
  return std::string(buf, static_cast<size_t>(n));
}

LaunchResult runLocal(const std::vector<ProcessSpec>& specs, const StartedCallback& on_started,
                      std::chrono::milliseconds grace) {
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  struct sigaction old_int {
  }, old_term{};
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  g_signal.store(0);

  std::vector<Child> children;
  LaunchResult result;
  try {
    for (const auto& spec : specs) {
      Child c{&spec};
      c.pid = spawn(spec);
      c.running = true;
      children.push_back(c);
    }
  } catch (...) {
    signalAll(children, SIGKILL);
    for (auto& c : children) ::waitpid(c.pid, nullptr, 0);
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
    throw;
  }

  if (on_started) {
    std::vector<std::pair<std::string, pid_t>> pids;
    for (const auto& c : children) pids.emplace_back(c.spec->name, c.pid);
    try {
      on_started(pids);
    } catch (const std::exception& e) {
      log::warn("after starting the processes: {}", e.what());
    }
  }

  auto report = [&] {
    if (!on_started) return;
    std::vector<std::pair<std::string, pid_t>> pids;
    for (const auto& c : children) pids.emplace_back(c.spec->name, c.pid);
    try {
      on_started(pids);
    } catch (const std::exception& e) {
      log::warn("after restarting a process: {}", e.what());
    }
  };
  bool any_completes = false;
  for (const auto& c : children) any_completes = any_completes || !c.spec->serves;
  // Poll at 20 ms: a supervisor's reaction time, not a synchronisation point.
  bool stopping = false;
  auto deadline = std::chrono::steady_clock::time_point::max();
  bool restarted = false;
  while (reap(children, result, stopping, restarted) > 0) {
    if (restarted) {
      restarted = false;
      report();
    }
    bool completed = any_completes;
    for (const auto& c : children) completed = completed && (c.spec->serves || !c.running);
    if (!stopping && completed && result.failed.empty()) {
      // NOTE [Process lifetimes]: the work is done; stop the services.
      stopping = true;
      log::info("every process that runs to completion has finished; stopping the services");
      signalAll(children, SIGTERM);
      deadline = std::chrono::steady_clock::now() + grace;
    }
    if (!stopping && (g_signal.load() != 0 || !result.failed.empty())) {
      stopping = true;
      if (g_signal.load() != 0) {
        log::warn("received signal {}; stopping every process", g_signal.load());
        if (result.failed.empty()) result.exit_code = 128 + g_signal.load();
      } else {
        log::warn("stopping the other processes because {} failed", result.failed);
      }
      signalAll(children, SIGTERM);
      deadline = std::chrono::steady_clock::now() + grace;
    }
    if (stopping && std::chrono::steady_clock::now() > deadline) {
      signalAll(children, SIGKILL);
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  return result;
}

}  // namespace gramrl
