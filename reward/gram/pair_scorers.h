// PairScorer adapters (pair_eval.h) for the GRAM judge and for scalar reward models, with the
// views of NOTE [Pair accuracy views].
//
// Threads: one thread at a time (they run the wrapped scorer). Ownership: they reference the
// wrapped judge or scorer, which must outlive them. Throws what the wrapped scorer throws.
#pragma once

#include "reward/gram/gram_judge.h"
#include "reward/gram/pair_eval.h"
#include "reward/gram/scalar_scorers.h"

namespace gramrl::gram {

// Views "debiased", "chosen_in_a", "chosen_in_b": both orders of every pair in one judge call.
class GramPairScorer : public PairScorer {
 public:
  explicit GramPairScorer(GramJudge& judge) : judge_(judge) {}
  std::vector<std::string> views() const override { return {"debiased", "chosen_in_a", "chosen_in_b"}; }
  std::vector<std::vector<double>> margins(const std::vector<const EvalPair*>& pairs) override;

 private:
  GramJudge& judge_;
};

// View "score": r(x, chosen) - r(x, rejected), both responses scored in one call.
class ScalarPairScorer : public PairScorer {
 public:
  explicit ScalarPairScorer(ScalarScorer& scorer) : scorer_(scorer) {}
  std::vector<std::string> views() const override { return {"score"}; }
  std::vector<std::vector<double>> margins(const std::vector<const EvalPair*>& pairs) override;

 private:
  ScalarScorer& scorer_;
};

}  // namespace gramrl::gram
