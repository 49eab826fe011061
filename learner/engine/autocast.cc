#include "learner/engine/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace gramrl {
namespace {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool cudaAutocastEnabled() { return at::autocast::is_autocast_enabled(at::kCUDA); }
void setCudaAutocast(bool on) {
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, on);
}
#else
bool cudaAutocastEnabled() { return at::autocast::is_enabled(); }
void setCudaAutocast(bool on) {
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  at::autocast::set_enabled(on);
}
#endif

}  // namespace

AutocastScope::AutocastScope(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
  previous_ = cudaAutocastEnabled();
  setCudaAutocast(true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  // Cached bf16 copies of the weights are only valid until the next optimiser step.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  setCudaAutocast(previous_);
}

}  // namespace gramrl
