// bf16 autocast for the forward pass on CUDA: matmuls run in bfloat16 while parameters,
// gradients and optimiser states stay float32 (torch.autocast(device_type="cuda",
// dtype=torch.bfloat16) in Python).
//
// The autocast API changed between LibTorch 1.13 (set_enabled / set_autocast_gpu_dtype) and
// 2.4+ (set_autocast_enabled(device_type, ...) / set_autocast_dtype(device_type, ...)); the
// difference is confined to autocast.cc.
//
// Threads: autocast state is thread-local; construct and destroy on the thread that runs the
// forward. Not verified on a GPU yet (the development machines have none).
#pragma once

namespace gramrl {

class AutocastScope {
 public:
  // `enabled` false makes the scope a no-op (CPU runs, fp32 precision).
  explicit AutocastScope(bool enabled);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
  bool previous_ = false;
};

}  // namespace gramrl
