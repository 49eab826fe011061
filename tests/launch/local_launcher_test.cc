// The local launcher (NOTE [Local supervision], [Process lifetimes], [Event-driven supervision]
// in launch/local_launcher.h) with /bin/sh processes standing in for the roles of a run.
#include "launch/local_launcher.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

ProcessSpec shell(const std::string& name, const std::string& script, bool serves = false, int64_t restarts = 0) {
  ProcessSpec s;
  s.name = name;
  s.argv = {"/bin/sh", "-c", script};
  s.serves = serves;
  s.restart_limit = restarts;
  return s;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t countOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

TEST(LocalLauncherTest, EveryProcessExitingZeroIsSuccess) {
  testing::TempDir dir;
  std::vector<ProcessSpec> specs{shell("a", "exit 0"), shell("b", "sleep 0.2; exit 0")};
  std::vector<std::pair<std::string, pid_t>> seen;
  LaunchHooks hooks;
  hooks.on_started = [&](const auto& pids) { seen = pids; };
  const LaunchResult r = runLocal(specs, hooks);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.failed.empty());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, "a");
  EXPECT_GT(seen[1].second, 0);
}

TEST(LocalLauncherTest, AFailureNamesTheProcessAndStopsTheOthers) {
  std::vector<ProcessSpec> specs{shell("worker", "sleep 60"), shell("broken", "sleep 0.1; exit 7")};
  const auto t0 = Clock::now();
  const LaunchResult r = runLocal(specs, {}, milliseconds(5000));
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.failed, "broken");
  EXPECT_LT(secondsSince(t0), 5.0) << "the sleeping worker was not stopped by SIGTERM";
}

TEST(LocalLauncherTest, AKilledProcessReportsItsSignal) {
  std::vector<ProcessSpec> specs{shell("victim", "kill -9 $$")};
  const LaunchResult r = runLocal(specs);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_EQ(r.failed, "victim");
}

TEST(LocalLauncherTest, ServicesAreStoppedWhenTheWorkIsDone) {
  testing::TempDir dir;
  const std::string marker = dir.file("drained");
  // The service drains on SIGTERM (writes a marker, exits 0); the learner finishes by itself.
  std::vector<ProcessSpec> specs{
      shell("service", "trap 'echo drained > " + marker + "; exit 0' TERM; while :; do sleep 0.05; done", true),
      shell("learner", "sleep 0.3; exit 0")};
  const LaunchResult r = runLocal(specs, {}, milliseconds(5000));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.failed.empty());
  EXPECT_EQ(slurp(marker), "drained\n");
}

TEST(LocalLauncherTest, AServiceIgnoringSigtermIsKilledAfterTheGrace) {
  // The learner finishes once the service has installed its trap.
  std::vector<ProcessSpec> specs{shell("stubborn", "trap '' TERM; while :; do sleep 0.05; done", true),
                                 shell("learner", "sleep 0.3; exit 0")};
  const auto t0 = Clock::now();
  const LaunchResult r = runLocal(specs, {}, milliseconds(500));
  const double took = secondsSince(t0);
  EXPECT_EQ(r.exit_code, 0);  // the work was done; how a stopped service ends does not matter
  EXPECT_GE(took, 0.75);
  EXPECT_LT(took, 5.0);
}

TEST(LocalLauncherTest, AFailedServiceIsRestartedUpToItsLimit) {
  testing::TempDir dir;
  const std::string count = dir.file("starts");
  // Fails on its first two starts, then serves until stopped.
  const std::string script = "echo x >> " + count + "; [ $(wc -l < " + count +
                             ") -ge 3 ] || exit 3; trap 'exit 0' TERM; while :; do sleep 0.05; done";
  std::vector<ProcessSpec> specs{shell("actor", script, true, 2), shell("learner", "sleep 2.5; exit 0")};
  int started_reports = 0;
  LaunchHooks hooks;
  hooks.on_started = [&](const auto&) { ++started_reports; };
  const LaunchResult r = runLocal(specs, hooks, milliseconds(5000));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.restarts, 2);
  EXPECT_EQ(slurp(count), "x\nx\nx\n");
  EXPECT_EQ(started_reports, 3);  // the start, then each restart
}

TEST(LocalLauncherTest, PastTheRestartLimitTheRunFails) {
  std::vector<ProcessSpec> specs{shell("actor", "exit 4", true, 1), shell("learner", "sleep 30")};
  const auto t0 = Clock::now();
  const LaunchResult r = runLocal(specs, {}, milliseconds(5000));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.failed, "actor");
  EXPECT_EQ(r.restarts, 1);
  EXPECT_LT(secondsSince(t0), 10.0);
}

