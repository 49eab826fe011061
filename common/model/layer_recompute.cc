#include "common/model/layer_recompute.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "common/core/errors.h"

namespace gramrl {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The autocast state of this thread (CUDA and CPU), captured at the forward and restored for the
// recomputation. The API moved in LibTorch 2.4 (per-device functions); learner/engine/autocast.cc
// makes the same split.
struct AutocastState {
  bool cuda = false;
  bool cpu = false;
  at::ScalarType cuda_dtype = at::kHalf;
  at::ScalarType cpu_dtype = at::kBFloat16;

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  static AutocastState current() {
    return {at::autocast::is_autocast_enabled(at::kCUDA), at::autocast::is_autocast_enabled(at::kCPU),
            at::autocast::get_autocast_dtype(at::kCUDA), at::autocast::get_autocast_dtype(at::kCPU)};
  }
  void set() const {
    at::autocast::set_autocast_dtype(at::kCUDA, cuda_dtype);
    at::autocast::set_autocast_dtype(at::kCPU, cpu_dtype);
    at::autocast::set_autocast_enabled(at::kCUDA, cuda);
    at::autocast::set_autocast_enabled(at::kCPU, cpu);
  }
#else
  static AutocastState current() {
    return {at::autocast::is_enabled(), at::autocast::is_cpu_enabled(), at::autocast::get_autocast_gpu_dtype(),
            at::autocast::get_autocast_cpu_dtype()};
  }
  void set() const {
    at::autocast::set_autocast_gpu_dtype(cuda_dtype);
    at::autocast::set_autocast_cpu_dtype(cpu_dtype);
    at::autocast::set_enabled(cuda);
    at::autocast::set_cpu_enabled(cpu);
  }
#endif
  bool any() const { return cuda || cpu; }
};

// Sets `state` for its lifetime; as learner/engine/autocast.h's AutocastScope, it drops the
// cached low-precision weight copies when the outermost scope ends (they go stale at the next
// optimiser step).
class AutocastRestore {
 public:
  explicit AutocastRestore(const AutocastState& state) : previous_(AutocastState::current()), active_(state.any()) {
    state.set();
    if (active_) at::autocast::increment_nesting();
  }
  ~AutocastRestore() {
    if (active_ && at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    previous_.set();
  }
  AutocastRestore(const AutocastRestore&) = delete;
  AutocastRestore& operator=(const AutocastRestore&) = delete;

 private:
  AutocastState previous_;
  bool active_;
};

// What the backward needs besides the saved input: the layer, the attention context of the
// forward, the trainable parameters (in the order they were given to the node) and the
// autocast state. Carried through the node's saved_data as a capsule.
struct RecomputeState : torch::CustomClassHolder {
  std::shared_ptr<DecoderLayer> layer;
  std::shared_ptr<LayerShards> shards;  // null: whole parameters, gradients into .grad
  size_t index = 0;
  AttentionContext ctx;
  std::vector<at::Tensor> params;
  AutocastState autocast;
};

class LayerRecomputeFunction : public torch::autograd::Function<LayerRecomputeFunction> {
 public:
  // Function::apply runs this with grad mode off: nothing inside the layer is recorded.
  static at::Tensor forward(AutogradContext* actx, const at::Tensor& x, at::TensorList params,
                            c10::intrusive_ptr<RecomputeState> state) {
    (void)params;  // inputs of the node only, so that their gradients flow back through it
    at::Tensor y;
    {
      GatheredLayer gathered(state->shards.get(), state->index);
      y = state->layer->forward(x, state->ctx, nullptr);
    }
    actx->save_for_backward({x});
    actx->saved_data["state"] = c10::IValue::make_capsule(std::move(state));
    return y;
  }

  static variable_list backward(AutogradContext* actx, variable_list grads) {
    auto holder = actx->saved_data["state"].toCapsule();
    auto* state = static_cast<RecomputeState*>(holder.get());
    const at::Tensor x = actx->get_saved_variables()[0].detach().requires_grad_(true);
    GatheredLayer gathered(state->shards.get(), state->index);
    std::vector<at::Tensor> inputs{x};
    if (state->shards != nullptr) {
      const auto& sharded = state->shards->trainable(state->index);
      inputs.insert(inputs.end(), sharded.begin(), sharded.end());
    } else {
      inputs.insert(inputs.end(), state->params.begin(), state->params.end());
    }
    at::Tensor y;
    {
      torch::AutoGradMode grad_on(true);
      AutocastRestore autocast(state->autocast);
      y = state->layer->forward(x, state->ctx, nullptr);
    }
    variable_list out = torch::autograd::grad({y}, inputs, {grads[0]}, /*retain_graph=*/false,
                                              /*create_graph=*/false, /*allow_unused=*/true);
    if (state->shards != nullptr) {
      state->shards->reduceGradients(state->index, variable_list(out.begin() + 1, out.end()));
      out.resize(1);  // the node's parameters (none) get nothing
    }
    out.emplace_back();  // the state argument
    return out;
  }
};

}  // namespace

at::Tensor recomputedLayerForward(const std::shared_ptr<DecoderLayer>& layer, const at::Tensor& x,
                                  const AttentionContext& ctx, const std::shared_ptr<LayerShards>& shards,
                                  size_t index) {
  GRAMRL_ASSERT(torch::GradMode::is_enabled(), "recomputedLayerForward: only for a forward with grad mode on");
  auto state = c10::make_intrusive<RecomputeState>();
  state->layer = layer;
  state->shards = shards;
  state->index = index;
  state->ctx = ctx;
  if (shards == nullptr) {
    for (const auto& p : layer->parameters(/*recurse=*/true)) {
      if (p.requires_grad()) state->params.push_back(p);
    }
  }
  state->autocast = AutocastState::current();
  const std::vector<at::Tensor> params = state->params;
  // Sharded: x is the node's only input, so it must require grad for the node to be recorded.
  const bool record = shards != nullptr && !shards->trainable(index).empty() && !x.requires_grad();
  const at::Tensor input = record ? x.detach().requires_grad_(true) : x;
  return LayerRecomputeFunction::apply(input, at::TensorList(params), std::move(state));
}

}  // namespace gramrl
