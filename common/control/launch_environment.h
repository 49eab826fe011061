// What a launcher tells the processes it starts through their environment, besides the control
// endpoint (kControlEnv in heartbeat_sender.h).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/core/errors.h"

namespace gramrl::control {

// Which start of its restart group a process is (NOTE [Learner restarts] in
// launch/local_launcher.h): absent in the first, 1, 2, ... after each group restart.
inline constexpr const char* kRestartAttemptEnv = "GRAMRL_RESTART_ATTEMPT";

// This process's restart attempt: 0 when the variable is absent.
inline int64_t restartAttempt() {
  const char* value = std::getenv(kRestartAttemptEnv);
  if (value == nullptr) return 0;
  const std::string text(value);
  GRAMRL_CHECK(!text.empty() && text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos,
               ConfigError, "{}='{}': expected a restart count (set by gramrl's launcher, not by hand)",
               kRestartAttemptEnv, text);
  return std::stoll(text);
}

}  // namespace gramrl::control