// NOTE [Learner restarts]: two "learner ranks" and an "actor" that follows them. Rank 1 dies on
// its first start; rank 0 would run for a minute; each start appends its attempt to a file.
TEST(LocalLauncherTest, ALearnerFailureRestartsItsGroupAndItsFollowers) {
  testing::TempDir dir;
  const std::string log = dir.file("starts");
  auto member = [&](const std::string& name, const std::string& work) {
    ProcessSpec s = shell(name, "echo " + name + "=${GRAMRL_RESTART_ATTEMPT:-0} >> " + log + "; " + work, false, 2);
    s.restart_group = "learner";
    return s;
  };
  ProcessSpec actor = shell(
      "actor-0",
      "echo actor-0=${GRAMRL_RESTART_ATTEMPT:-0} >> " + log + "; trap 'exit 0' TERM; while :; do sleep 0.05; done",
      true, 0);
  actor.follows_group = "learner";
  ProcessSpec reward =
      shell("reward-0", "echo reward-0 >> " + log + "; trap 'exit 0' TERM; while :; do sleep 0.05; done", true, 0);
  std::vector<ProcessSpec> specs{
      reward, member("learner-0", "[ \"${GRAMRL_RESTART_ATTEMPT:-0}\" = 1 ] && exit 0; sleep 60"),
      member("learner-1", "[ \"${GRAMRL_RESTART_ATTEMPT:-0}\" = 1 ] && { sleep 0.3; exit 0; }; sleep 0.3; exit 9"),
      actor};
  std::vector<std::pair<std::string, int64_t>> hook_calls;
  LaunchHooks hooks;
  hooks.before_group_restart = [&](const std::string& group, int64_t attempt) {
    hook_calls.emplace_back(group, attempt);
  };
  const auto t0 = Clock::now();
  const LaunchResult r = runLocal(specs, hooks, milliseconds(5000));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.failed.empty());
  EXPECT_EQ(r.restarts, 1);
  EXPECT_LT(secondsSince(t0), 20.0) << "learner-0 was not stopped for the restart";
  ASSERT_EQ(hook_calls.size(), 1u);
  EXPECT_EQ(hook_calls[0], (std::pair<std::string, int64_t>{"learner", 1}));
  // Everything but the reward replica started twice, the second time as attempt 1.
  const std::string starts = slurp(log);
  for (const char* line : {"learner-0=0\n", "learner-1=0\n", "actor-0=0\n", "learner-0=1\n", "learner-1=1\n",
                           "actor-0=1\n", "reward-0\n"}) {
    EXPECT_NE(starts.find(line), std::string::npos) << line << " missing from:\n" << starts;
  }
  EXPECT_EQ(starts.find("reward-0\nreward-0"), std::string::npos) << "the reward replica was restarted:\n" << starts;
  EXPECT_EQ(countOf(starts, "\n"), 7u) << starts;
}

TEST(LocalLauncherTest, ALearnerGroupPastItsRestartsFailsTheRun) {
  ProcessSpec a = shell("learner-0", "sleep 60", false, 1);
  ProcessSpec b = shell("learner-1", "sleep 0.2; exit 5", false, 1);
  a.restart_group = b.restart_group = "learner";
  std::vector<ProcessSpec> specs{a, b};
  const auto t0 = Clock::now();
  const LaunchResult r = runLocal(specs, {}, milliseconds(5000));
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.failed, "learner-1");
  EXPECT_EQ(r.restarts, 1);
  EXPECT_LT(secondsSince(t0), 10.0);
}

TEST(LocalLauncherTest, AFollowerFailingAloneRestartsAlone) {
  testing::TempDir dir;
  const std::string log = dir.file("starts");
  ProcessSpec learner = shell("learner-0", "echo learner >> " + log + "; sleep 1.5; exit 0", false, 1);
  learner.restart_group = "learner";
  ProcessSpec actor = shell("actor-0",
                            "echo actor >> " + log + "; [ $(grep -c actor " + log +
                                ") -ge 2 ] || exit 3; trap 'exit 0' TERM; while :; do sleep 0.05; done",
                            true, 1);
  actor.follows_group = "learner";
  std::vector<ProcessSpec> specs{learner, actor};
  const LaunchResult r = runLocal(specs, {}, milliseconds(5000));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.restarts, 1);
  const std::string starts = slurp(log);
  EXPECT_EQ(countOf(starts, "learner\n"), 1u) << "the learner was restarted:\n" << starts;
  EXPECT_EQ(countOf(starts, "actor\n"), 2u) << starts;
}

