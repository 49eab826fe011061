// From an experiment config to a ready SFT run (learner.algorithm sft): the policy, the
// objective and the tokenizer spec saved with each checkpoint.
//
// The policy loads from policy.model (builtin:<preset> or a checkpoint directory); the tokenizer
// is resolveTokenizerSpec(policy.model, policy.tokenizer) and the chat template
// policy.chat_template ("auto": the tokenizer's). Prompts are cut to policy.max_prompt_tokens
// (from the left) and responses to policy.max_new_tokens (NOTE [Response tokens]).
// learner.data.train holds demonstrations (readDemonstrations: prompt/response, prompt/completion
// or messages); evaluation rows come from learner.data.eval or a seeded eval_holdout split.
//
// Threads: the caller's. Blocks while it reads the data and the model. Throws ConfigError (another
// algorithm, missing data path, tokenizer larger than the model's vocabulary) and DataError
// (malformed data files, naming file:line and field).
#pragma once

#include <memory>
#include <string>

#include <ATen/core/TensorBody.h>

#include "learner/engine/objective.h"

namespace gramrl {

struct ExperimentConfig;
class Transformer;

struct SftSetup {
  std::shared_ptr<Transformer> policy;
  std::unique_ptr<Objective> objective;
  std::string tokenizer_spec;
};

SftSetup buildSft(const ExperimentConfig& config, at::Device device);

}  // namespace gramrl
