// GRAM stage 1 (gram-paper.md section 2) as a training Objective: learn to generate the pair of
// responses, -log pi([y_a, y_b] | x), on unlabeled (x, y_a, y_b).
//
// Each example is the JudgeEncoder's stage-1 encoding (reward/gram/judge_encoder.h): the chat
// rendering of question(x) with the generation prompt as the prompt, and answer_a(y_a) +
// answer_b(y_b) + end-of-turn as the target. Only target tokens are scored (the prompt is
// masked, as LLaMA-Factory's train_on_prompt=false does), and the loss unit is a target token:
// the step's loss is the token-level mean over the global batch (NOTE [Loss normalisation]).
//
// Threads: the trainer's thread only. Throws DataError (constructor) for an example with an empty
// prompt or target.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "common/model/sequence_batch.h"
#include "learner/engine/target_nll_objective.h"

namespace gramrl {

using GramPretrainOptions = TargetNllOptions;

// The loss, normaliser, metrics and evaluation are TargetNllObjective's
// (learner/engine/target_nll_objective.h).
class GramPretrainObjective : public TargetNllObjective {
 public:
  GramPretrainObjective(std::shared_ptr<Transformer> model, std::vector<tokenizer::PromptResponse> train,
                        std::vector<tokenizer::PromptResponse> eval, GramPretrainOptions options)
      : TargetNllObjective("gram_pretrain", "GRAM stage-1", std::move(model), std::move(train), std::move(eval),
                           options) {}
};

}  // namespace gramrl
