#include "learner/engine/training_data.h"

namespace gramrl {

ModelLoadSpec policyLoadSpec(const ExperimentConfig& config) {
  ModelLoadSpec spec;
  spec.model = config.policy.model;
  spec.tokenizer = config.policy.tokenizer;
  spec.chat_template = config.policy.chat_template;
  spec.where = "policy";
  spec.chat_template_key = "policy.chat_template";
  spec.pretrained.seed = static_cast<uint64_t>(config.experiment.seed);
  return spec;
}

std::vector<tokenizer::PromptResponsePair> encodePreferencePairs(const std::vector<data::PreferencePair>& pairs,
                                                                 const tokenizer::ChatEncoder& encoder) {
  std::vector<tokenizer::PromptResponsePair> out;
  out.reserve(pairs.size());
  for (const auto& p : pairs) {
    tokenizer::PromptResponsePair t;
    t.chosen.prompt = encoder.prompt(p.system, p.prompt);
    t.rejected.prompt = t.chosen.prompt;
    t.chosen.response = encoder.response(p.chosen);
    t.rejected.response = encoder.response(p.rejected);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace gramrl
