#include "actors/prompt_source.h"

#include <algorithm>
#include <numeric>

#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/world/generators.h"
#include "common/world/tasks.h"

namespace gramrl {
namespace {

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

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

data::PromptExample PromptSource::at(uint64_t prompt_id) const {
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
  const uint64_t n = rows_.size();
  const uint64_t epoch = prompt_id / n;
  // Fisher-Yates with a counter-based stream: row prompt_id % n of epoch `epoch`'s permutation.
  std::vector<uint64_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  for (uint64_t i = n - 1; i > 0; --i) {
    const uint64_t j = splitmix(seed_ ^ splitmix(epoch * 0x100000001B3ull + i)) % (i + 1);
    std::swap(perm[i], perm[j]);
  }
  return rows_[perm[prompt_id % n]];
}

}  // namespace gramrl
