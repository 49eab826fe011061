#include "common/collectives/process_group.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <exception>
#include <thread>
#include <utility>

#include <fmt/core.h>

#include "common/collectives/bucketing.h"
#include "common/collectives/torch_compat.h"
#include "common/core/errors.h"
#include "common/core/logging.h"

namespace gramrl {
namespace {

using namespace std::chrono_literals;

// Who failed, for error messages.
struct Where {
  int rank = 0;
  int world_size = 1;
  std::string backend;
  std::string store;
  std::chrono::milliseconds timeout{0};
};

bool contains(const std::string& lower_text, const char* needle) {
  return lower_text.find(needle) != std::string::npos;
}

// NOTE [Collective errors]
// Every exception out of c10d, Gloo or NCCL (c10::Error, c10d::TimeoutError, gloo::IoException,
// std::runtime_error from our own NCCL poll) becomes a CollectiveError here and nowhere else.
// The message names the op, rank, world size, backend and store, classifies the cause (a
// timeout or a peer that closed its connection, the two a user can act on), and ends with the
// original message. gramrl's own errors (InternalError from a bad argument) pass unchanged.
std::string failureMessage(const char* op, const Where& w, const std::exception_ptr& error) {
  std::string cause = "unknown exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    cause = collectives::compat::exceptionMessage(e);
  } catch (...) {
  }
  std::string lower = cause;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const std::string head =
      fmt::format("{} failed on rank {} of {} ({}, store {})", op, w.rank, w.world_size, w.backend, w.store);
  const bool timed_out = contains(lower, "timed out") || contains(lower, "timeout");
  if (timed_out && std::string(op) == "connect") {
    return fmt::format(
        "{}: timed out after {} ms. Not every rank joined, or the store is unreachable: check that all {} ranks "
        "started and that the store address is right. Cause: {}",
        head, w.timeout.count(), w.world_size, cause);
  }
  if (timed_out) {
    return fmt::format(
        "{}: timed out after {} ms. A peer probably died or is stuck (in another call, or never started); if steps "
        "are legitimately this slow, raise learner.collective_timeout_s. Cause: {}",
        head, w.timeout.count(), cause);
  }
  if (contains(lower, "connection closed") || contains(lower, "connection reset") || contains(lower, "broken pipe") ||
      contains(lower, "connection refused")) {
    return fmt::format("{}: a peer closed its connection (it probably died; see its log). Cause: {}", head, cause);
  }
  return fmt::format("{}: {}", head, cause);
}

template <typename F>
auto guarded(const char* op, const Where& where, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (...) {
    throw CollectiveError(failureMessage(op, where, std::current_exception()));
  }
}

class ProcessGroupCollective final : public Collective {
 public:
  ProcessGroupCollective(c10::intrusive_ptr<collectives::compat::BackendBase> group, Where where, at::Device device,
                         int64_t bucket_bytes)
      : group_(std::move(group)), where_(std::move(where)), device_(device), bucket_bytes_(bucket_bytes) {}

  using Collective::allreduceSum;

  int rank() const override { return where_.rank; }
  int worldSize() const override { return where_.world_size; }
  std::string backendName() const override { return where_.backend; }
  at::Device device() const override { return device_; }
  int64_t callCount() const override { return calls_; }

  void allreduceSum(const std::vector<at::Tensor>& tensors) override {
    run("allreduce", tensors, [&](at::Tensor& flat) {
      std::vector<at::Tensor> one{flat};
      return group_->allreduce(one);
    });
  }

  void broadcast(const std::vector<at::Tensor>& tensors, int root) override {
    GRAMRL_ASSERT(root >= 0 && root < where_.world_size, "broadcast root {} is not a rank of a world of {}", root,
                  where_.world_size);
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    run(
        "broadcast", tensors,
        [&](at::Tensor& flat) {
          std::vector<at::Tensor> one{flat};
          return group_->broadcast(one, opts);
        },
        /*copy_back=*/root != where_.rank);
  }

  // NCCL has both collectives; Gloo's reduce_scatter is missing in LibTorch 1.13, so there the
  // sum is an allreduce of the whole buffer and the part is copied out of it (twice the bytes on
  // the wire, the same sums).
  void allGather(const at::Tensor& full) override {
    const int world = where_.world_size;
    collectives::checkEqualParts(full, world);
    checkDevice("allgather", full);
    checkUsable("allgather");
    const int64_t c = full.numel() / world;
    guardedUse("allgather", [&] {
      std::vector<at::Tensor> parts;
      for (int r = 0; r < world; ++r) parts.push_back(full.narrow(0, r * c, c));
      std::vector<std::vector<at::Tensor>> outputs{parts};
      std::vector<at::Tensor> inputs{parts[static_cast<size_t>(where_.rank)].clone()};
      ++calls_;
      wait(group_->allgather(outputs, inputs));
    });
  }

