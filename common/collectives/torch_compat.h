// Every difference between the c10d API of Debian's CPU LibTorch 1.13 and a CUDA LibTorch 2.x
// that gramrl::collectives meets, in one place. Only process_group.cc includes it.
//
// Checked against the 1.13 headers in /usr/include/torch/csrc/distributed/c10d and the 2.x
// headers of pytorch/pytorch (ProcessGroupGloo.hpp, ProcessGroupNCCL.hpp, Work.hpp). Both sides
// compile in CI (scripts/build_cuda.sh builds against PyTorch 2.11's CUDA LibTorch) and their
// Gloo paths run in the unit tests; the NCCL path has not run on a GPU yet.
#pragma once

#include <torch/version.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>

#include <fmt/core.h>

// Difference 1: NCCL. Both versions guard ProcessGroupNCCL.hpp with USE_C10D_NCCL, which the
// torch CMake target defines (INTERFACE_COMPILE_DEFINITIONS) only when LibTorch was built with
// NCCL. Debian's 1.13 is built without it, so the NCCL path compiles only against a CUDA 2.x.
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace gramrl::collectives::compat {

#ifdef USE_C10D_NCCL
constexpr bool kHasNccl = true;
#else
constexpr bool kHasNccl = false;
#endif

// Difference 2: the base class of the backends. In 1.13 ProcessGroupGloo and ProcessGroupNCCL
// derive from c10d::ProcessGroup; since 2.0 they derive from c10d::Backend, and ProcessGroup
// became a dispatcher over several Backends. Both bases declare the same virtual
// allreduce/broadcast/barrier(std::vector<at::Tensor>&, const *Options&) used here, so holding
// the backend directly under this alias works on both without the 2.x dispatcher.
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

// Difference 3: the default timeout constant is kProcessGroupDefaultTimeout in 1.13 and
// kBackendDefaultTimeout in 2.x. gramrl always passes its own timeout, so neither is named.
// ProcessGroupGloo::Options::create(timeout) and the constructor
// ProcessGroupGloo(store, rank, size, options) have the same signature in both;
// createDeviceForHostname/createDeviceForInterface gained a defaulted `lazyInit` in 2.x, which
// a one-argument call does not see.
inline c10::intrusive_ptr<c10d::ProcessGroupGloo::Options> glooOptions(std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // One worker thread: calls are synchronous and one at a time, and every extra thread is a
  // separate Gloo context with its own full mesh of connections to set up.
  options->threads = 1;
  return options;
}

#ifdef USE_C10D_NCCL
// ProcessGroupNCCL::Options::create(bool is_high_priority_stream) and the `timeout` member are
// the same in 1.13 and 2.x.
inline c10::intrusive_ptr<c10d::ProcessGroupNCCL::Options> ncclOptions(std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return options;
}
#endif

// Difference 4: what Work::wait(timeout) means. Gloo's work runs on a worker thread and
// wait(timeout) blocks the caller, in 1.13 and 2.x alike. The Gloo context's own timeout (set
// from the options) ends the op; wait() gets one more second as a backstop, because when
// wait() gives up first the worker still runs the op and may write into the caller's tensors
// after the error was thrown. NCCL's wait() only
// makes the current CUDA stream wait, unless TORCH_NCCL_BLOCKING_WAIT (2.x) or
// NCCL_BLOCKING_WAIT (1.13) is set in the environment when the group is created: the variable
// was renamed, so gramrl sets neither and polls isCompleted() itself, which both versions
// support. The poll sleeps 1 ms between checks (c10d's own blocking wait does the same).
inline void waitForWork(const c10::intrusive_ptr<c10d::Work>& work, std::chrono::milliseconds timeout,
                        bool poll_for_completion) {
  if (!poll_for_completion) {
    work->wait(timeout + std::chrono::seconds(1));
    return;
  }
  work->wait();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!work->isCompleted()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error(fmt::format("operation timed out after {} ms", timeout.count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!work->isSuccess()) std::rethrow_exception(work->exception());
}

// Difference 5: exception types. 1.13 throws c10::Error (TORCH_CHECK), c10d::TimeoutError (a
// std::runtime_error) from stores, and gloo::IoException/EnforceNotMet from Gloo. 2.x adds
// c10::DistError and its subclasses DistBackendError, DistStoreError and DistNetworkError, all
// of which are c10::Error. Everything is a std::exception, so one handler takes them all;
// for c10::Error the message is taken without the C++ backtrace c10 appends.
inline std::string exceptionMessage(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) return c10_error->what_without_backtrace();
  return e.what();
}

}  // namespace gramrl::collectives::compat
