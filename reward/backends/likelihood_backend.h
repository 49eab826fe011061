// backend: likelihood: the label-free likelihood judge (NOTE [Likelihood judge] in
// reward/gram/scalar_scorers.h) behind RewardBackend, so that the control of the GRAM
// reproduction can also be an RLHF reward.
//   pointwise  the sum of the stage-1 model's log-probs of answer_a(response) given the question
//   pairwise   sigmoid(r(a) - r(b));  bestOfN  argmax of r, scores = r   (scalar_backend.h)
// reward.model is a GRAM stage-1 checkpoint (any causal LM runs); reward.gram.template its judge
// template. The score is a sum, so it favours short responses: a control, not a reward model.
//
// Threads, blocking: as RewardBackend. Ownership: owns model, tokenizer and judge. Throws
// ConfigError at construction, DataError from the judge (invalid UTF-8, a question too long).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config/experiment_config.h"
#include "reward/backends/reward_model_loader.h"
#include "reward/backends/scalar_backend.h"

namespace gramrl::gram {
class LikelihoodJudge;
}

namespace gramrl::reward {

class LikelihoodBackend : public ScalarBackend {
 public:
  LikelihoodBackend(const RewardOptions& options, c10::Device device);
  ~LikelihoodBackend() override;

  std::string name() const override { return "likelihood(" + model_source_ + ")"; }

 protected:
  std::vector<double> scoreResponses(const std::vector<PointwiseItem>& items, const ItemNamer& name) override;

 private:
  std::string model_source_;
  LoadedModel loaded_;  // before judge_: the judge refers to its tokenizer
  std::unique_ptr<gram::LikelihoodJudge> judge_;
};

}  // namespace gramrl::reward