  void reduceScatterSum(const at::Tensor& full, const at::Tensor& part) override {
    const int world = where_.world_size;
    collectives::checkEqualParts(full, world);
    const int64_t c = full.numel() / world;
    GRAMRL_ASSERT(part.numel() == c && part.is_contiguous() && part.scalar_type() == full.scalar_type() &&
                      part.device() == full.device(),
                  "reduceScatterSum: the part must be {} contiguous elements of the full tensor's dtype and device", c);
    checkDevice("reduce_scatter", full);
    checkUsable("reduce_scatter");
    guardedUse("reduce_scatter", [&] {
      ++calls_;
      if (where_.backend == "nccl") {
        std::vector<at::Tensor> parts;
        for (int r = 0; r < world; ++r) parts.push_back(full.narrow(0, r * c, c));
        std::vector<std::vector<at::Tensor>> inputs{parts};
        std::vector<at::Tensor> outputs{part.view(-1)};
        wait(group_->reduce_scatter(outputs, inputs));
      } else {
        std::vector<at::Tensor> one{full};
        wait(group_->allreduce(one));
        at::NoGradGuard no_grad;
        part.view(-1).copy_(full.narrow(0, where_.rank * c, c));
      }
    });
  }

  void barrier() override {
    checkUsable("barrier");
    guardedUse("barrier", [&] {
      ++calls_;
      wait(group_->barrier(barrierOptions()));
    });
  }

  // A barrier that callCount() does not see (connect's warm-up). Throws the raw c10d error.
  void uncountedBarrier() { wait(group_->barrier(barrierOptions())); }

 private:
  // NCCL's barrier needs to know its device; Gloo ignores device_ids.
  c10d::BarrierOptions barrierOptions() const {
    c10d::BarrierOptions opts;
    if (device_.is_cuda() && device_.has_index()) opts.device_ids = {device_.index()};
    return opts;
  }

  void wait(const c10::intrusive_ptr<c10d::Work>& work) {
    collectives::compat::waitForWork(work, where_.timeout, /*poll_for_completion=*/where_.backend == "nccl");
  }

  template <typename Issue>
  void run(const char* op, const std::vector<at::Tensor>& tensors, Issue&& issue, bool copy_back = true) {
    checkUsable(op);
    if (where_.backend == "nccl") {
      for (size_t i = 0; i < tensors.size(); ++i) {
        GRAMRL_ASSERT(!tensors[i].defined() || tensors[i].is_cuda(), "{}: tensor {} is on {}, but nccl needs CUDA", op,
                      i, tensors[i].device().str());
      }
    }
    guardedUse(op, [&] {
      collectives::forEachBucket(
          tensors, bucket_bytes_,
          [&](at::Tensor& flat) {
            ++calls_;
            wait(issue(flat));
          },
          copy_back, &buffers_);
    });
  }

  // Runs f; a c10d failure marks the group unusable (the ranks may now disagree on how many
  // calls were made, so nothing after it can be matched up) and becomes a CollectiveError.
  template <typename F>
  void guardedUse(const char* op, F&& f) {
    try {
      guarded(op, where_, std::forward<F>(f));
    } catch (const CollectiveError& e) {
      broken_ = e.what();
      throw;
    }
  }

  void checkDevice(const char* op, const at::Tensor& t) const {
    GRAMRL_ASSERT(where_.backend != "nccl" || t.is_cuda(), "{}: the tensor is on {}, but nccl needs CUDA", op,
                  t.device().str());
  }

  void checkUsable(const char* op) const {
    GRAMRL_CHECK(broken_.empty(), CollectiveError,
                 "{} on rank {} of {} ({}): the group is unusable after an earlier error: {}", op, where_.rank,
                 where_.world_size, where_.backend, broken_);
  }

