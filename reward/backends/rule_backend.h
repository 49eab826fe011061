// The rule backend (reward.backend: rule, or a rule:<check> component of a composite): a reward
// computed from the text alone, without a model. Torch-free (library gramrl::reward_rule), so the
// reward server's tests can run a real backend without LibTorch.
//
//   world_gold      common/world/gold.h goldScore(prompt, response): the synthetic world's graded
//                   gold judge, in [0, 1]; the prompt must be a world prompt "fam:input"
//   exact_match     1 if the response equals the item's label after trimming ASCII whitespace
//                   (" \t\r\n\f\v") from both, else 0
//   contains_label  1 if the label occurs in the response (bytes, case-sensitive), else 0
//   length          the response's length in UTF-8 bytes (a length penalty with a negative weight)
// pairwise and bestOfN follow from these scores (scalar_backend.h).
//
// Threads: the backend holds no mutable state, but follows RewardBackend (one thread at a time).
// Blocking: computes before returning, no I/O. Throws ConfigError for an unknown check (at
// construction), DataError naming the item for a prompt that is not a world prompt (world_gold) or
// an empty label (exact_match, contains_label; pairwise and best-of-n requests carry no labels).
#pragma once

#include <string>
#include <vector>

#include "reward/backends/scalar_backend.h"

namespace gramrl::reward {

// "world_gold", "exact_match", "contains_label", "length" (the choices of reward.rule.check).
const std::vector<std::string>& ruleCheckNames();
bool isRuleCheck(const std::string& check);

class RuleBackend : public ScalarBackend {
 public:
  explicit RuleBackend(const std::string& check);
  std::string name() const override { return "rule:" + check_; }

 protected:
  std::vector<double> scoreResponses(const std::vector<PointwiseItem>& items, const ItemNamer& name) override;

 private:
  enum class Check { kWorldGold, kExactMatch, kContainsLabel, kLength };
  double score(const PointwiseItem& item, const ItemNamer& name, size_t k) const;

  std::string check_;
  Check kind_;
};

}  // namespace gramrl::reward
