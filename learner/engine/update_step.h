// One optimiser update, shared by the offline loop (trainer.h: SFT, DPO, GRAM) and the online
// loop (learner/rlhf: GRPO and the algorithms after it).
//
// A TrainedModule is a model with its own optimiser, schedule, clipping and freeze list (the
// policy is one; a critic is another). runUpdate() runs one update of a module from an
// Objective over this rank's micro-batches: the normaliser is summed over ranks first, each
// micro-batch's loss_sum / global_normaliser is back-propagated, gradients are summed over ranks
// in buckets, the global norm is clipped and AdamW steps (NOTE [Loss normalisation] in
// objective.h). The loops around it decide where the examples come from and when to save.
//
// Threads: the owner thread of the model. Throws CollectiveError (a peer died or hung),
// DataError (a global batch without loss units), and what the objective throws.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/checkpoint/state_dict.h"
#include "learner/engine/lr_schedule.h"
#include "learner/engine/objective.h"
#include "learner/engine/optimizer.h"

namespace gramrl {

class Collective;
class Transformer;
class ZeroShards;

struct TrainedModuleOptions {
  LrScheduleOptions schedule;
  AdamWSettings adamw;                    // adamw.lr is replaced by the schedule's rate each update
  double max_grad_norm = 1.0;             // 0: no clipping (the norm is still reported)
  std::vector<std::string> freeze;        // fnmatch patterns of parameter names kept fixed
  std::string precision = "fp32";         // fp32 | bf16 (autocast; CUDA only)
  bool activation_checkpointing = false;  // NOTE [Activation recomputation] in common/model/layer_recompute.h
  int64_t zero_stage = 0;  // 0 | 1 | 3: NOTE [ZeRO-1 optimizer sharding], NOTE [ZeRO-3 parameter sharding]
};

// NOTE [ZeRO-1 optimizer sharding]
// With zero_stage 1 and more than one rank, the trainable parameters (in the model's order) are
// cut into `ranks` contiguous shards balanced by element count (partitionParameters), and each
// rank's AdamW holds state, exp_avg and exp_avg_sq, for its own shard only: 8 bytes per fp32
// parameter divided by the ranks instead of 8. An update is otherwise unchanged: every rank
// still computes and allreduces the full gradients (ZeRO-1 shards no gradients) and clips them
// with the same global norm; then each rank steps its shard, every gradient is zeroed, and
// every shard is broadcast from its owner, so all ranks end the update with the same
// parameters. AdamW's update of one tensor depends only on that tensor, its gradient and its
// own state, and the broadcast copies bits, so the parameters are bit for bit those of
// zero_stage 0 (ZeroStage.OneEqualsZeroOnTwoRanks). The price is one broadcast of the
// parameters per update (the parameter bytes once more on the wire, beside the allreduce).
// Checkpoints hold one optimizer file per rank (NOTE [ZeRO-1 checkpoints]).
//
// NOTE [ZeRO-1 checkpoints]
// A sharded module's optimiser state is saved as "<stem>.rank-RRRRR-of-WWWWW.pt" (optimizer.pt
// -> optimizer.rank-00001-of-00002.pt), one file per rank, in the checkpoint directory beside the
// model. Only rank 0 writes a checkpoint (NOTE [Training checkpoint layout]); the other ranks
// first write their files into a side directory of the checkpoints directory
// (optimizerShardSideDir: ".staging-shards-step-N", removed with stale staging directories),
// everyone meets at a barrier, and rank 0 moves them into its staging directory before the
// commit, so the commit point still covers every file. Resuming needs the same number of ranks
// and zero_stage (the shards are a partition for that many ranks); anything else is a
// ConfigError that names the ranks and stage the checkpoint needs. An unsharded module (stage 0,
// or one rank) writes "<stem>.pt" as before.

class TrainedModule {
 public:
  // Applies the freeze list, sets activation recomputation on the model, and builds the
  // optimiser, over this rank's shard only when options.zero_stage is 1 and world_size > 1 (NOTE
  // [ZeRO-1 optimizer sharding]). With zero_stage 3 and world_size > 1 it shards the model's
  // parameters over `collective` (which must then be given and outlive the module; NOTE [ZeRO-3
  // parameter sharding]): from then on every forward of the model is a collective call. Throws
  // ConfigError for a freeze pattern that matches nothing, fewer trainable tensors than ranks to
  // shard them over (stage 1), or stage 3 without activation checkpointing. A ZeRO-3 module owns
  // the layers' weights: once it is destroyed, the model's layers hold none.
  TrainedModule(std::string name, std::shared_ptr<Transformer> model, TrainedModuleOptions options, int rank = 0,
                int world_size = 1, Collective* collective = nullptr);
  ~TrainedModule();
  TrainedModule(const TrainedModule&) = delete;
  TrainedModule& operator=(const TrainedModule&) = delete;

