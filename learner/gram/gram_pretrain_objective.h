// GRAM stage 1 (gram-paper.md section 2) as a training Objective: learn to generate the pair of
// responses, -log pi([y_a, y_b] | x), on unlabeled (x, y_a, y_b).
//
// Each example is the JudgeEncoder's stage-1 encoding (reward/gram/judge_encoder.h): the chat
// rendering of question(x) with the generation prompt as the prompt, and answer_a(y_a) +
// answer_b(y_b) + end-of-turn as the target. Only target tokens are scored (the prompt is
// masked, as LLaMA-Factory's train_on_prompt=false does), and the loss unit is a target token:
// the step's loss is the token-level mean over the global batch (NOTE [Loss normalisation]).
// Metrics: "nll" (per target token, = the loss); evaluate(): "loss", the held-out NLL per
// target token.
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

struct GramPretrainOptions {
  int64_t eval_batch_size = 16;
  int64_t pad_id = 0;
};

class GramPretrainObjective : public Objective {
 public:
  // PromptResponse::response holds the stage-1 target. `model` is trained by the caller's Trainer.
  GramPretrainObjective(std::shared_ptr<Transformer> model, std::vector<PromptResponse> train,
                        std::vector<PromptResponse> eval, GramPretrainOptions options);

  std::string name() const override { return "gram_pretrain"; }
  int64_t size() const override { return static_cast<int64_t>(train_.size()); }
  double normaliser(const std::vector<int64_t>& indices) override;
  ObjectiveOutput forward(const std::vector<int64_t>& indices) override;
  std::vector<MetricSum> evaluate(int rank, int world_size) override;

 private:
  std::shared_ptr<Transformer> model_;
  std::vector<PromptResponse> train_;
  std::vector<PromptResponse> eval_;
  GramPretrainOptions options_;
};

}  // namespace gramrl
