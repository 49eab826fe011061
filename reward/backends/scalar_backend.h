// The shared half of every backend that scores a response on its own (bradley_terry, rule): the
// pairwise and best-of-n answers follow from one score per response (NOTE [Reward backends] in
// reward_backend.h).
//
// Threads, blocking: as RewardBackend. Throws what scoreResponses throws; DataError for a
// best-of-n group without candidates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "reward/backends/reward_backend.h"

namespace gramrl::reward {

// Names the response at position k of a scoreResponses call in error messages, as the caller sees
// it: "item 3", "pair 1 response_b", "group 0 candidate 2".
using ItemNamer = std::function<std::string(size_t k)>;

class ScalarBackend : public RewardBackend {
 public:
  // r(prompt, response) for each item, in one scoreResponses call.
  std::vector<double> pointwise(const std::vector<PointwiseItem>& items) override;
  // sigmoid(r(a) - r(b)) for each pair; all 2n responses in one scoreResponses call (labels and
  // references empty: a rule that needs a label cannot answer pairwise requests).
  std::vector<double> pairwise(const std::vector<PairItem>& items) override;
  // scores = r of every candidate (one scoreResponses call), best = argmax (lowest index on ties).
  BestOfNResult bestOfN(const std::vector<CandidateGroup>& groups) override;

 protected:
  // One score per item; `name(k)` says which request item a DataError is about.
  virtual std::vector<double> scoreResponses(const std::vector<PointwiseItem>& items, const ItemNamer& name) = 0;
};

// Shared by the scalar and composite backends.
// sigmoid(a[k] - b[k]) for each k (sizes must match: an internal invariant).
std::vector<double> bradleyTerryProbabilities(const std::vector<double>& a, const std::vector<double>& b);
// The index of the largest of scores[begin, begin + n), relative to begin; the first on ties.
uint32_t argmaxFirst(const std::vector<double>& scores, size_t begin, size_t n);
// DataError naming the group when one has no candidates.
void checkGroupsNonEmpty(const std::vector<CandidateGroup>& groups, const std::string& backend);

}  // namespace gramrl::reward
