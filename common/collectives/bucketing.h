// Bucketing for coalesced collectives (NOTE [Coalesced collectives] in collective.h).
//
// Internal to gramrl::collectives; ATen only, no c10d. Functions here are pure with respect to
// the group: they only plan buckets and move bytes between the caller's tensors and a flat
// buffer, so they can be tested without any peers.
#pragma once

#include <ATen/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace gramrl::collectives {

// Asserts that `full` is 1-d, contiguous and cut into `world` parts of equal size (allGather
// and reduceScatterSum in collective.h).
void checkEqualParts(const at::Tensor& full, int world);

struct Bucket {
  std::vector<size_t> indices;  // into the caller's list, in the caller's order
  int64_t bytes = 0;
};

// Groups `tensors` by (dtype, device) in the order of first appearance and packs each group
// greedily, in order, into buckets of at most `bucket_bytes` (a larger tensor is alone in its
// bucket). Empty tensors are left out. Every tensor must be defined and dense
// (InternalError otherwise). The plan depends only on dtypes, devices and sizes, so every
// rank that passes the same list gets the same plan.
std::vector<Bucket> planBuckets(const std::vector<at::Tensor>& tensors, int64_t bucket_bytes);

// Flat staging buffers kept between calls, one per (dtype, device), so that a bucket is packed
// into memory that is already paged in. A freshly allocated 25 MiB buffer costs ~110 ms of page
// faults on our 2-core VMs (glibc mmaps and unmaps blocks that large on every call), more than
// the Gloo allreduce of it (~30 ms); bench/collective_bench.cc measures the difference.
// Memory: about bucket_bytes per dtype in use (more only for a non-contiguous tensor larger than
// a bucket). Not thread-safe; owned by one Collective.
class BucketBuffers {
 public:
  // A contiguous 1-D tensor of `numel` elements, a prefix of the kept buffer when that is large
  // enough, else a new buffer that replaces it.
  at::Tensor get(at::ScalarType dtype, at::Device device, int64_t numel);

 private:
  std::vector<at::Tensor> buffers_;
};

// Runs `op` once per planned bucket on a contiguous 1-D tensor that holds the bucket's tensors
// back to back; `op` changes it in place (an allreduce, a broadcast). Afterwards the values
// are copied back into the caller's tensors when `copy_back` (a broadcast root skips it). A
// bucket of one contiguous tensor hands `op` a view of that tensor, so nothing is copied.
// Runs with autograd off, so parameters that require grad may be passed. Packs into `buffers`
// when given, else into buffers allocated for this call. Returns the number of times `op` ran.
int64_t forEachBucket(const std::vector<at::Tensor>& tensors, int64_t bucket_bytes,
                      const std::function<void(at::Tensor&)>& op, bool copy_back = true,
                      BucketBuffers* buffers = nullptr);

}  // namespace gramrl::collectives
