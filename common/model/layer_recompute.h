// Activation recomputation per decoder layer (learner.activation_checkpointing).
//
// NOTE [Activation recomputation]
// A training forward normally keeps every intermediate tensor of every layer for the backward
// pass: for a Llama-8B row of 1024 tokens that is about 30 tensors of [T, hidden] or [T,
// intermediate] per layer, and the attention probabilities [heads, T, T] in float32, times 32
// layers. With recomputation each decoder layer runs as one autograd node
// (LayerRecomputeFunction in layer_recompute.cc): its forward runs without autograd and saves
// only the layer's input; its backward runs the layer again, with autograd, on a detached copy of
// that input, and back-propagates the incoming gradient through the rebuilt graph. What stays
// alive between forward and backward is then one [B, T, hidden] input per layer plus the graph
// of the one layer being recomputed (and the heads' tensors, outside the layers). The price is a
// second forward of every layer, about a third more compute per step.
//   - The layer's trainable parameters are inputs of the node, so their gradients come back as
//     the node's outputs and are accumulated into .grad by autograd as usual (frozen parameters
//     are left out). Gradients equal those of the plain forward bit for bit on CPU: the same
//     kernels run on the same values in the same order (checked by
//     ActivationCheckpointing.GradientsEqualPlainForward).
//   - The recomputation runs under the autocast state the forward ran under (CUDA and CPU
//     autocast, their dtypes), saved when the node is built, so bf16 training recomputes in bf16.
//   - The decoder has no dropout or other randomness, so no RNG state is saved or replayed.
//   - Only the training forward is affected: without grad mode (scoring, reference log-probs,
//     evaluation) and in cached step() (generation) layers run plainly.
//   - With ZeRO-3 shards the node's only input is the layer's input (made to require grad if it
//     does not, so that the node is recorded): the layer's weights are gathered for the forward
//     and released after it, gathered again for the recomputation, and the gradients of the
//     sharded parameters go to LayerShards::reduceGradients, which sums them over the ranks into
//     this rank's shard (NOTE [ZeRO-3 parameter sharding]).
// Threads and ownership: the node keeps the layer (shared_ptr) and the attention context alive
// until the backward has run or the graph is freed.
#pragma once

#include <memory>

#include <ATen/Tensor.h>

#include "common/model/layer_shards.h"
#include "common/model/layers.h"

namespace gramrl {

// layer->forward(x, ctx, nullptr) as one recomputing autograd node (NOTE [Activation
// recomputation]). Call it with grad mode on; the result is identical to the plain forward.
// With `shards` (NOTE [ZeRO-3 parameter sharding]) the layer is gathered around its forward and
// again around its recomputation, and the gradients of shards->trainable(index) go to
// shards->reduceGradients(index, ...) instead of .grad.
at::Tensor recomputedLayerForward(const std::shared_ptr<DecoderLayer>& layer, const at::Tensor& x,
                                  const AttentionContext& ctx, const std::shared_ptr<LayerShards>& shards = nullptr,
                                  size_t index = 0);

}  // namespace gramrl
