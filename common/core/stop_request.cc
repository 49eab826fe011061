#include "common/core/stop_request.h"

#include <signal.h>

#include <atomic>

namespace gramrl {
namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

void onStopSignal(int) { g_stop.store(true, std::memory_order_relaxed); }

}  // namespace

void installStopHandler() {
  struct sigaction sa = {};
  sa.sa_handler = onStopSignal;
  ::sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
}

bool stopRequested() { return g_stop.load(std::memory_order_relaxed); }

void requestStop() { g_stop.store(true, std::memory_order_relaxed); }

}  // namespace gramrl
