#include "learner/gram/gram_setup.h"

#include <utility>
#include <vector>

#include <torch/torch.h>

#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/data/jsonl_data.h"
#include "common/model/model_loader.h"
#include "common/model/pretrained.h"
#include "common/tokenizer/tokenizer.h"
#include "learner/engine/training_data.h"
#include "learner/gram/bradley_terry_objective.h"
#include "learner/gram/gram_finetune_objective.h"
#include "learner/gram/gram_pretrain_objective.h"
#include "reward/gram/judge_encoder.h"

namespace gramrl {
namespace {

std::vector<tokenizer::PromptResponse> encodeStage1(const std::vector<data::ResponsePair>& pairs,
                                                    const gram::JudgeEncoder& encoder) {
  std::vector<tokenizer::PromptResponse> out;
  out.reserve(pairs.size());
  for (const auto& p : pairs) {
    gram::EncodedStage1 e = encoder.stage1(p.prompt, p.response_a, p.response_b, p.system);
    out.push_back(tokenizer::PromptResponse{std::move(e.prompt), std::move(e.target)});
  }
  return out;
}

std::vector<JudgePromptPair> encodeJudgePrompts(const std::vector<data::PreferencePair>& pairs,
                                                const gram::JudgeEncoder& encoder) {
  std::vector<JudgePromptPair> out;
  out.reserve(pairs.size());
  for (const auto& p : pairs) {
    out.push_back(JudgePromptPair{encoder.judgePrompt(p.prompt, p.chosen, p.rejected, p.system),
                                  encoder.judgePrompt(p.prompt, p.rejected, p.chosen, p.system)});
  }
  return out;
}

std::vector<data::ResponsePair> readUnlabeled(const std::string& path, const data::ReadOptions& options) {
  return data::readResponsePairs(path, options);
}
std::vector<data::PreferencePair> readLabeled(const std::string& path, const data::ReadOptions& options) {
  return data::readPreferencePairs(path, options);
}

}  // namespace

bool isGramTrainingAlgorithm(const std::string& algorithm) {
  return algorithm == "gram_pretrain" || algorithm == "gram_finetune" || algorithm == "bradley_terry";
}

GramTrainingSetup buildGramTraining(const ExperimentConfig& config, at::Device device) {
  const LearnerOptions& learner = config.learner;
  const RewardOptions& reward = config.reward;
  const std::string& algorithm = learner.algorithm;
  GRAMRL_CHECK(isGramTrainingAlgorithm(algorithm), ConfigError,
               "learner.algorithm: expected gram_pretrain, gram_finetune or bradley_terry, got '{}'", algorithm);
  GRAMRL_CHECK(!learner.data.train.empty(), ConfigError,
               "learner.data.train: {} needs a JSONL file of {}; a synthetic one: gramrl world generate {} --n 2000 "
               "--out pairs.jsonl",
               algorithm, algorithm == "gram_pretrain" ? "unlabeled response pairs" : "preference pairs",
               algorithm == "gram_pretrain" ? "unlabeled" : "labeled");
  const auto seed = static_cast<uint64_t>(config.experiment.seed);
  const bool bradley_terry = algorithm == "bradley_terry";

  ModelLoadSpec spec;
  spec.model = reward.model;
  spec.tokenizer = reward.tokenizer;
  spec.chat_template = reward.chat_template;
  spec.where = "reward";
  spec.chat_template_key = "reward.chat_template";
  // Bradley-Terry trains a value head; a checkpoint without one (stage 1: the BT+S1 control) gets a
  // fresh one.
  spec.pretrained = PretrainedOptions{seed, bradley_terry};
  const LoadedModel loaded = loadModelWithTokenizer(spec, device);
  const tokenizer::Tokenizer& tok = *loaded.tokenizer;
  const std::string& chat_template = loaded.chat_template;
  GramTrainingSetup setup;
  setup.model = loaded.model;
  setup.tokenizer_spec = loaded.tokenizer_spec;
  const int64_t pad_id = tok.specialTokens().pad.value_or(0);

  if (algorithm == "gram_pretrain") {
    const gram::JudgeEncoder encoder(tok, chat_template, gram::judgeTemplate(reward.gram.judge_template),
                                     reward.max_tokens);
    auto split = readTrainEvalSplit<data::ResponsePair>(learner.data, seed, readUnlabeled);
    log::info("GRAM stage-1 data: {} training and {} evaluation pairs from {}; chat template '{}', judge template '{}'",
              split.train.size(), split.eval.size(), learner.data.train, chat_template, reward.gram.judge_template);
    setup.objective = std::make_unique<GramPretrainObjective>(setup.model, encodeStage1(split.train, encoder),
                                                              encodeStage1(split.eval, encoder),
                                                              GramPretrainOptions{learner.eval_batch_size, pad_id});
  } else if (algorithm == "gram_finetune") {
    const gram::JudgeEncoder encoder(tok, chat_template, gram::judgeTemplate(reward.gram.judge_template),
                                     reward.max_tokens);
    auto split = readTrainEvalSplit<data::PreferencePair>(learner.data, seed, readLabeled);
    log::info(
        "GRAM stage-2 data: {} training and {} evaluation pairs from {}; chat template '{}', judge template "
        "'{}', label smoothing {} (paper convention), randomize_order {}",
        split.train.size(), split.eval.size(), learner.data.train, chat_template, reward.gram.judge_template,
        learner.gram.label_smoothing, learner.gram.randomize_order);
    GramFinetuneOptions options;
    options.label_a = encoder.labelA();
    options.label_b = encoder.labelB();
    options.label_smoothing = learner.gram.label_smoothing;
    options.randomize_order = learner.gram.randomize_order;
    options.seed = seed;
    options.eval_batch_size = learner.eval_batch_size;
    options.pad_id = pad_id;
    setup.objective = std::make_unique<GramFinetuneObjective>(setup.model, encodeJudgePrompts(split.train, encoder),
                                                              encodeJudgePrompts(split.eval, encoder), options);
  } else {
    const int64_t prompt_cap = reward.max_tokens / 2;
    const tokenizer::ChatEncoder encoder(tok, chat_template, prompt_cap, reward.max_tokens - prompt_cap);
    auto split = readTrainEvalSplit<data::PreferencePair>(learner.data, seed, readLabeled);
    log::info("Bradley-Terry data: {} training and {} evaluation pairs from {}; chat template '{}'", split.train.size(),
              split.eval.size(), learner.data.train, chat_template);
    setup.objective = std::make_unique<BradleyTerryObjective>(setup.model, encodePreferencePairs(split.train, encoder),
                                                              encodePreferencePairs(split.eval, encoder),
                                                              BradleyTerryOptions{learner.eval_batch_size, pad_id});
  }
  return setup;
}

}  // namespace gramrl
