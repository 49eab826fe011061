// Child processes for whole-binary tests: start an executable with its output in a file, wait for
// it with a timeout, wait for a line it writes. POSIX only (fork/execv/waitpid).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/files.h"

namespace gramrl::testing {

// A started child process and the file that holds its stderr (and its stdout, unless start() was
// given a separate stdout file).
struct Process {
  pid_t pid = -1;
  std::string output;
};

// The executable named by environment variable `env` if it is set (to run the tests against another
// build), else `built` (the build's own, usually a compile definition). Does not block or throw.
inline std::string binaryPath(const char* env, const char* built) {
  const char* bin = std::getenv(env);
  return bin ? bin : built;
}

// Starts `exe` with arguments `args` in a forked child, its stdout and stderr going to `output`
// (truncated); with `stdout_file`, stdout goes there instead. Returns at once; the child exits 127
// when exec fails. Throws std::runtime_error when fork fails.
inline Process start(const std::string& exe, const std::vector<std::string>& args, const std::string& output,
                     const std::string& stdout_file = "") {
  std::vector<std::string> argv{exe};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  Process p;
  p.output = output;
  p.pid = ::fork();
  if (p.pid < 0) throw std::runtime_error("fork failed starting " + exe);
  if (p.pid == 0) {
    const int err = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int out = stdout_file.empty() ? err : ::open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  return p;
}

// Blocks until `p` exits, polling every `poll`, and returns its exit code (128 + signal when a
// signal ended it). After `timeout` it SIGKILLs the process, reaps it, fails the current test
// (ADD_FAILURE) and returns -1. Does not throw.
inline int wait(const Process& p, std::chrono::seconds timeout = std::chrono::seconds(120),
                std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(p.pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(p.pid, SIGKILL);
      ::waitpid(p.pid, &status, 0);
      ADD_FAILURE() << "process did not end within " << timeout.count() << " s";
      return -1;
    }
    std::this_thread::sleep_for(poll);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// start() then wait(): blocks until the process exits or `timeout` passes (see wait()); throws
// what start() throws.
inline int run(const std::string& exe, const std::vector<std::string>& args, const std::string& output,
               std::chrono::seconds timeout = std::chrono::seconds(120),
               std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  return wait(start(exe, args, output), timeout, poll);
}

// Blocks until `file` contains `text` (a process's progress), rereading it every `poll`; returns
// true then, false after `timeout` or as soon as `process` (if > 0, a child of this process) has
// exited, reaping it. Does not fail the test or throw.
inline bool waitForText(const std::string& file, const std::string& text, pid_t process = -1,
                        std::chrono::seconds timeout = std::chrono::seconds(120),
                        std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (slurp(file).find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (process > 0 && ::waitpid(process, nullptr, WNOHANG) != 0) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

}  // namespace gramrl::testing
