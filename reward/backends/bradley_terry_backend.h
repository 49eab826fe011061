// backend: bradley_terry: a scalar reward model (an LM with a value head,
// reward/gram/scalar_scorers.h BradleyTerryScorer) behind RewardBackend.
//   pointwise  r(prompt, response), the value head at the last token of the chat rendering
//   pairwise   sigmoid(r(a) - r(b));  bestOfN  argmax of r, scores = r   (scalar_backend.h)
// reward.max_tokens is split half and half between prompt and response (as gramrl gram eval).
// A builtin:<preset> model gets a freshly initialised value head so that the backend runs end to
// end (its rewards are then meaningless); a checkpoint without one is a ConfigError.
//
// Threads, blocking: as RewardBackend. Ownership: owns model, tokenizer and scorer. Throws
// ConfigError at construction, DataError from the scorer (invalid UTF-8, a prompt too long).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config/experiment_config.h"
#include "reward/backends/reward_model_loader.h"
#include "reward/backends/scalar_backend.h"

namespace gramrl::gram {
class BradleyTerryScorer;
}

namespace gramrl::reward {

class BradleyTerryBackend : public ScalarBackend {
 public:
  BradleyTerryBackend(const RewardOptions& options, c10::Device device);
  ~BradleyTerryBackend() override;

  std::string name() const override { return "bradley_terry(" + model_source_ + ")"; }

 protected:
  std::vector<double> scoreResponses(const std::vector<PointwiseItem>& items, const ItemNamer& name) override;

 private:
  std::string model_source_;
  LoadedModel loaded_;  // before scorer_: the scorer's encoder refers to its tokenizer
  std::unique_ptr<gram::BradleyTerryScorer> scorer_;
};

}  // namespace gramrl::reward
