#include "reward/backends/composite_backend.h"

#include <cmath>

#include <fmt/core.h>

#include "common/core/errors.h"
#include "reward/backends/scalar_backend.h"

namespace gramrl::reward {

CompositeBackend::CompositeBackend(std::vector<WeightedBackend> components) : components_(std::move(components)) {
  GRAMRL_CHECK(!components_.empty(), ConfigError, "reward.composite.components: expected at least one component");
  for (size_t k = 0; k < components_.size(); ++k) {
    GRAMRL_CHECK(std::isfinite(components_[k].weight), ConfigError,
                 "reward.composite.weights[{}]: expected a finite number, got {}", k, components_[k].weight);
    GRAMRL_ASSERT(components_[k].backend != nullptr, "composite component {} is null", k);
  }
}

std::string CompositeBackend::name() const {
  std::string terms;
  for (const auto& c : components_) {
    if (!terms.empty()) terms += " + ";
    terms += fmt::format("{}*{}", c.weight, c.backend->name());
  }
  return "composite(" + terms + ")";
}

std::vector<double> CompositeBackend::pointwise(const std::vector<PointwiseItem>& items) {
  std::vector<double> total(items.size(), 0.0);
  for (const auto& c : components_) {
    const std::vector<double> r = c.backend->pointwise(items);
    GRAMRL_ASSERT(r.size() == items.size(), "composite component {} returned {} scores for {} items", c.backend->name(),
                  r.size(), items.size());
    for (size_t k = 0; k < r.size(); ++k) total[k] += c.weight * r[k];
  }
  return total;
}

std::vector<double> CompositeBackend::pairwise(const std::vector<PairItem>& items) {
  GRAMRL_CHECK(false, DataError,
               "{}: composite backends answer pointwise and best-of-n requests only (NOTE [Composite rewards])",
               name());
  return {};
}

BestOfNResult CompositeBackend::bestOfN(const std::vector<CandidateGroup>& groups) {
  checkGroupsNonEmpty(groups, name());
  size_t candidates = 0;
  for (const auto& g : groups) candidates += g.candidates.size();
  BestOfNResult out;
  out.scores.assign(candidates, 0.0);
  for (const auto& c : components_) {
    const BestOfNResult r = c.backend->bestOfN(groups);
    GRAMRL_ASSERT(r.scores.size() == candidates, "composite component {} returned {} scores for {} candidates",
                  c.backend->name(), r.scores.size(), candidates);
    for (size_t k = 0; k < candidates; ++k) out.scores[k] += c.weight * r.scores[k];
  }
  size_t begin = 0;
  for (const auto& g : groups) {
    out.best.push_back(argmaxFirst(out.scores, begin, g.candidates.size()));
    begin += g.candidates.size();
  }
  return out;
}

}  // namespace gramrl::reward
