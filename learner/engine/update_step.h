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

#include "learner/engine/lr_schedule.h"
#include "learner/engine/objective.h"
#include "learner/engine/optimizer.h"

namespace gramrl {

class Collective;
class Transformer;

struct TrainedModuleOptions {
  LrScheduleOptions schedule;
  AdamWSettings adamw;              // adamw.lr is replaced by the schedule's rate each update
  double max_grad_norm = 1.0;       // 0: no clipping (the norm is still reported)
  std::vector<std::string> freeze;  // fnmatch patterns of parameter names kept fixed
  std::string precision = "fp32";   // fp32 | bf16 (autocast; CUDA only)
};

class TrainedModule {
 public:
  // Applies the freeze list and builds the optimiser. Throws ConfigError for a freeze pattern
  // that matches nothing.
  TrainedModule(std::string name, std::shared_ptr<Transformer> model, TrainedModuleOptions options);
  ~TrainedModule();
  TrainedModule(const TrainedModule&) = delete;
  TrainedModule& operator=(const TrainedModule&) = delete;

  const std::string& name() const { return name_; }
  Transformer& model() { return *model_; }
  const std::shared_ptr<Transformer>& sharedModel() const { return model_; }
  torch::optim::AdamW& optimizer() { return *optimizer_; }
  const NamedParameters& parameters() const { return params_; }
  const TrainedModuleOptions& options() const { return options_; }

 private:
  std::string name_;
  std::shared_ptr<Transformer> model_;
  TrainedModuleOptions options_;
  NamedParameters params_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
};

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
