// From an experiment config to a ready GRAM or Bradley-Terry reward-model training: the model,
// the objective and the tokenizer spec saved with each checkpoint.
//
// learner.algorithm picks the objective:
//   gram_pretrain  GRAM stage 1 on unlabeled pairs (readResponsePairs: prompt/response_a/response_b)
//   gram_finetune  GRAM stage 2 on labeled pairs (readPreferencePairs: prompt/chosen/rejected)
//   bradley_terry  a value-head reward model on labeled pairs
// The model loads from reward.model (builtin:<preset> or a checkpoint directory: stage 2 starts
// from a stage-1 run's <run>/checkpoints/step-N/model); bradley_terry adds a freshly initialised
// value head when the checkpoint has none. The tokenizer is resolveTokenizerSpec(reward.model,
// reward.tokenizer); the chat template is reward.chat_template ("auto": the tokenizer's), the
// judge template reward.gram.template, and inputs are cut to reward.max_tokens (GRAM: NOTE
// [Fitting the judge input]; Bradley-Terry: half for the prompt, half for the response, NOTE
// [Response tokens]). Evaluation data come from learner.data.eval, or a seeded eval_holdout split
// of the training file (the same split on every rank and after a resume).
//
// Threads: the caller's. Blocks while it reads the data and the model. Throws ConfigError (an
// algorithm this does not build, missing data path, tokenizer larger than the model's
// vocabulary, labels that are not one token) and DataError (malformed data files, naming
// file:line and field; inputs that cannot fit reward.max_tokens).
#pragma once

#include <memory>
#include <string>

#include <ATen/core/TensorBody.h>

#include "learner/engine/objective.h"

namespace gramrl {

struct ExperimentConfig;
class Transformer;

struct GramTrainingSetup {
  std::shared_ptr<Transformer> model;
  std::unique_ptr<Objective> objective;
  std::string tokenizer_spec;
};

// Whether buildGramTraining handles learner.algorithm `algorithm`.
bool isGramTrainingAlgorithm(const std::string& algorithm);

GramTrainingSetup buildGramTraining(const ExperimentConfig& config, at::Device device);

}  // namespace gramrl
