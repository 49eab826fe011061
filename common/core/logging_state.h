// What the logger knows about this process's progress, read back: the step and policy version
// last given to log::setStep / log::setPolicyVersion (logging.h), -1 before any. The heartbeats
// of common/control report these, so a loop that tags its log lines needs no second call.
//
// Threads: any thread (atomics). Kept out of logging.h so that its many includers do not change.
#pragma once

#include <cstdint>

namespace gramrl::log {

int64_t currentStep();
int64_t currentPolicyVersion();

}  // namespace gramrl::log
