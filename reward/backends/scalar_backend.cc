#include "reward/backends/scalar_backend.h"

#include <fmt/core.h>

#include "common/core/errors.h"
#include "reward/gram/gram_math.h"

namespace gramrl::reward {

std::vector<double> ScalarBackend::pointwise(const std::vector<PointwiseItem>& items) {
  std::vector<double> r = scoreResponses(items, [](size_t k) { return fmt::format("item {}", k); });
  GRAMRL_ASSERT(r.size() == items.size(), "{} returned {} scores for {} items", name(), r.size(), items.size());
  return r;
}

std::vector<double> ScalarBackend::pairwise(const std::vector<PairItem>& items) {
  const size_t n = items.size();
  std::vector<PointwiseItem> responses;
  responses.reserve(2 * n);
  for (const auto& item : items) responses.push_back({item.prompt, item.response_a, {}, {}});
  for (const auto& item : items) responses.push_back({item.prompt, item.response_b, {}, {}});
  const std::vector<double> r = scoreResponses(responses, [n](size_t k) {
    return k < n ? fmt::format("pair {} response_a", k) : fmt::format("pair {} response_b", k - n);
  });
  GRAMRL_ASSERT(r.size() == 2 * n, "{} returned {} scores for {} responses", name(), r.size(), 2 * n);
  return bradleyTerryProbabilities(std::vector<double>(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(n)),
                                   std::vector<double>(r.begin() + static_cast<std::ptrdiff_t>(n), r.end()));
}

BestOfNResult ScalarBackend::bestOfN(const std::vector<CandidateGroup>& groups) {
  checkGroupsNonEmpty(groups, name());
  std::vector<PointwiseItem> responses;
  std::vector<std::pair<size_t, size_t>> where;  // (group, candidate) of each response
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t c = 0; c < groups[g].candidates.size(); ++c) {
      responses.push_back({groups[g].prompt, groups[g].candidates[c], {}, {}});
      where.emplace_back(g, c);
    }
  }
  BestOfNResult out;
  out.scores = scoreResponses(
      responses, [&where](size_t k) { return fmt::format("group {} candidate {}", where[k].first, where[k].second); });
  GRAMRL_ASSERT(out.scores.size() == responses.size(), "{} returned {} scores for {} candidates", name(),
                out.scores.size(), responses.size());
  size_t begin = 0;
  for (const auto& group : groups) {
    out.best.push_back(argmaxFirst(out.scores, begin, group.candidates.size()));
    begin += group.candidates.size();
  }
  return out;
}

std::vector<double> bradleyTerryProbabilities(const std::vector<double>& a, const std::vector<double>& b) {
  GRAMRL_ASSERT(a.size() == b.size(), "{} scores for response_a, {} for response_b", a.size(), b.size());
  std::vector<double> p(a.size());
  for (size_t k = 0; k < a.size(); ++k) p[k] = gram::sigmoid(a[k] - b[k]);
  return p;
}

uint32_t argmaxFirst(const std::vector<double>& scores, size_t begin, size_t n) {
  GRAMRL_ASSERT(n >= 1 && begin + n <= scores.size(), "argmax of [{}, {}) in {} scores", begin, begin + n,
                scores.size());
  size_t best = 0;
  for (size_t k = 1; k < n; ++k) {
    if (scores[begin + k] > scores[begin + best]) best = k;
  }
  return static_cast<uint32_t>(best);
}

void checkGroupsNonEmpty(const std::vector<CandidateGroup>& groups, const std::string& backend) {
  for (size_t g = 0; g < groups.size(); ++g) {
    GRAMRL_CHECK(!groups[g].candidates.empty(), DataError, "{}: best-of-n group {} has no candidates", backend, g);
  }
}

}  // namespace gramrl::reward
