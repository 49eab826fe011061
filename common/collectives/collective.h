// Data-parallel collectives: the seam between the training engine and c10d.
//
// The engine sums gradients and metrics over its data-parallel ranks and broadcasts initial
// weights through a Collective. Two implementations exist: a world of one (no-ops; the
// default and the fake used by engine tests) and a c10d process group (Gloo for CPU tensors,
// NCCL for CUDA tensors when LibTorch was built with it). This header keeps c10d out of its
// includers; common/collectives/process_group.h is the c10d-facing side.
//
// NOTE [Coalesced collectives]
// One underlying collective per tensor costs a round trip per tensor (a 0.5B model has ~300
// parameter tensors). allreduceSum and broadcast therefore group the tensors by (dtype, device),
// in the order of first appearance, and pack each group greedily into flat buckets of at most
// `bucket_bytes`; a tensor larger than that is a bucket of its own. One collective runs per
// bucket, and the results are copied back into the caller's tensors. A bucket holding a single
// contiguous tensor is reduced in place without a copy. Every rank must pass the same list
// (same order, dtypes, shapes, devices), or the ranks issue different calls and the group
// hangs until the timeout.
#pragma once

#include <ATen/Tensor.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/rendezvous/rendezvous.h"

namespace gramrl {

struct CollectiveOptions {
  // "auto" (nccl for a CUDA device, else gloo), "gloo", "nccl".
  std::string backend = "auto";
  // Bounds every collective and the connect; a dead or hung peer -> CollectiveError after this.
  std::chrono::milliseconds timeout{300000};
  // How long connect waits for every rank to join (process start-up on a loaded or large
  // machine takes longer than a collective should); the backend's own deadline is the larger of
  // the two, and each collective is still bounded by `timeout` when waited for.
  std::chrono::milliseconds connect_timeout{300000};
  // Coalescing: tensors are flattened into buckets of at most this many bytes (a larger single
  // tensor is its own bucket). See NOTE [Coalesced collectives].
  int64_t bucket_bytes = 25 << 20;
  // Store prefix, so several groups can share one store. A name is used once per store: a
  // group re-created under the same name would read the previous group's addresses.
  std::string group_name = "default";
};

// One per process per group. Not thread-safe: one thread at a time calls it (the engine's
// owner thread), and every rank must issue the same calls in the same order.
// Every call blocks until all ranks have made the matching call, or until options.timeout,
// then throws CollectiveError (naming the op, rank, world size and backend). After an error
// the group is unusable: later calls throw CollectiveError at once; destroy it and restart
// from a checkpoint. Tensors are modified in place; the caller keeps ownership.
class Collective {
 public:
  virtual ~Collective() = default;

  virtual int rank() const = 0;
  virtual int worldSize() const = 0;
  // "single", "gloo", "nccl".
  virtual std::string backendName() const = 0;
  // The device the small helper tensors (allreduceSum of doubles) live on.
  virtual at::Device device() const { return at::Device(at::kCPU); }

  // In place, summed over ranks. Tensors may differ in dtype/shape/device; they are grouped per
  // (dtype, device) and flattened into buckets (one underlying collective per bucket, not per
  // tensor). Empty tensors are skipped.
  virtual void allreduceSum(const std::vector<at::Tensor>& tensors) = 0;
  // In place: every rank ends with root's values. Coalesced the same way.
  virtual void broadcast(const std::vector<at::Tensor>& tensors, int root) = 0;
  virtual void barrier() = 0;
  // NOTE [ZeRO-3 parameter sharding] in learner/engine/zero3.h. `full` is a flat, contiguous tensor
  // of worldSize() * c elements whose part r is elements [r * c, (r + 1) * c). allGather: each
  // rank has written its own part; afterwards every rank holds every part (in place, one
  // collective). reduceScatterSum: `full` is summed over ranks and this rank's part of the sum is
  // written into `part` (c elements, same dtype and device); `full` may be overwritten. Every rank
  // passes the same c, dtype and device.
  virtual void allGather(const at::Tensor& full) = 0;
  virtual void reduceScatterSum(const at::Tensor& full, const at::Tensor& part) = 0;
  // Convenience for metrics and counters: elementwise sum over ranks of a small vector of
  // doubles (float64 on the wire, one collective).
  std::vector<double> allreduceSum(std::vector<double> values);
  // Number of underlying collective calls issued so far (tests and benchmarks check coalescing
  // with it).
  virtual int64_t callCount() const = 0;
};

// A world of one: every call is a no-op (tensors unchanged), callCount stays 0. The engine's
// default and a test fake. It still checks its arguments as a real group would.
std::unique_ptr<Collective> makeSingleRankCollective();

// Connects a TCPStore client to the rendezvous store at host:port (hosted elsewhere, e.g. by
// the launcher or rank 0), wraps it in PrefixStore(group_name), and creates the process group
// for `rank` of `world_size` on `device`. Blocks until all ranks joined or options.connect_timeout
// (then CollectiveError naming rank, world, store address). world_size 1 may still create a
// real group. ConfigError for an unknown backend, a backend that does not fit the device, or
// rank/world/bucket_bytes out of range.
// Gloo binds to the interface in GLOO_SOCKET_IFNAME when set, to 127.0.0.1 when the store is
// on a loopback address, and otherwise to the address this machine's hostname resolves to.
std::unique_ptr<Collective> connectCollective(const RendezvousAddress& store, int rank, int world_size,
                                              at::Device device, const CollectiveOptions& options = {});

// Sums the .grad() of every parameter over ranks in buckets (grads that are undefined on this
// rank are treated as zeros and allocated, so every rank issues the same calls). Then
// optionally divides by `divisor` (1.0 = no division). Dense grads only.
void allreduceGradients(Collective& collective, const std::vector<at::Tensor>& parameters, double divisor = 1.0);

}  // namespace gramrl
