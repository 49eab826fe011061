#include "reward/backends/backend_registry.h"

#include <algorithm>
#include <functional>
#include <utility>

#include <fmt/format.h>

#include "common/core/errors.h"
#include "reward/backends/bradley_terry_backend.h"
#include "reward/backends/composite_backend.h"
#include "reward/backends/gram_backend.h"
#include "reward/backends/likelihood_backend.h"
#include "reward/backends/reward_model_loader.h"
#include "reward/backends/rule_backend.h"

namespace gramrl::reward {
namespace {

using BackendPtr = std::unique_ptr<RewardBackend>;
using BackendFactory = std::function<BackendPtr(const RewardOptions& options, const std::string& device)>;

BackendPtr makeComposite(const RewardOptions& options, const std::string& device);

// NOTE [Adding a reward backend]
// Write a class deriving from RewardBackend (or ScalarBackend when a response is scored alone),
// constructed from the reward options and the device, add its .cc to reward/backends/CMakeLists.txt,
// and register it with one line in the table below, e.g.
//   {"my_backend", [](const RewardOptions& o, const std::string& d) -> BackendPtr {
//      return std::make_unique<MyBackend>(o, parseRewardDevice(d)); }},
// The YAML reader only accepts names listed in the Choices of reward.backend
// (common/config/experiment_config.h), so the name goes there too. A registered backend can also
// be a component of a composite, by its name.
const std::vector<std::pair<std::string, BackendFactory>>& registry() {
  static const std::vector<std::pair<std::string, BackendFactory>> table{
      {"gram",
       [](const RewardOptions& o, const std::string& d) -> BackendPtr {
         return std::make_unique<GramBackend>(o, parseRewardDevice(d));
       }},
      {"bradley_terry",
       [](const RewardOptions& o, const std::string& d) -> BackendPtr {
         return std::make_unique<BradleyTerryBackend>(o, parseRewardDevice(d));
       }},
      {"likelihood",
       [](const RewardOptions& o, const std::string& d) -> BackendPtr {
         return std::make_unique<LikelihoodBackend>(o, parseRewardDevice(d));
       }},
      {"rule",
       [](const RewardOptions& o, const std::string&) -> BackendPtr {
         return std::make_unique<RuleBackend>(o.rule.check);
       }},
      {"composite", makeComposite},
  };
  return table;
}

const BackendFactory* findFactory(const std::string& name) {
  for (const auto& [n, factory] : registry()) {
    if (n == name) return &factory;
  }
  return nullptr;
}

// The options of component k: "rule:<check>" is the rule backend with that check, "rule" the rule
// backend with reward.rule.check, any other registered name (but composite) that backend with the
// rest of the reward options. GRAM components answer best-of-n with the anchor variant (NOTE
// [Composite rewards] in composite_backend.h).
RewardOptions componentOptions(const RewardOptions& options, size_t k) {
  const std::string& component = options.composite.components[k];
  RewardOptions out = options;
  out.composite = {};
  out.best_of_n = "anchor";
  const std::string rule_prefix = "rule:";
  if (component.compare(0, rule_prefix.size(), rule_prefix) == 0) {
    const std::string check = component.substr(rule_prefix.size());
    GRAMRL_CHECK(isRuleCheck(check), ConfigError,
                 "reward.composite.components[{}]: unknown rule check '{}' in '{}'; known checks: {}", k, check,
                 component, fmt::join(ruleCheckNames(), ", "));
    out.backend = "rule";
    out.rule.check = check;
    return out;
  }
  GRAMRL_CHECK(component != "composite", ConfigError,
               "reward.composite.components[{}]: a composite cannot contain another composite", k);
  std::vector<std::string> known;
  for (const auto& name : rewardBackendNames()) {
    if (name != "composite") known.push_back(name);
  }
  GRAMRL_CHECK(std::find(known.begin(), known.end(), component) != known.end(), ConfigError,
               "reward.composite.components[{}]: unknown component '{}'; expected one of {} or rule:<check> with a "
               "check in {}",
               k, component, fmt::join(known, ", "), fmt::join(ruleCheckNames(), ", "));
  out.backend = component;
  return out;
}

BackendPtr makeComposite(const RewardOptions& options, const std::string& device) {
  const auto& components = options.composite.components;
  const auto& weights = options.composite.weights;
  GRAMRL_CHECK(!components.empty(), ConfigError,
               "reward.composite.components: backend: composite needs at least one component (e.g. [gram, "
               "rule:length])");
  GRAMRL_CHECK(components.size() == weights.size(), ConfigError,
               "reward.composite.weights: expected one weight per component ({} components), got {}", components.size(),
               weights.size());
  // Every component string is checked before any model loads.
  std::vector<RewardOptions> component_options;
  for (size_t k = 0; k < components.size(); ++k) component_options.push_back(componentOptions(options, k));
  std::vector<WeightedBackend> built;
  for (size_t k = 0; k < components.size(); ++k) {
    built.push_back({weights[k], makeRewardBackend(component_options[k], device)});
  }
  return std::make_unique<CompositeBackend>(std::move(built));
}

}  // namespace

std::vector<std::string> rewardBackendNames() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

std::unique_ptr<RewardBackend> makeRewardBackend(const RewardOptions& options, const std::string& device) {
  parseRewardDevice(device);  // a malformed device is an error for every backend, model or not
  const BackendFactory* factory = findFactory(options.backend);
  GRAMRL_CHECK(factory != nullptr, ConfigError, "reward.backend: unknown backend '{}'; known: {}", options.backend,
               fmt::join(rewardBackendNames(), ", "));
  return (*factory)(options, device);
}

}  // namespace gramrl::reward
