#include "common/control/heartbeat_sender.h"

#include <unistd.h>

#include <cstdlib>

#include "common/control/wire_roles.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/core/logging_state.h"
#include "common/transport/message_socket.h"
#include "common/transport/zmq_context.h"
#include "schemas/control.capnp.h"

namespace gramrl::control {

const char* toString(ProcessPhase phase) {
  switch (phase) {
    case ProcessPhase::kStarting: return "starting";
    case ProcessPhase::kReady: return "ready";
    case ProcessPhase::kBusy: return "busy";
    case ProcessPhase::kDraining: return "draining";
    case ProcessPhase::kFailed: return "failed";
  }
  return "unknown";
}

struct HeartbeatSender::Impl {
  transport::ZmqContext context;
  std::unique_ptr<transport::MessageSocket> socket;
  wire::Role role = wire::Role::LAUNCHER;
  int64_t index = 0;
  std::string host;
  uint64_t seq = 0;
};

HeartbeatSender::HeartbeatSender(const std::string& endpoint, const std::string& role, int64_t index,
                                 std::chrono::milliseconds interval)
    : impl_(std::make_unique<Impl>()), interval_(interval) {
  GRAMRL_CHECK(interval.count() > 0, ConfigError, "launch.heartbeat_ms: expected > 0, got {}", interval.count());
  GRAMRL_CHECK(index >= 0, ConfigError, "heartbeat: process index must be >= 0, got {}", index);
  impl_->role = wireRole(role);
  impl_->index = index;
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  impl_->host = host;
  transport::SocketOptions options;
  options.linger_ms = 0;  // beats are worthless once the process ends
  options.send_hwm = 4;   // a launcher that is gone must not make beats pile up
  options.max_message_bytes = 64 << 10;
  impl_->socket = std::make_unique<transport::MessageSocket>(impl_->context, transport::SocketType::kPush,
                                                             transport::Channel::kControl, options);
  impl_->socket->connect(endpoint);
  thread_ = std::thread([this] { loop(); });
}

HeartbeatSender::~HeartbeatSender() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<HeartbeatSender> HeartbeatSender::fromEnvironment(const std::string& role, int64_t index,
                                                                  std::chrono::milliseconds interval) {
  const char* endpoint = std::getenv(kControlEnv);
  if (endpoint == nullptr || *endpoint == '\0') return nullptr;
  return std::make_unique<HeartbeatSender>(endpoint, role, index, interval);
}

void HeartbeatSender::setPhase(ProcessPhase phase) {
  phase_.store(static_cast<int>(phase));
  cv_.notify_all();  // a change of state goes out at once
}

void HeartbeatSender::setStep(int64_t step) { step_.store(step); }

void HeartbeatSender::setDetail(const std::string& detail) {
  std::lock_guard<std::mutex> lock(mu_);
  detail_ = detail.substr(0, 200);
}

void HeartbeatSender::loop() {
  impl_->socket->socket().adoptByCurrentThread();  // connected by the constructor, owned here from now on
  int last_phase = -1;
  for (;;) {
    std::string detail;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_) return;
      detail = detail_;
    }
    const int phase = phase_.load();
    last_phase = phase;
    transport::OutgoingMessage message(256);
    auto root = message.initRoot<wire::ControlMessage>();
    root.setSeq(++impl_->seq);
    auto sender = root.initSender();
    sender.setRole(impl_->role);
    sender.setIndex(static_cast<uint32_t>(impl_->index));
    sender.setHost(impl_->host.c_str());
    sender.setPid(static_cast<uint32_t>(::getpid()));
    auto beat = root.initHeartbeat();
    beat.setUnixMs(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count()));
    beat.setState(static_cast<wire::ProcessState>(phase));
    const int64_t own_step = step_.load();
    beat.setStep(own_step >= 0 ? own_step : log::currentStep());
    beat.setPolicyVersion(log::currentPolicyVersion());
    beat.setDetail(detail.c_str());
    try {
      if (impl_->socket->send(std::move(message), transport::deadlineAfter(interval_))) sent_.fetch_add(1);
    } catch (const std::exception& e) {
      // The launcher's end of a PUSH socket going away is not this process's failure.
      log::debug("heartbeat not sent: {}", e.what());
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, interval_, [&] { return stop_ || phase_.load() != last_phase; });
  }
}

}  // namespace gramrl::control
