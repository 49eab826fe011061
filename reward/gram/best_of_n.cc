#include "reward/gram/best_of_n.h"

#include "common/core/errors.h"

namespace gramrl::gram {
namespace {

std::vector<double> callRound(const PairwiseComparator& compare, const std::vector<IndexPair>& pairs) {
  std::vector<double> p = compare(pairs);
  GRAMRL_ASSERT(p.size() == pairs.size(), "the comparator returned {} probabilities for {} pairs", p.size(),
                pairs.size());
  return p;
}

}  // namespace

BracketResult bracketBestOfN(int64_t n, const PairwiseComparator& compare) {
  GRAMRL_CHECK(n >= 1, ConfigError, "best-of-n: expected at least one candidate, got {}", n);
  std::vector<int64_t> alive(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) alive[static_cast<size_t>(k)] = k;
  BracketResult out;
  while (alive.size() > 1) {
    std::vector<IndexPair> pairs;
    for (size_t k = 0; k + 1 < alive.size(); k += 2) pairs.push_back({alive[k], alive[k + 1]});
    const std::vector<double> p = callRound(compare, pairs);
    std::vector<int64_t> next;
    for (size_t k = 0; k < pairs.size(); ++k) next.push_back(p[k] >= 0.5 ? pairs[k].i : pairs[k].j);
    if (alive.size() % 2 == 1) next.push_back(alive.back());  // the bye
    out.comparisons += static_cast<int64_t>(pairs.size());
    ++out.rounds;
    alive = std::move(next);
  }
  out.winner = alive[0];
  return out;
}

AnchorResult anchorBestOfN(int64_t n, const PairwiseComparator& compare, double anchor_score) {
  GRAMRL_CHECK(n >= 1, ConfigError, "best-of-n: expected at least one candidate, got {}", n);
  AnchorResult out;
  out.scores.assign(static_cast<size_t>(n), anchor_score);
  if (n == 1) return out;
  std::vector<IndexPair> pairs;
  for (int64_t k = 1; k < n; ++k) pairs.push_back({k, 0});
  const std::vector<double> s = callRound(compare, pairs);
  for (int64_t k = 1; k < n; ++k) {
    const double s_k = s[static_cast<size_t>(k - 1)];
    const double b_k = 1.0 - s_k;
    out.scores[static_cast<size_t>(k)] = s_k - b_k + anchor_score;
    if (out.scores[static_cast<size_t>(k)] > out.scores[static_cast<size_t>(out.best)]) out.best = k;
  }
  out.comparisons = n - 1;
  out.rounds = 1;
  return out;
}

BracketResult linearBestOfN(int64_t n, const PairwiseComparator& compare) {
  GRAMRL_CHECK(n >= 1, ConfigError, "best-of-n: expected at least one candidate, got {}", n);
  BracketResult out;
  for (int64_t k = 1; k < n; ++k) {
    const double p_best = callRound(compare, {{out.winner, k}})[0];
    if (p_best < 0.5) out.winner = k;
    ++out.comparisons;
    ++out.rounds;
  }
  return out;
}

}  // namespace gramrl::gram