  c10::intrusive_ptr<collectives::compat::BackendBase> group_;
  const Where where_;
  const at::Device device_;
  const int64_t bucket_bytes_;
  int64_t calls_ = 0;
  std::string broken_;  // the first error; empty while the group is usable
  collectives::BucketBuffers buffers_;
};

bool isLoopback(const std::string& host) { return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0; }

std::string resolveBackend(const CollectiveOptions& options, at::Device device) {
  const std::string& name = options.backend;
  GRAMRL_CHECK(name == "auto" || name == "gloo" || name == "nccl", ConfigError,
               "collectives backend '{}': expected one of auto, gloo, nccl", name);
  const std::string backend = name == "auto" ? (device.is_cuda() ? "nccl" : "gloo") : name;
  if (backend == "nccl") {
    GRAMRL_CHECK(collectives::compat::kHasNccl, ConfigError,
                 "collectives backend nccl (from '{}', device {}): this LibTorch was built without NCCL; use gloo",
                 name, device.str());
    GRAMRL_CHECK(device.is_cuda() && device.has_index(), ConfigError,
                 "collectives backend nccl needs a CUDA device with an index (cuda:N), got {}", device.str());
  }
  return backend;
}

void checkArguments(int rank, int world_size, const CollectiveOptions& options) {
  GRAMRL_CHECK(world_size >= 1, ConfigError, "collective world size must be >= 1, got {}", world_size);
  GRAMRL_CHECK(rank >= 0 && rank < world_size, ConfigError, "collective rank {} is not in [0, {})", rank, world_size);
  GRAMRL_CHECK(options.timeout.count() > 0, ConfigError, "collective timeout must be positive, got {} ms",
               options.timeout.count());
  GRAMRL_CHECK(options.bucket_bytes > 0, ConfigError, "collective bucket_bytes must be positive, got {}",
               options.bucket_bytes);
  GRAMRL_CHECK(!options.group_name.empty(), ConfigError, "collective group_name must not be empty");
}

std::shared_ptr<::gloo::transport::Device> glooDevice(bool loopback) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0') {
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  }
  if (loopback) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

std::unique_ptr<Collective> makeProcessGroupCollective(const StoreHandle& store, int rank, int world_size,
                                                       at::Device device, const CollectiveOptions& options) {
  checkArguments(rank, world_size, options);
  GRAMRL_ASSERT(store.store, "makeProcessGroupCollective needs a store");
  Where where{rank, world_size, resolveBackend(options, device), store.description, options.timeout};
  const Where connecting{rank, world_size, where.backend, store.description, options.connect_timeout};
  const auto start = std::chrono::steady_clock::now();
  // Every rank first checks in through the store, waiting up to connect_timeout (process start-up
  // can be slow), so the backend's own connect, bounded by the op timeout like every collective
  // (Gloo applies one timeout to both), only starts once all ranks are up.
  guarded("connect", connecting, [&] {
    auto join = c10::make_intrusive<c10d::PrefixStore>(options.group_name + "/join", store.store);
    join->add("ranks", 1);
    const auto deadline = start + options.connect_timeout;
    while (join->add("ranks", 0) < world_size) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error(fmt::format("timed out waiting for all {} ranks to join", world_size));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  const auto backend_timeout = options.timeout;
  auto group = guarded("connect", connecting, [&]() -> c10::intrusive_ptr<collectives::compat::BackendBase> {
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>(options.group_name, store.store);
#ifdef USE_C10D_NCCL
    if (where.backend == "nccl") {
      return c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, rank, world_size,
                                                         collectives::compat::ncclOptions(backend_timeout));
    }
#endif
    auto gloo_options = collectives::compat::glooOptions(backend_timeout);
    gloo_options->devices.push_back(glooDevice(store.loopback));
    // Connects the full mesh: returns once every rank has joined, throws after the timeout.
    return c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, rank, world_size, gloo_options);
  });
  auto collective = std::make_unique<ProcessGroupCollective>(std::move(group), where, device, options.bucket_bytes);
  if (where.backend == "nccl") {
    // NCCL creates its communicator lazily; one barrier makes connect block until every rank
    // joined, as with Gloo. It is not counted in callCount().
    guarded("connect", connecting, [&] { collective->uncountedBarrier(); });
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  log::info("collectives: group '{}' rank {} of {} connected ({}, store {}, {} ms)", options.group_name, rank,
            world_size, where.backend, store.description, took.count());
  return collective;
}

std::unique_ptr<Collective> connectCollective(const RendezvousAddress& address, int rank, int world_size,
                                              at::Device device, const CollectiveOptions& options) {
  checkArguments(rank, world_size, options);
  GRAMRL_CHECK(address.port != 0, ConfigError, "collectives store {}: a client needs the host's real port",
               address.toString());
  const Where where{rank, world_size, resolveBackend(options, device), address.toString(), options.connect_timeout};
  c10d::TCPStoreOptions store_options;
  store_options.port = address.port;
  store_options.isServer = false;
  // c10d retries the connect for this long, counted in whole seconds; round up so a short
  // timeout still retries.
  store_options.timeout =
      std::max<std::chrono::milliseconds>(std::chrono::ceil<std::chrono::seconds>(options.connect_timeout), 1s);
  StoreHandle handle;
  handle.store = guarded("connect", where, [&]() -> c10::intrusive_ptr<c10d::Store> {
    auto tcp = c10::make_intrusive<c10d::TCPStore>(address.host, store_options);
    tcp->setTimeout(std::max(options.timeout, options.connect_timeout));
    return tcp;
  });
  handle.description = address.toString();
  handle.loopback = isLoopback(address.host);
  return makeProcessGroupCollective(handle, rank, world_size, device, options);
}

}  // namespace gramrl
