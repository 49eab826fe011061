#include "common/core/logging.h"

#include <atomic>
#include <mutex>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "common/core/errors.h"
#include "common/core/logging_state.h"

namespace gramrl::log {
namespace {

struct State {
  std::mutex mu;
  std::string identity;  // guarded by mu
  std::atomic<int64_t> step{-1};
  std::atomic<int64_t> version{-1};
  std::atomic<int> level{static_cast<int>(Level::kInfo)};
  std::shared_ptr<spdlog::logger> logger;

  State() {
    logger = std::make_shared<spdlog::logger>("gramrl", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %L %v");
    logger->set_level(spdlog::level::trace);  // filtering happens in isEnabled()
    logger->flush_on(spdlog::level::trace);
  }
};

State& state() {
  static State s;  // never destroyed before the last log call: function-local static
  return s;
}

spdlog::level::level_enum toSpd(Level l) {
  switch (l) {
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

void setIdentity(std::string_view role, int64_t id) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.identity = id >= 0 ? fmt::format("{}/{}", role, id) : std::string(role);
}

void setStep(int64_t step) { state().step.store(step); }
void setPolicyVersion(int64_t version) { state().version.store(version); }
int64_t currentStep() { return state().step.load(); }
int64_t currentPolicyVersion() { return state().version.load(); }
void setLevel(Level l) { state().level.store(static_cast<int>(l)); }
Level level() { return static_cast<Level>(state().level.load()); }

Level parseLevel(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn") return Level::kWarn;
  if (name == "error") return Level::kError;
  throw ConfigError(fmt::format("unknown log level '{}': expected one of debug, info, warn, error", name));
}

bool isEnabled(Level l) { return static_cast<int>(l) >= state().level.load(std::memory_order_relaxed); }

std::string currentTag() {
  State& s = state();
  std::string tag;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    tag = s.identity.empty() ? "gramrl" : s.identity;
  }
  if (int64_t step = s.step.load(); step >= 0) tag += fmt::format(" step={}", step);
  if (int64_t v = s.version.load(); v >= 0) tag += fmt::format(" v={}", v);
  return "[" + tag + "]";
}

void write(Level l, std::string_view message) { state().logger->log(toSpd(l), "{} {}", currentTag(), message); }

}  // namespace gramrl::log
