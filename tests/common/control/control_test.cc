// The control channel (common/control): heartbeats reach the monitor with their state, step and
// policy version; a sender that stops beating is reported hung after the timeout and not
// before; beats from another pid or of malformed bytes are dropped; the status file round-trips.
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "common/control/heartbeat_monitor.h"
#include "common/control/heartbeat_sender.h"
#include "common/control/status_file.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/transport/message_socket.h"
#include "common/transport/zmq_context.h"
#include "tests/support/temp_dir.h"

namespace gramrl::control {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Polls `done` every 10 ms until it holds or `limit` passes (the event is a beat's arrival on
// another thread; there is nothing to wait on directly).
template <class F>
bool eventually(F done, std::chrono::milliseconds limit = 5000ms) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

const ProcessStatus* find(const std::vector<ProcessStatus>& rows, const std::string& name) {
  for (const auto& r : rows) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

TEST(Heartbeat, BeatsCarryStateStepAndPolicyVersion) {
  HeartbeatMonitor monitor("127.0.0.1", 2000ms, 2000ms);
  monitor.started("actor-3", "actor", 3, ::getpid());
  log::setPolicyVersion(7);
  HeartbeatSender sender(monitor.endpoint(), "actor", 3, 20ms);
  sender.setStep(12);
  sender.setPhase(ProcessPhase::kBusy);
  sender.setDetail("generating");
  ASSERT_TRUE(eventually([&] {
    const auto rows = monitor.snapshot();
    const auto* r = find(rows, "actor-3");
    return r != nullptr && r->state == "busy" && r->step == 12 && r->policy_version == 7 && r->detail == "generating";
  }));
  const auto rows = monitor.snapshot();
  const auto* r = find(rows, "actor-3");
  ASSERT_NE(r, nullptr);
  EXPECT_GT(r->beats, 0u);
  EXPECT_FALSE(r->host.empty());
  EXPECT_GE(r->seconds_since_beat, 0.0);
  EXPECT_TRUE(monitor.hung().empty());
  log::setPolicyVersion(-1);
}

TEST(Heartbeat, ASilentProcessIsHungAfterTheTimeoutAndNotBefore) {
  const auto timeout = 400ms;
  HeartbeatMonitor monitor("127.0.0.1", timeout, timeout);
  monitor.started("reward-0", "reward", 0, ::getpid());
  auto sender = std::make_unique<HeartbeatSender>(monitor.endpoint(), "reward", 0, 20ms);
  ASSERT_TRUE(eventually([&] { return find(monitor.snapshot(), "reward-0")->beats > 0; }));
  // Beating: never hung, however long it lives.
  const auto beating_until = Clock::now() + 3 * timeout;
  while (Clock::now() < beating_until) {
    EXPECT_TRUE(monitor.hung().empty());
    std::this_thread::sleep_for(20ms);
  }
  // Silence: hung once the timeout has passed since the last beat, and not a moment before.
  sender.reset();
  const auto last_beat_at = Clock::now();
  const auto now = Clock::now();
  EXPECT_TRUE(monitor.hung(now).empty());
  const auto later = monitor.hung(last_beat_at + timeout + 50ms);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].first, "reward-0");
  EXPECT_GT(later[0].second, 0.4);
  // An exited process is not hung.
  monitor.update("reward-0", false, 0);
  EXPECT_TRUE(monitor.hung(last_beat_at + 10 * timeout).empty());
}

TEST(Heartbeat, AProcessThatNeverBeatsIsHungAfterTheStartTimeout) {
  HeartbeatMonitor monitor("127.0.0.1", 300ms, 1000ms);
  const auto before = Clock::now();
  monitor.started("learner-1", "learner", 1, 424242);
  EXPECT_TRUE(monitor.hung(before + 900ms).empty());  // past the timeout, within the start timeout
  EXPECT_EQ(monitor.hung(Clock::now() + 1001ms).size(), 1u);
}

TEST(Heartbeat, BeatsFromAnotherPidOrMalformedBytesAreDropped) {
  HeartbeatMonitor monitor("127.0.0.1", 2000ms, 2000ms);
  monitor.started("actor-0", "actor", 0, ::getpid() + 100000);  // as if restarted: a new pid
  HeartbeatSender stale(monitor.endpoint(), "actor", 0, 20ms);
  HeartbeatSender unknown(monitor.endpoint(), "actor", 9, 20ms);
  transport::ZmqContext context;
  transport::Socket raw(context, transport::SocketType::kPush);
  raw.connect(monitor.endpoint());
  zmq::message_t junk(std::string("not a gramrl frame"));
  transport::Frames frames;
  frames.push_back(std::move(junk));
  raw.sendFrames(frames, transport::deadlineAfter(1s));
  ASSERT_TRUE(eventually([&] { return monitor.dropped() >= 3; }));
  EXPECT_EQ(find(monitor.snapshot(), "actor-0")->beats, 0u);
  EXPECT_EQ(find(monitor.snapshot(), "actor-9"), nullptr);
}

TEST(Heartbeat, SenderComesFromTheEnvironmentOnly) {
  ::unsetenv(kControlEnv);
  EXPECT_EQ(HeartbeatSender::fromEnvironment("actor", 0, 100ms), nullptr);
  EXPECT_THROW(HeartbeatSender("tcp://127.0.0.1:1", "critic", 0, 100ms), ConfigError);
  EXPECT_THROW(HeartbeatSender("tcp://127.0.0.1:1", "actor", 0, 0ms), ConfigError);
}

TEST(StatusFile, RoundTripsAndFormatsOneRowPerProcess) {
  testing::TempDir dir;
  StatusFile s;
  s.updated_unix_ms = 1000;
  s.launcher_pid = 77;
  s.launcher_host = "node1";
  s.heartbeat_timeout_s = 30;
  ProcessStatus a;
  a.name = "actor-0";
  a.role = "actor";
  a.pid = 123;
  a.running = true;
  a.state = "busy";
  a.step = 5;
  a.policy_version = 4;
  a.restarts = 1;
  a.beats = 9;
  a.seconds_since_beat = 0.25;
  ProcessStatus l = a;
  l.name = "learner-0";
  l.role = "learner";
  l.policy_version = 5;
  l.restarts = 0;
  s.processes = {a, l};
  writeStatusFile(dir.file("status.json"), s);
  const StatusFile back = readStatusFile(dir.file("status.json"));
  ASSERT_EQ(back.processes.size(), 2u);
  EXPECT_EQ(back.processes[0].name, "actor-0");
  EXPECT_EQ(back.processes[0].step, 5);
  EXPECT_EQ(back.processes[0].restarts, 1);
  EXPECT_EQ(back.launcher_host, "node1");
  const std::string table = formatStatusTable(back, 3500);
  EXPECT_NE(table.find("actor-0"), std::string::npos) << table;
  EXPECT_NE(table.find("learner-0"), std::string::npos) << table;
  EXPECT_NE(table.find("updated 2.5 s ago"), std::string::npos) << table;
  const auto lines = formatRoleLines(back.processes);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "actor: 1 of 1 running (busy 1), 1 restart(s), step 5, policy v4");
  EXPECT_EQ(lines[1], "learner: 1 of 1 running (busy 1), 0 restart(s), step 5, policy v5");
  EXPECT_THROW(readStatusFile(dir.file("missing.json")), ConfigError);
}

}  // namespace
}  // namespace gramrl::control
