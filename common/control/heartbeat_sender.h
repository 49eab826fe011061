// The worker side of the control channel: a thread that sends this process's heartbeat
// (schemas/control.capnp Heartbeat: state, step, policy version, a short detail) to the
// launcher every launch.heartbeat_ms. NOTE [Heartbeats] in heartbeat_monitor.h says what the
// launcher does with them.
//
// The beat comes from its own thread, so a process whose main loop is busy for minutes (a long
// update step, a model load) is still alive; a stopped (SIGSTOP), frozen or dead process sends
// nothing. Step and policy version default to what the process last gave the logger
// (log::setStep / setPolicyVersion), so loops need no extra calls.
//
// Threads: set*() from any thread. The destructor stops and joins the thread.
// Blocking: never (a beat that cannot be queued within the interval is dropped).
// Throws: ConfigError for a malformed endpoint or role (constructor only).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace gramrl::control {

// The states of schemas/control.capnp ProcessState, in the same order.
enum class ProcessPhase { kStarting = 0, kReady = 1, kBusy = 2, kDraining = 3, kFailed = 4 };
const char* toString(ProcessPhase phase);

// The environment variable through which a launcher tells its processes where to beat.
inline constexpr const char* kControlEnv = "GRAMRL_CONTROL";

class HeartbeatSender {
 public:
  // role: "learner", "actor" or "reward"; endpoint: the launcher's tcp:// control endpoint.
  HeartbeatSender(const std::string& endpoint, const std::string& role, int64_t index,
                  std::chrono::milliseconds interval);
  ~HeartbeatSender();
  HeartbeatSender(const HeartbeatSender&) = delete;
  HeartbeatSender& operator=(const HeartbeatSender&) = delete;

  // A sender to the endpoint in $GRAMRL_CONTROL, or nullptr when it is unset (a process started
  // by hand, or by a test, has no launcher to beat to).
  static std::unique_ptr<HeartbeatSender> fromEnvironment(const std::string& role, int64_t index,
                                                          std::chrono::milliseconds interval);

  void setPhase(ProcessPhase phase);
  // Overrides the logger's step (e.g. an actor's batch count); a negative value restores it.
  void setStep(int64_t step);
  void setDetail(const std::string& detail);
  // Beats sent so far (tests).
  uint64_t sent() const { return sent_.load(); }

 private:
  void loop();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::chrono::milliseconds interval_;
  std::atomic<int> phase_{static_cast<int>(ProcessPhase::kStarting)};
  std::atomic<int64_t> step_{-1};
  std::atomic<uint64_t> sent_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;   // guarded by mu_
  std::string detail_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace gramrl::control
