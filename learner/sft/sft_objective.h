// Supervised fine-tuning as a training Objective: -log pi(y | x) on demonstrations (x, y).
//
// Each example is a ChatEncoder encoding (learner/engine/sequence_batch.h, NOTE [Response
// tokens]): the generation-prompt rendering of x as the prompt and y + end-of-turn as the target,
// so the policy learns to stop where the demonstration stops. Only target tokens carry loss (the
// prompt is masked), and the loss unit is a target token: the step's loss is the token-level mean
// over the global batch (NOTE [Loss normalisation]), as GRAM stage 1 does.
// Metrics: "nll" (per target token, = the loss); evaluate(): "loss", the held-out NLL per target
// token.
//
// Threads: the trainer's thread only. Throws DataError (constructor) for an example with an empty
// prompt or target.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "learner/engine/objective.h"
#include "learner/engine/sequence_batch.h"

namespace gramrl {

class Transformer;

struct SftOptions {
  int64_t eval_batch_size = 16;
  int64_t pad_id = 0;
};

class SftObjective : public Objective {
 public:
  // `model` is the policy, trained by the caller's Trainer.
  SftObjective(std::shared_ptr<Transformer> model, std::vector<PromptResponse> train, std::vector<PromptResponse> eval,
               SftOptions options);

  std::string name() const override { return "sft"; }
  int64_t size() const override { return static_cast<int64_t>(train_.size()); }
  double normaliser(const std::vector<int64_t>& indices) override;
  ObjectiveOutput forward(const std::vector<int64_t>& indices) override;
  std::vector<MetricSum> evaluate(int rank, int world_size) override;

 private:
  std::shared_ptr<Transformer> model_;
  std::vector<PromptResponse> train_;
  std::vector<PromptResponse> eval_;
  SftOptions options_;
};

}  // namespace gramrl
