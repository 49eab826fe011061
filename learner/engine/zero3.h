// ZeRO-3: a model's parameters, gradients and AdamW state sharded over the data-parallel ranks
// (learner.zero_stage: 3).
//
// NOTE [ZeRO-3 parameter sharding]
// Units. The sharded parameters are cut into units: each decoder layer's parameters, and the
// rest (embeddings, final norm, lm_head, value head), each split into the tensors AdamW decays
// (rank >= 2) and those it does not (norm weights, biases), because a unit is one flat 1-d
// shard. A unit of n elements is padded with zeros to W * c (c = ceil(n / W), W ranks); rank r
// owns elements [r * c, (r + 1) * c) of the concatenation of its tensors in named_parameters()
// order, as a leaf tensor of c elements (shard()) that AdamW steps. Padding stays zero: its
// gradient is zero, so AdamW's update and decay of it are zero.
// Layers. A layer's sharded parameters hold no storage except while the layer runs
// (LayerShards in common/model/layer_shards.h): gather() all-gathers the unit into a flat buffer
// and points each parameter at its slice (set_data), release() points them back at empty
// tensors. A training forward runs every layer as an activation-recomputation node (NOTE
// [Activation recomputation]), so the weights are gathered for the forward, released, and
// gathered again for the recomputation in the backward, whose parameter gradients are summed over
// the ranks straight into the owner's shard gradient (reduce-scatter; per micro-batch, so the
// sum's order differs from stage 0's one allreduce after the last micro-batch).
// The rest stays whole on every rank (the heads run outside the layers): its gradients
// accumulate in .grad as usual, are reduce-scattered into the shard gradients after the last
// micro-batch (reduceResidentGradients), and after the optimiser step the stepped shards are
// all-gathered back into the whole tensors (gatherResident).
// Frozen parameters of a trained model (learner.freeze) are not sharded: they stay whole. A
// frozen model (the PPO KL reference) shards every layer parameter and has no optimiser.
// Per rank this keeps, for a layer of n parameters, 16 n / W bytes (fp32 shard, its gradient,
// two moments) instead of 16 n, plus one gathered layer (and its gradients in the backward) at a
// time. Exports (checkpoints, weights for the actors) gather layer by layer into CPU copies
// (wholeParameters). Every gather and reduce is a collective: all ranks must run the same
// forwards, backwards and exports in the same order (the learner's ranks do: equal shares of
// every batch, ZeRO3.* tests run them on two ranks).
// Checkpoints: the model is saved whole (gathered), the optimiser per rank as with ZeRO-1 (NOTE
// [ZeRO-1 checkpoints]); resuming needs the same number of ranks.
//
// Threads: the model's owner thread. Throws CollectiveError from any collective.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Tensor.h>

#include "common/checkpoint/state_dict.h"
#include "common/model/layer_shards.h"

namespace gramrl {

class Collective;
class Transformer;

class ZeroShards final : public LayerShards {
 public:
  // Shards `model`'s parameters over `collective`'s ranks and releases its layers. trained: the
  // parameters that require grad (the layers' and the rest's; frozen ones stay whole);
  // otherwise every layer parameter (a frozen model). The model and the collective must outlive
  // this object; the model keeps it (Transformer::setLayerShards) until it is destroyed.
  ZeroShards(Transformer& model, Collective& collective, bool trained);
  ~ZeroShards() override;

  // LayerShards.
  void gather(size_t layer) override;
  void release(size_t layer) override;
  const std::vector<at::Tensor>& trainable(size_t layer) const override;
  void reduceGradients(size_t layer, const std::vector<at::Tensor>& grads) override;

  // This rank's shards, for AdamW's two groups (with and without weight decay).
  std::vector<at::Tensor> shards(bool decayed) const;
  // After the backward: the rest's .grad summed over ranks into the shard gradients, then freed.
  void reduceResidentGradients();
  // Clips the shard gradients to a global norm of max_norm (0: no clipping) as
  // clip_grad_norm_ does, and returns the norm before clipping (one allreduce).
  double clipGradNorm(double max_norm);
  void zeroGradients();
  // After the optimiser step: the rest's stepped shards gathered back into its whole tensors.
  void gatherResident();

  // Every parameter of the model by HF name in named_parameters() order, with its whole value:
  // sharded layers are gathered one at a time and copied to the CPU (when `copy`; otherwise the
  // tensors are left undefined and the call only takes part in the gathers, as ranks that do not
  // write do). Whole tensors are returned as they are (not copied). A collective.
  std::vector<std::pair<std::string, at::Tensor>> wholeParameters(bool copy) const;
  // Sets every sharded parameter from `tensors` (a whole state dict, e.g. a checkpoint every rank
  // reads): this rank's shards and the whole rest. No collective. DataError naming `source` and the
  // tensor for a missing tensor or a shape that does not fit.
  void load(const checkpoint::StateDict& tensors, const std::string& source);

  // Elements this rank keeps in its shards (with padding), for logs and tests.
  int64_t shardElements() const;

 private:
  struct Unit;
  void gatherUnit(Unit& unit, bool resident);

  Collective& collective_;
  const Transformer& model_;
  std::vector<std::vector<Unit>> layers_;           // per decoder layer: its units
  std::vector<std::vector<at::Tensor>> trainable_;  // per decoder layer: its units' tensors, in order
  std::vector<int> gathered_;                       // per decoder layer: gather() calls not yet released
  std::vector<Unit> rest_;                          // whole on every rank
};

}  // namespace gramrl
