#include "learner/dpo/dpo_setup.h"

#include <torch/torch.h>

#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/data/jsonl_data.h"
#include "common/model/pretrained.h"
#include "common/tokenizer/tokenizer.h"
#include "learner/engine/training_data.h"

namespace gramrl {
DpoSetup buildDpo(const ExperimentConfig& config, at::Device device) {
  const LearnerOptions& learner = config.learner;
  GRAMRL_CHECK(!learner.data.train.empty(), ConfigError,
               "learner.data.train: DPO needs a JSONL file of preference pairs (prompt/chosen/rejected); a synthetic "
               "one: gramrl world generate labeled --n 2000 --out pairs.jsonl");
  const auto seed = static_cast<uint64_t>(config.experiment.seed);
  const LoadedModel loaded = loadModelWithTokenizer(policyLoadSpec(config), device);
  const tokenizer::Tokenizer& tok = *loaded.tokenizer;
  const std::string& template_name = loaded.chat_template;
  DpoSetup setup;
  setup.policy = loaded.model;
  setup.tokenizer_spec = loaded.tokenizer_spec;
  const std::string reference_source =
      learner.dpo.reference_model.empty() ? config.policy.model : learner.dpo.reference_model;
  auto reference = loadPretrained(reference_source, torch::kFloat, device, PretrainedOptions{seed, false});
  for (auto& p : reference->parameters()) p.set_requires_grad(false);

  const tokenizer::ChatEncoder encoder(tok, template_name, config.policy.max_prompt_tokens,
                                       config.policy.max_new_tokens);
  auto split = readTrainEvalSplit<data::PreferencePair>(learner.data, seed,
                                                        [](const std::string& path, const data::ReadOptions& options) {
                                                          return data::readPreferencePairs(path, options);
                                                        });
  std::vector<data::PreferencePair>& train = split.train;
  std::vector<data::PreferencePair>& eval = split.eval;
  log::info("DPO data: {} training pairs from {}, {} evaluation pairs; chat template '{}'", train.size(),
            learner.data.train, eval.size(), template_name);

  DpoObjectiveOptions options;
  options.loss = DpoLossOptions{learner.dpo.loss, learner.dpo.beta, learner.dpo.label_smoothing};
  options.reference = learner.dpo.reference;
  options.eval_batch_size = learner.eval_batch_size;
  options.pad_id = tok.specialTokens().pad.value_or(0);
  setup.objective =
      std::make_unique<DpoObjective>(setup.policy, std::move(reference), encodePreferencePairs(train, encoder),
                                     encodePreferencePairs(eval, encoder), options);
  return setup;
}

}  // namespace gramrl