  const std::string& name() const { return name_; }
  Transformer& model() { return *model_; }
  const std::shared_ptr<Transformer>& sharedModel() const { return model_; }
  // Over this rank's shard only when isSharded().
  torch::optim::AdamW& optimizer() { return *optimizer_; }
  // Every trainable parameter (all ranks' shards).
  const NamedParameters& parameters() const { return params_; }
  const TrainedModuleOptions& options() const { return options_; }
  bool isSharded() const { return options_.zero_stage >= 1 && world_size_ > 1; }
  // ZeRO-3's shards of the model (null unless zero_stage 3 on several ranks).
  ZeroShards* zeroShards() const { return zero_.get(); }

  // Every parameter by HF name in named_parameters() order with its whole value: the model's own
  // tensors, or with ZeRO-3 gathered copies on the CPU; a collective then, which every rank calls
  // (ranks that do not keep the values pass keep = false and get undefined tensors).
  std::vector<std::pair<std::string, at::Tensor>> wholeParameters(bool keep = true) const;
  // Sets the model's weights from a whole state dict (a checkpoint every rank reads); `source`
  // names it in errors (DataError).
  void loadWeights(const checkpoint::StateDict& tensors, const std::string& source);
  int rank() const { return rank_; }
  int worldSize() const { return world_size_; }
  // shardBounds()[r] .. shardBounds()[r + 1] index parameters() owned by rank r (world_size + 1
  // entries; one shard of everything when not sharded).
  const std::vector<size_t>& shardBounds() const { return bounds_; }

  // NOTE [ZeRO-1 checkpoints]. The name of rank `rank`'s optimizer file for base name `base`
  // ("optimizer.pt"): `base` itself when not sharded.
  std::string optimizerFileName(const std::string& base, int rank) const;
  // Writes this rank's optimiser state into `dir` (SystemError on I/O failure).
  void saveOptimizer(const std::string& dir, const std::string& base) const;
  // Rank 0 of a sharded module: moves ranks 1.. W-1's files from `side_dir` into `dir`.
  void adoptOptimizerShards(const std::string& side_dir, const std::string& dir, const std::string& base) const;
  // Reads this rank's optimiser state from checkpoint `dir`. ConfigError when the checkpoint was
  // written by another number of ranks or zero_stage (it names what it needs); DataError when the
  // file does not fit.
  void loadOptimizer(const std::string& dir, const std::string& base);

 private:
  std::string name_;
  std::shared_ptr<Transformer> model_;
  TrainedModuleOptions options_;
  int rank_ = 0;
  int world_size_ = 1;
  std::vector<size_t> bounds_;
  NamedParameters params_;
  std::shared_ptr<ZeroShards> zero_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
};

// A model's frozen copy (the KL reference) sharded as ZeRO-3 shards its layers (NOTE [ZeRO-3
// parameter sharding]) when zero_stage is 3 and the collective has several ranks; otherwise
// nothing changes. Every forward of the model is then a collective call.
void shardFrozenModel(Transformer& model, int64_t zero_stage, Collective& collective);

// Balanced contiguous partition of tensors with `numels` elements over `ranks`: ranks + 1
// boundaries, the first 0 and the last numels.size(), each shard non-empty; the boundary r sits
// where the running element count comes nearest r / ranks of the total. Throws ConfigError when
// there are fewer tensors than ranks.
std::vector<size_t> partitionParameters(const std::vector<int64_t>& numels, int ranks);

// Where ranks > 0 put their optimizer shards of checkpoint `step` before rank 0 commits it (NOTE
// [ZeRO-1 checkpoints]); `checkpoints_dir` is RunCheckpoints::dir().
std::string optimizerShardSideDir(const std::string& checkpoints_dir, int64_t step);

struct UpdateResult {
  double loss = 0.0;  // sum of loss units / global normaliser
  double lr = 0.0;
  double grad_norm = 0.0;  // before clipping
  double tokens = 0.0;     // summed over ranks
  double global_units = 0.0;
  std::vector<std::pair<std::string, double>> metrics;  // the objective's, summed over ranks, then divided
  double forward_backward_s = 0.0;
  double allreduce_s = 0.0;
  double optimizer_s = 0.0;
};

// One update of `module` at optimiser step `step` (for the schedule) from this rank's
// `micro_batches` of example indices. Every rank calls it with the same step; a rank may have
// a different number of micro-batches only if the objective's metric names do not depend on it.
UpdateResult runUpdate(TrainedModule& module, Objective& objective, Collective& collective,
                       const std::vector<std::vector<int64_t>>& micro_batches, int64_t step);

}  // namespace gramrl
