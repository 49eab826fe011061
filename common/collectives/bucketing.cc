#include "common/collectives/bucketing.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <utility>

#include "common/core/errors.h"

namespace gramrl::collectives {

std::vector<Bucket> planBuckets(const std::vector<at::Tensor>& tensors, int64_t bucket_bytes) {
  GRAMRL_ASSERT(bucket_bytes > 0, "bucket_bytes must be positive, got {}", bucket_bytes);
  struct Group {
    at::ScalarType dtype;
    at::Device device;
    std::vector<Bucket> buckets;
  };
  std::vector<Group> groups;  // a handful at most: a linear search is the cheapest map
  for (size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i];
    GRAMRL_ASSERT(t.defined(), "tensor {} of {} passed to a collective is undefined", i, tensors.size());
    GRAMRL_ASSERT(t.layout() == at::kStrided, "tensor {} passed to a collective is not dense", i);
    if (t.numel() == 0) continue;
    Group* group = nullptr;
    for (auto& g : groups) {
      if (g.dtype == t.scalar_type() && g.device == t.device()) group = &g;
    }
    if (group == nullptr) {
      groups.push_back(Group{t.scalar_type(), t.device(), {}});
      group = &groups.back();
    }
    const int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
    if (group->buckets.empty() || group->buckets.back().bytes + bytes > bucket_bytes) group->buckets.emplace_back();
    group->buckets.back().indices.push_back(i);
    group->buckets.back().bytes += bytes;
  }
  std::vector<Bucket> plan;
  for (auto& g : groups) {
    for (auto& b : g.buckets) plan.push_back(std::move(b));
  }
  return plan;
}

at::Tensor BucketBuffers::get(at::ScalarType dtype, at::Device device, int64_t numel) {
  for (auto& buffer : buffers_) {
    if (buffer.scalar_type() != dtype || buffer.device() != device) continue;
    if (buffer.numel() < numel) buffer = at::empty({numel}, at::TensorOptions().dtype(dtype).device(device));
    return buffer.narrow(0, 0, numel);
  }
  buffers_.push_back(at::empty({numel}, at::TensorOptions().dtype(dtype).device(device)));
  return buffers_.back();
}

int64_t forEachBucket(const std::vector<at::Tensor>& tensors, int64_t bucket_bytes,
                      const std::function<void(at::Tensor&)>& op, bool copy_back, BucketBuffers* buffers) {
  // Parameters are leaves that require grad; copying into them in place is only legal with
  // autograd off, and no graph should record communication anyway.
  at::NoGradGuard no_grad;
  const std::vector<Bucket> plan = planBuckets(tensors, bucket_bytes);
  BucketBuffers local;
  if (buffers == nullptr) buffers = &local;
  for (const Bucket& bucket : plan) {
    const at::Tensor& first = tensors[bucket.indices[0]];
    if (bucket.indices.size() == 1 && first.is_contiguous()) {
      at::Tensor flat = first.view({-1});
      op(flat);
      continue;
    }
    int64_t numel = 0;
    for (size_t i : bucket.indices) numel += tensors[i].numel();
    at::Tensor flat = buffers->get(first.scalar_type(), first.device(), numel);
    int64_t offset = 0;
    for (size_t i : bucket.indices) {
      const at::Tensor& t = tensors[i];
      flat.narrow(0, offset, t.numel()).view(t.sizes()).copy_(t);
      offset += t.numel();
    }
    op(flat);
    if (!copy_back) continue;
    offset = 0;
    for (size_t i : bucket.indices) {
      const at::Tensor& t = tensors[i];
      t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));  // writes the caller's storage
      offset += t.numel();
    }
  }
  return static_cast<int64_t>(plan.size());
}

void checkEqualParts(const at::Tensor& full, int world) {
  GRAMRL_ASSERT(full.defined() && full.dim() == 1 && full.is_contiguous() && world >= 1 && full.numel() % world == 0,
                "a flat tensor cut into {} equal parts must be 1-d, contiguous and of a multiple of {} elements", world,
                world);
}

}  // namespace gramrl::collectives
