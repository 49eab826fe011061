// The seam between the decoder and ZeRO-3 parameter sharding (NOTE [ZeRO-3 parameter sharding]
// in learner/engine/zero3.h, which implements it with a Collective).
//
// With shards set on a Transformer, every decoder layer's sharded parameters are empty tensors
// except while the layer runs: DecoderStack::forward and step() call gather(i) before layer i
// and release(i) after it, and the recomputing backward of a training forward (NOTE [Activation
// recomputation]) gathers the layer again, back-propagates through it and hands the gradients of
// its sharded trainable parameters to reduceGradients(i, ...) instead of accumulating them into
// .grad. Every call is a collective: all ranks must run the same forwards and backwards, in the
// same order.
//
// Threads: the model's owner thread only. Torch-light: no collectives here.
#pragma once

#include <cstddef>
#include <vector>

#include <ATen/Tensor.h>

namespace gramrl {

class LayerShards {
 public:
  virtual ~LayerShards() = default;
  // Layer `layer`'s sharded parameters hold their whole values after gather and no storage after
  // release. Calls may nest (the same layer gathered twice is released twice).
  virtual void gather(size_t layer) = 0;
  virtual void release(size_t layer) = 0;
  // The layer's sharded parameters that are trained (the recompute differentiates with respect
  // to these), in the order reduceGradients expects their gradients. Empty for a frozen model.
  virtual const std::vector<at::Tensor>& trainable(size_t layer) const = 0;
  // One backward's gradients of trainable(layer) (an undefined one counts as zeros): summed over
  // the ranks into this rank's shard of the gradients.
  virtual void reduceGradients(size_t layer, const std::vector<at::Tensor>& grads) = 0;
};

// gather(layer) for the lifetime of the guard (release(layer) at its end); no-op with null shards.
class GatheredLayer {
 public:
  GatheredLayer(LayerShards* shards, size_t layer) : shards_(shards), layer_(layer) {
    if (shards_ != nullptr) shards_->gather(layer_);
  }
  ~GatheredLayer() {
    if (shards_ != nullptr) shards_->release(layer_);
  }
  GatheredLayer(const GatheredLayer&) = delete;
  GatheredLayer& operator=(const GatheredLayer&) = delete;

 private:
  LayerShards* shards_;
  size_t layer_;
};

}  // namespace gramrl
