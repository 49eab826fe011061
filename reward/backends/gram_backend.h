// backend: gram: GRAM's generative judge (reward/gram/gram_judge.h) behind RewardBackend.
//   pointwise  reward.transform of P(response beats the item's reference), debiased when
//              reward.debias (GramJudge::pointwiseRewards); every item needs a reference.
//   pairwise   P(response_a beats response_b) (GramJudge::preferenceProbabilities).
//   bestOfN    reward.best_of_n (NOTE [Best-of-n strategies] in reward/gram/best_of_n.h):
//              bracket  winner = the bracket's winner; a candidate's score = the rounds it won
//                       (the winner's is ceil(log2 n) or one less after a bye; the scores add
//                       up to n - 1). Rounds won are not comparable across groups.
//              anchor   scores = r_k against the group's first candidate, winner = argmax.
//              linear   the official README's scan; a candidate's score = the comparisons it won
//                       (p >= 0.5 counts for the held best, as the bracket counts).
//              Groups are judged one after another; one round of one group is one judge call.
//
// Threads, blocking: as RewardBackend (runs the model on the caller's thread). Ownership: owns the
// model, tokenizer and judge. Throws ConfigError at construction (model, tokenizer, template,
// transform, best_of_n), DataError naming the item (no reference) or from the judge (a question
// too long for reward.max_tokens, invalid UTF-8), DataError for empty best-of-n groups.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config/experiment_config.h"
#include "reward/backends/reward_backend.h"
#include "reward/backends/reward_model_loader.h"

namespace gramrl::gram {
class GramJudge;
}

namespace gramrl::reward {

class GramBackend : public RewardBackend {
 public:
  // Loads reward.model with reward.tokenizer, reward.chat_template (auto: the tokenizer's own)
  // and the judge template reward.gram.template.
  GramBackend(const RewardOptions& options, c10::Device device);
  ~GramBackend() override;

  std::string name() const override { return "gram(" + model_source_ + ")"; }
  std::vector<double> pointwise(const std::vector<PointwiseItem>& items) override;
  std::vector<double> pairwise(const std::vector<PairItem>& items) override;
  BestOfNResult bestOfN(const std::vector<CandidateGroup>& groups) override;

 private:
  std::string model_source_;
  std::string transform_;
  bool debias_;
  std::string best_of_n_;  // reward.best_of_n: bracket, anchor or linear
  LoadedModel loaded_;     // before judge_: the judge's encoder refers to its tokenizer
  std::unique_ptr<gram::GramJudge> judge_;
};

}  // namespace gramrl::reward
