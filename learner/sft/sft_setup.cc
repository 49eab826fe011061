#include "learner/sft/sft_setup.h"

#include <utility>
#include <vector>

#include <torch/torch.h>

#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/data/jsonl_data.h"
#include "common/model/pretrained.h"
#include "common/tokenizer/tokenizer.h"
#include "learner/engine/training_data.h"
#include "learner/sft/sft_objective.h"

namespace gramrl {
namespace {

std::vector<tokenizer::PromptResponse> encodeDemonstrations(const std::vector<data::Demonstration>& demos,
                                                            const tokenizer::ChatEncoder& encoder) {
  std::vector<tokenizer::PromptResponse> out;
  out.reserve(demos.size());
  for (const auto& d : demos)
    out.push_back(tokenizer::PromptResponse{encoder.prompt(d.system, d.prompt), encoder.response(d.response)});
  return out;
}

}  // namespace

SftSetup buildSft(const ExperimentConfig& config, at::Device device) {
  const LearnerOptions& learner = config.learner;
  GRAMRL_CHECK(learner.algorithm == "sft", ConfigError, "learner.algorithm: expected sft, got '{}'", learner.algorithm);
  GRAMRL_CHECK(!learner.data.train.empty(), ConfigError,
               "learner.data.train: SFT needs a JSONL file of demonstrations (prompt/response); a synthetic one: "
               "gramrl world generate sft --n 20000 --out demos.jsonl");
  const auto seed = static_cast<uint64_t>(config.experiment.seed);
  const LoadedModel loaded = loadModelWithTokenizer(policyLoadSpec(config), device);
  const tokenizer::Tokenizer& tok = *loaded.tokenizer;
  const std::string& template_name = loaded.chat_template;
  SftSetup setup;
  setup.policy = loaded.model;
  setup.tokenizer_spec = loaded.tokenizer_spec;
  const tokenizer::ChatEncoder encoder(tok, template_name, config.policy.max_prompt_tokens,
                                       config.policy.max_new_tokens);
  auto split = readTrainEvalSplit<data::Demonstration>(learner.data, seed,
                                                       [](const std::string& path, const data::ReadOptions& options) {
                                                         return data::readDemonstrations(path, options);
                                                       });
  log::info("SFT data: {} training and {} evaluation demonstrations from {}; chat template '{}'", split.train.size(),
            split.eval.size(), learner.data.train, template_name);
  setup.objective = std::make_unique<SftObjective>(
      setup.policy, encodeDemonstrations(split.train, encoder), encodeDemonstrations(split.eval, encoder),
      SftOptions{learner.eval_batch_size, tok.specialTokens().pad.value_or(0)});
  return setup;
}

}  // namespace gramrl
