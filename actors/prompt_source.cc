#include "actors/prompt_source.h"

#include <algorithm>

#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/world/generators.h"
#include "common/world/tasks.h"
#include "learner/engine/epoch_sampler.h"

namespace gramrl {
std::vector<std::string> defaultTrainingFamilies() {
  std::vector<std::string> out;
  const auto& held = world::defaultHeldOutFamilies();
  for (const auto& f : world::familyNames()) {
    if (std::find(held.begin(), held.end(), f) == held.end()) out.push_back(f);
  }
  return out;
}

PromptSource::PromptSource(const ExperimentConfig& config) : seed_(static_cast<uint64_t>(config.experiment.seed)) {
  if (!config.rollout.prompts.empty()) {
    rows_ = data::readPrompts(config.rollout.prompts);
    GRAMRL_CHECK(!rows_.empty(), DataError, "rollout.prompts: {} holds no prompts", config.rollout.prompts);
    return;
  }
  families_ =
      config.rollout.families.empty() ? defaultTrainingFamilies() : world::resolveFamilies(config.rollout.families);
}

data::PromptExample PromptSource::at(uint64_t prompt_id) {
  if (rows_.empty()) {
    world::WorldOptions options;
    options.families = families_;
    options.seed = seed_;
    const auto row = world::generateRow("prompts", static_cast<int64_t>(prompt_id), options);
    data::PromptExample out;
    out.prompt = row.at("prompt").get<std::string>();
    out.reference = row.at("reference").get<std::string>();
    out.category = row.at("family").get<std::string>();
    out.source = "world:" + std::to_string(prompt_id);
    return out;
  }
  // The trainers' seeded epoch shuffle (NOTE [Data cursor]), kept for the epoch last asked for:
  // leases come in prompt order, so an actor recomputes it once per epoch.
  const uint64_t n = rows_.size();
  const auto epoch = static_cast<int64_t>(prompt_id / n);
  if (epoch != order_epoch_) {
    order_ = EpochSampler::permutation(static_cast<int64_t>(n), seed_, epoch);
    order_epoch_ = epoch;
  }
  return rows_[static_cast<size_t>(order_[prompt_id % n])];
}

}  // namespace gramrl
