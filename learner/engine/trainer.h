// The training engine: one loop for every algorithm, data parallel over learner ranks.
//
// Each step: every rank draws the same global batch from the EpochSampler (NOTE [Data cursor])
// and takes its contiguous slice; the slice is cut into micro-batches whose losses are
// back-propagated with gradient accumulation (NOTE [Loss normalisation] in objective.h); the
// gradients are summed over ranks in coalesced buckets (common/collectives); the global gradient
// norm is clipped; AdamW steps at the scheduled learning rate (lr_schedule.h). Rank 0 writes
// metrics (JSONL, TensorBoard, the progress line) and checkpoints (run_checkpoints.h); a run
// started in a run directory that holds checkpoints continues from the newest one (resume
// "auto"), with the same parameters, optimiser moments, data order and schedule as if it had
// never stopped.
//
// Threads: construct and run() on one thread, the one that owns the model. Blocks for the whole
// run. Throws CollectiveError (a peer died or hung, after the collective timeout), ConfigError
// (options that do not fit the model or data: freeze patterns, batch sizes), DataError
// (a checkpoint that does not fit), SystemError (I/O).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "learner/engine/lr_schedule.h"
#include "learner/engine/objective.h"
#include "learner/engine/run_checkpoints.h"

namespace gramrl {

class Collective;
class Transformer;

struct TrainerOptions {
  std::string run_dir;  // metrics.jsonl, tensorboard/, checkpoints/
  std::string label = "train";
  int64_t total_steps = 1;
  int64_t global_batch_size = 1;
  int64_t micro_batch_size = 1;
  LrScheduleOptions schedule;  // total_steps is taken from above
  double weight_decay = 0.0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  double max_grad_norm = 1.0;       // 0: no clipping (the norm is still reported)
  std::vector<std::string> freeze;  // fnmatch patterns of parameter names kept fixed
  int64_t checkpoint_every = 0;     // 0: only at the end
  int64_t keep_last = 3;
  std::string resume = "auto";  // auto | never | <checkpoint directory>
  int64_t eval_every = 0;       // 0: only at the end
  int64_t log_every = 1;
  uint64_t seed = 0;
  std::string precision = "fp32";         // fp32 | bf16 (autocast; CUDA only)
  bool activation_checkpointing = false;  // NOTE [Activation recomputation] in common/model/layer_recompute.h
  int64_t zero_stage = 0;                 // NOTE [ZeRO-1 optimizer sharding] in update_step.h
  bool tensorboard = true;
  std::string tokenizer_spec;             // saved with each checkpoint's model (NOTE [Tokenizer of a saved model])
  double progress_log_interval_s = 30.0;  // when stderr is not a terminal
  // Consulted after each step's checkpoint: returning true ends run() there, as a crash right
  // after that point would (tests of resumption; time-limited jobs).
  std::function<bool(const TrainerState&)> stop_after;
};

class Trainer {
 public:
  // `model` is the trained module (its parameters are updated in place). The trainer does not
  // own `objective` or `collective`; both must outlive it.
  Trainer(TrainerOptions options, std::shared_ptr<Transformer> model, Objective& objective, Collective& collective);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Resumes if a checkpoint applies, then trains to total_steps. Returns the final state.
  TrainerState run();

  // Names of the trainable (not frozen) parameters.
  std::vector<std::string> trainableParameterNames() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gramrl
