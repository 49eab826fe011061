// Masked next-token NLL as a training Objective: -log pi(target | prompt) on (prompt, target)
// token sequences. The shared core of SFT (learner/sft) and GRAM stage 1 (learner/gram), which
// differ only in how their examples are encoded.
//
// Only target tokens carry loss (the prompt is masked), and the loss unit is a target token: the
// step's loss is the token-level mean over the global batch (NOTE [Loss normalisation]).
// Metrics: "nll" (per target token, = the loss); evaluate(): "loss", the held-out NLL per target
// token.
//
// Threads: the trainer's thread only. Throws DataError (constructor) for an example with an empty
// prompt or target, naming `what` ("SFT", "GRAM stage-1") and the example.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/model/sequence_batch.h"
#include "learner/engine/objective.h"

namespace gramrl {

class Transformer;

struct TargetNllOptions {
  int64_t eval_batch_size = 16;
  int64_t pad_id = 0;
};

class TargetNllObjective : public Objective {
 public:
  // `model` is trained by the caller's Trainer; tokenizer::PromptResponse::response holds the target.
  // `name` is the objective's name in metrics and checkpoints; `what` names it in errors.
  TargetNllObjective(std::string name, std::string what, std::shared_ptr<Transformer> model,
                     std::vector<tokenizer::PromptResponse> train, std::vector<tokenizer::PromptResponse> eval,
                     TargetNllOptions options);

  std::string name() const override { return name_; }
  int64_t size() const override { return static_cast<int64_t>(train_.size()); }
  double normaliser(const std::vector<int64_t>& indices) override;
  ObjectiveOutput forward(const std::vector<int64_t>& indices) override;
  std::vector<MetricSum> evaluate(int rank, int world_size) override;

 private:
  std::string name_;
  std::shared_ptr<Transformer> model_;
  std::vector<tokenizer::PromptResponse> train_;
  std::vector<tokenizer::PromptResponse> eval_;
  TargetNllOptions options_;
};

}  // namespace gramrl
