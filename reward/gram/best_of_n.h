// Best-of-n selection from pairwise judgements (gram-paper.md section 4.2), written against a
// small comparator interface so that it runs with GramJudge (gram_judge.h: makeComparator) or
// with a fake judge in tests.
//
// NOTE [Best-of-n strategies]
// bracket  a knockout: each round pairs the survivors in index order (0 vs 1, 2 vs 3, ...); the
//          winner of each pair advances, an odd survivor out (the last) gets a bye. n - 1
//          comparisons in ceil(log2 n) rounds, one comparator call per round, so a round is one
//          batched forward of the judge. A pair whose probability is exactly 0.5 goes to the
//          lower index. GRAM's judgements need not be transitive, so the winner can depend on the
//          pairing; with a consistent judge (P(i beats j) > 0.5 iff i is better) the best wins.
// anchor   the earlier official README's scores: every candidate k >= 1 against candidate 0, all
//          in one round (n - 1 comparisons). With s_k = P(k beats 0) and b_k = 1 - s_k,
//          r_k = s_k - b_k + r_0 and r_0 = anchor_score (default 0.5, the probability that 0 beats
//          itself, so that r_k > r_0 exactly when k beats the anchor). The best is argmax r
//          (lowest index on ties). The ordering of k >= 1 is the ordering of P(k beats 0).
// linear   the current official README's "list-wise response ranking": best = 0, then for k = 1 ..
//          n-1 compare (best, k) and keep k when P(best beats k) < 0.5 (s_best < s_k; a tie keeps
//          best). n - 1 comparisons in n - 1 rounds of one pair: sequential, as the README writes
//          it. The winner can differ from the bracket's when the judge is not transitive.
//
// Threads: the functions call `compare` on the calling thread, once per round. Throws what
// `compare` throws; InternalError when it returns the wrong number of probabilities (a bug in
// the comparator); ConfigError for n < 1.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace gramrl::gram {

struct IndexPair {
  int64_t i = 0;
  int64_t j = 0;
};

// For each pair, P(candidate i is better than candidate j). One call is one parallel round.
using PairwiseComparator = std::function<std::vector<double>(const std::vector<IndexPair>& pairs)>;

struct BracketResult {
  int64_t winner = 0;
  int64_t comparisons = 0;
  int64_t rounds = 0;
};

struct AnchorResult {
  int64_t best = 0;
  std::vector<double> scores;  // r_k for every candidate, r_0 = anchor_score
  int64_t comparisons = 0;
  int64_t rounds = 0;
};

BracketResult bracketBestOfN(int64_t n, const PairwiseComparator& compare);
AnchorResult anchorBestOfN(int64_t n, const PairwiseComparator& compare, double anchor_score = 0.5);
// The linear scan; `winner`, `comparisons` = n - 1 and `rounds` = n - 1 as for the bracket.
BracketResult linearBestOfN(int64_t n, const PairwiseComparator& compare);

}  // namespace gramrl::gram
