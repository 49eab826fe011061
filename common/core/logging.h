// Process-wide logging. Every line carries the process's identity (role and rank or actor id),
// and, once set, the training step and policy version, so that interleaved logs from many
// processes stay readable:
//
//   2026-11-26 12:00:01.234 I [learner/1 step=42 v=7] allreduce took 12 ms
//
// Thread safety: every function may be called from any thread. Lines are written whole.
// Output goes to stderr (stdout is kept for a command's own results).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace gramrl::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Sets who this process is: setIdentity("learner", 1) tags lines "learner/1"; an id < 0 tags
// just the role. Call once, early in main().
void setIdentity(std::string_view role, int64_t id = -1);
// Step and policy version tags; a negative value removes the tag.
void setStep(int64_t step);
void setPolicyVersion(int64_t version);
void setLevel(Level level);
Level level();
// "debug" | "info" | "warn" | "error"; throws ConfigError otherwise.
Level parseLevel(std::string_view name);

bool isEnabled(Level level);
void write(Level level, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (isEnabled(Level::kDebug)) write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (isEnabled(Level::kInfo)) write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (isEnabled(Level::kWarn)) write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (isEnabled(Level::kError)) write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

// The tag that write() puts before each message, e.g. "[learner/1 step=42]". Exposed for tests.
std::string currentTag();

}  // namespace gramrl::log
