// Supervised fine-tuning as a training Objective: -log pi(y | x) on demonstrations (x, y).
//
// Each example is a tokenizer::ChatEncoder encoding (common/tokenizer/chat_encoder.h, NOTE [Response
// tokens]): the generation-prompt rendering of x as the prompt and y + end-of-turn as the target,
// so the policy learns to stop where the demonstration stops. Only target tokens carry loss (the
// prompt is masked), and the loss unit is a target token: the step's loss is the token-level mean
// over the global batch (NOTE [Loss normalisation]), as GRAM stage 1 does.
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

using SftOptions = TargetNllOptions;

// The loss, normaliser, metrics and evaluation are TargetNllObjective's
// (learner/engine/target_nll_objective.h).
class SftObjective : public TargetNllObjective {
 public:
  SftObjective(std::shared_ptr<Transformer> model, std::vector<tokenizer::PromptResponse> train,
               std::vector<tokenizer::PromptResponse> eval, SftOptions options)
      : TargetNllObjective("sft", "SFT", std::move(model), std::move(train), std::move(eval), options) {}
};

}  // namespace gramrl
