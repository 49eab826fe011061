#include "common/control/heartbeat_monitor.h"

#include <algorithm>
#include <optional>

#include "common/control/wire_roles.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/transport/message_socket.h"
#include "common/transport/zmq_context.h"
#include "schemas/control.capnp.h"

namespace gramrl::control {
namespace {

const char* stateName(wire::ProcessState state) {
  switch (state) {
    case wire::ProcessState::STARTING: return "starting";
    case wire::ProcessState::READY: return "ready";
    case wire::ProcessState::BUSY: return "busy";
    case wire::ProcessState::DRAINING: return "draining";
    case wire::ProcessState::FAILED: return "failed";
  }
  return "unknown";
}

double secondsBetween(HeartbeatMonitor::Clock::time_point a, HeartbeatMonitor::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

struct HeartbeatMonitor::Impl {
  transport::ZmqContext context;
  std::unique_ptr<transport::MessageSocket> socket;
};

HeartbeatMonitor::HeartbeatMonitor(const std::string& bind_host, std::chrono::milliseconds timeout,
                                   std::chrono::milliseconds start_timeout)
    : impl_(std::make_unique<Impl>()), timeout_(timeout), start_timeout_(std::max(timeout, start_timeout)) {
  GRAMRL_CHECK(timeout.count() > 0, ConfigError, "launch.heartbeat_timeout_s: expected > 0");
  transport::SocketOptions options;
  options.linger_ms = 0;
  options.max_message_bytes = 64 << 10;  // a beat is ~200 bytes
  transport::ReceiveLimits limits;
  limits.max_message_bytes = 64 << 10;
  limits.max_segments = 4;
  impl_->socket = std::make_unique<transport::MessageSocket>(impl_->context, transport::SocketType::kPull,
                                                             transport::Channel::kControl, options, limits);
  endpoint_ = impl_->socket->bind("tcp://" + bind_host + ":*");
  thread_ = std::thread([this] { loop(); });
}

HeartbeatMonitor::~HeartbeatMonitor() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void HeartbeatMonitor::started(const std::string& name, const std::string& role, int64_t index, pid_t pid,
                               pid_t beat_pid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = table_.find(name);
  if (it == table_.end()) {
    order_.push_back(name);
    it = table_.emplace(name, Entry{}).first;
  }
  Entry& e = it->second;
  const int64_t restarts = e.status.restarts;
  e.status = ProcessStatus{};
  e.status.name = name;
  e.status.role = role;
  e.status.index = index;
  e.status.pid = pid;
  e.status.running = true;
  e.status.restarts = restarts;
  e.since = Clock::now();
  e.beat_pid = beat_pid;
}

void HeartbeatMonitor::update(const std::string& name, bool running, int64_t restarts) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = table_.find(name);
  if (it == table_.end()) return;
  if (it->second.status.running && !running && !it->second.status.hung) it->second.status.state = "exited";
  it->second.status.running = running;
  it->second.status.restarts = restarts;
}

std::vector<std::pair<std::string, double>> HeartbeatMonitor::hung(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, double>> out;
  for (const auto& name : order_) {
    const Entry& e = table_.at(name);
    if (!e.status.running || e.status.hung) continue;
    const double silent = secondsBetween(e.since, now);
    if (now - e.since > (e.status.beats > 0 ? timeout_ : start_timeout_)) out.emplace_back(name, silent);
  }
  return out;
}

void HeartbeatMonitor::markHung(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = table_.find(name);
  if (it == table_.end()) return;
  it->second.status.hung = true;
  it->second.status.state = "hung";
}

std::vector<ProcessStatus> HeartbeatMonitor::snapshot(Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ProcessStatus> out;
  for (const auto& name : order_) {
    const Entry& e = table_.at(name);
    ProcessStatus s = e.status;
    s.seconds_since_beat = s.beats > 0 ? secondsBetween(e.since, now) : -1.0;
    out.push_back(std::move(s));
  }
  return out;
}

void HeartbeatMonitor::loop() {
  impl_->socket->socket().adoptByCurrentThread();  // bound by the constructor, owned here from now on
  while (!stop_.load()) {
    std::optional<transport::Received> got;
    try {
      got = impl_->socket->recv(transport::deadlineAfter(std::chrono::milliseconds(100)));
    } catch (const std::exception& e) {
      log::warn("control channel: {}", e.what());
      continue;
    }
    if (!got) continue;
    if (!got->ok()) {
      dropped_.fetch_add(1);
      continue;
    }
    try {
      const auto root = got->message.getRoot<wire::ControlMessage>();
      if (root.which() != wire::ControlMessage::HEARTBEAT) {
        dropped_.fetch_add(1);
        continue;
      }
      const auto sender = root.getSender();
      const std::string name = roleName(sender.getRole()) + "-" + std::to_string(sender.getIndex());
      const auto beat = root.getHeartbeat();
      std::lock_guard<std::mutex> lock(mu_);
      auto it = table_.find(name);
      // NOTE [Heartbeats]: only the pid the launcher started (beat_pid 0: not known, e.g. behind srun).
      if (it == table_.end() ||
          (it->second.beat_pid > 0 && static_cast<pid_t>(sender.getPid()) != it->second.beat_pid) ||
          it->second.status.hung) {
        dropped_.fetch_add(1);
        continue;
      }
      ProcessStatus& s = it->second.status;
      s.host = std::string(sender.getHost().cStr()).substr(0, 255);
      s.worker_pid = sender.getPid();
      if (s.running) s.state = stateName(beat.getState());
      s.step = beat.getStep();
      s.policy_version = beat.getPolicyVersion();
      s.detail = std::string(beat.getDetail().cStr()).substr(0, 200);
      ++s.beats;
      it->second.since = Clock::now();
    } catch (const std::exception&) {
      dropped_.fetch_add(1);  // a malformed message (ProtocolError from the reader)
    }
  }
}

}  // namespace gramrl::control