TEST(LocalLauncherTest, EnvironmentAndLogFileReachTheChild) {
  testing::TempDir dir;
  ProcessSpec s = shell("reward", "echo \"devices=$CUDA_VISIBLE_DEVICES\"; echo oops >&2");
  s.env = {{"CUDA_VISIBLE_DEVICES", "3"}};
  s.log_file = dir.file("reward.log");
  { std::ofstream(s.log_file) << "earlier attempt\n"; }
  EXPECT_EQ(runLocal({s}).exit_code, 0);
  EXPECT_EQ(slurp(s.log_file), "earlier attempt\ndevices=3\noops\n");  // appended, stdout and stderr
}

TEST(LocalLauncherTest, StatusHookSeesTheProcesses) {
  std::vector<ProcessSpec> specs{shell("learner", "sleep 0.5; exit 0")};
  std::vector<std::vector<ProcessState>> calls;
  LaunchHooks hooks;
  hooks.status_interval = milliseconds(100);
  hooks.on_status = [&](const std::vector<ProcessState>& s) { calls.push_back(s); };
  EXPECT_EQ(runLocal(specs, hooks).exit_code, 0);
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls.front().at(0).name, "learner");
  EXPECT_TRUE(calls.front().at(0).running);
}

TEST(LocalLauncherTest, SigtermToTheLauncherStopsEveryProcess) {
  testing::TempDir dir;
  const std::string marker = dir.file("stopped");
  std::vector<ProcessSpec> specs{
      shell("learner", "trap 'echo stopped > " + marker + "; exit 143' TERM; while :; do sleep 0.05; done")};
  // Deliver SIGTERM to this process once the launcher has started its children.
  LaunchHooks hooks;
  hooks.on_started = [](const auto&) {
    std::thread([] {
      std::this_thread::sleep_for(milliseconds(200));
      ::kill(::getpid(), SIGTERM);
    }).detach();
  };
  const LaunchResult r = runLocal(specs, hooks, milliseconds(5000));
  EXPECT_EQ(r.exit_code, 128 + SIGTERM);
  EXPECT_EQ(slurp(marker), "stopped\n");
}

// The liveness hook (NOTE [Heartbeats]): a process it names is SIGKILLed, even when stopped
// (SIGSTOP), and then restarted like a dead one; past its restarts the run fails with SIGKILL.
TEST(LocalLauncherTest, AHungProcessIsKilledAndRestarted) {
  testing::TempDir dir;
  const std::string starts = dir.file("starts");
  // Stops itself on its first start (a hang); exits 0 on its second.
  std::vector<ProcessSpec> specs{
      shell("stuck", "echo x >> " + starts + "; [ $(wc -l < " + starts + ") -ge 2 ] && exit 0; kill -STOP $$; exit 3",
            false, 1)};
  LaunchHooks hooks;
  hooks.liveness_interval = milliseconds(20);
  int reported = 0;
  pid_t first_pid = -1;
  hooks.on_started = [&](const auto& pids) {
    if (first_pid < 0) first_pid = pids[0].second;
  };
  hooks.find_hung = [&](const std::vector<ProcessState>& states) {
    std::vector<std::pair<std::string, std::string>> hung;
    // Hung: the first process, once it is stopped (state T in /proc/PID/stat).
    if (states[0].running && states[0].pid == first_pid) {
      const std::string stat = slurp("/proc/" + std::to_string(first_pid) + "/stat");
      const size_t paren = stat.rfind(')');
      if (paren != std::string::npos && stat.size() > paren + 2 && stat[paren + 2] == 'T') {
        hung.emplace_back("stuck", "stopped");
        ++reported;
      }
    }
    return hung;
  };
  const auto t0 = Clock::now();
  const LaunchResult r = runLocal(specs, hooks, milliseconds(2000));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.failed.empty());
  EXPECT_EQ(r.restarts, 1);
  EXPECT_GE(reported, 1);
  EXPECT_EQ(slurp(starts), "x\nx\n");
  EXPECT_LT(secondsSince(t0), 10.0);
}

TEST(LocalLauncherTest, AHungProcessPastItsRestartsFailsTheRun) {
  std::vector<ProcessSpec> specs{shell("stuck", "sleep 60"), shell("other", "sleep 60", true)};
  LaunchHooks hooks;
  hooks.liveness_interval = milliseconds(20);
  hooks.find_hung = [](const std::vector<ProcessState>&) {
    return std::vector<std::pair<std::string, std::string>>{{"stuck", "no heartbeat"}};
  };
  const auto t0 = Clock::now();
  const LaunchResult r = runLocal(specs, hooks, milliseconds(2000));
  EXPECT_EQ(r.failed, "stuck");
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_LT(secondsSince(t0), 10.0);
}

}  // namespace
}  // namespace gramrl
