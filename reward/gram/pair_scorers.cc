#include "reward/gram/pair_scorers.h"

namespace gramrl::gram {

std::vector<std::vector<double>> GramPairScorer::margins(const std::vector<const EvalPair*>& pairs) {
  const size_t n = pairs.size();
  std::vector<JudgeQuery> queries;
  queries.reserve(2 * n);
  for (const auto* p : pairs) queries.push_back({p->pair.system, p->pair.prompt, p->pair.chosen, p->pair.rejected});
  for (const auto* p : pairs) queries.push_back({p->pair.system, p->pair.prompt, p->pair.rejected, p->pair.chosen});
  const std::vector<double> m = judge_.margins(queries);
  std::vector<std::vector<double>> out(n);
  for (size_t k = 0; k < n; ++k) {
    const double chosen_in_a = m[k];       // z_A - z_B, chosen in A: > 0 picks chosen
    const double chosen_in_b = -m[n + k];  // z_B - z_A, chosen in B: > 0 picks chosen
    out[k] = {combineOrders(m[k], m[n + k]) - 0.5, chosen_in_a, chosen_in_b};
  }
  return out;
}

std::vector<std::vector<double>> ScalarPairScorer::margins(const std::vector<const EvalPair*>& pairs) {
  const size_t n = pairs.size();
  std::vector<ScalarQuery> queries;
  queries.reserve(2 * n);
  for (const auto* p : pairs) queries.push_back({p->pair.system, p->pair.prompt, p->pair.chosen});
  for (const auto* p : pairs) queries.push_back({p->pair.system, p->pair.prompt, p->pair.rejected});
  const std::vector<double> r = scorer_.scores(queries);
  std::vector<std::vector<double>> out(n);
  for (size_t k = 0; k < n; ++k) out[k] = {r[k] - r[n + k]};
  return out;
}

}  // namespace gramrl::gram
