// backend: composite: a weighted sum of other backends (reward.composite.components and weights),
// e.g. a GRAM reward with a length penalty: components [gram, rule:length], weights [1, -0.01].
//
// NOTE [Composite rewards]
// pointwise  sum_k w_k * component_k.pointwise(items), every component seeing the same items
//            (so a gram component needs each item's reference, a rule check its label).
// pairwise   not answered (DataError): a weighted sum of scores has no single reading as
//            P(a better than b) when one summand is already a judge's probability; a caller who
//            wants preferences asks a gram or scalar backend directly.
// bestOfN    every component gives a score per candidate, the composite score is the weighted sum
//            and the winner of a group its argmax (lowest index on ties). A bracket's "rounds
//            won" depend on the pairing and are not comparable across candidates, so gram
//            components of a composite run the anchor variant (NOTE [Best-of-n strategies] in
//            reward/gram/best_of_n.h): their score of a candidate is its reward against the
//            group's first candidate. backend_registry.cc builds them that way.
// Every component is called for every request, in order; a component that returns the wrong
// number of scores is a bug (InternalError).
//
// Threads, blocking: as RewardBackend; the components are owned and called on the caller's
// thread. Throws what the components throw, DataError for pairwise requests, ConfigError at
// construction (no components, a weight per component, non-finite weights).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "reward/backends/reward_backend.h"

namespace gramrl::reward {

struct WeightedBackend {
  double weight = 1;
  std::unique_ptr<RewardBackend> backend;
};

class CompositeBackend : public RewardBackend {
 public:
  explicit CompositeBackend(std::vector<WeightedBackend> components);

  // "composite(1*gram(builtin:toy) + -0.01*rule:length)".
  std::string name() const override;
  std::vector<double> pointwise(const std::vector<PointwiseItem>& items) override;
  std::vector<double> pairwise(const std::vector<PairItem>& items) override;
  BestOfNResult bestOfN(const std::vector<CandidateGroup>& groups) override;

 private:
  std::vector<WeightedBackend> components_;
};

}  // namespace gramrl::reward
