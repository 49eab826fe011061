// A Bradley-Terry reward model as a training Objective: the baseline GRAM is compared with, and,
// started from a GRAM stage-1 checkpoint, the control that separates the benefit of stage-1
// pre-training from that of generative judging (toy-world-feasibility.md, "BT+S1").
//
// The reward r(x, y) is the model's value head (Transformer::values) at the last token of the
// chat rendering of (user = x, assistant = y + end-of-turn); the LM head is unused. The per-pair
// loss is -log sigmoid(r(x, y_w) - r(x, y_l)) (gram_loss.h) and the loss unit is a pair. A
// micro-batch of m pairs runs as one [2m, T] batch (chosen rows, then rejected rows).
// Metrics per step and on the evaluation set: "accuracy" (r_w > r_l) and "margin" (mean
// r_w - r_l); evaluate() adds "loss".
//
// Threads: the trainer's thread only. Throws ConfigError (constructor) for a model without a
// value head, DataError for a pair with an empty prompt or response.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/model/sequence_batch.h"
#include "learner/engine/objective.h"

namespace gramrl {

class Transformer;

using RewardPair = tokenizer::PromptResponsePair;

struct BradleyTerryOptions {
  int64_t eval_batch_size = 16;
  int64_t pad_id = 0;
};

class BradleyTerryObjective : public Objective {
 public:
  BradleyTerryObjective(std::shared_ptr<Transformer> model, std::vector<RewardPair> train, std::vector<RewardPair> eval,
                        BradleyTerryOptions options);

  std::string name() const override { return "bradley_terry"; }
  int64_t size() const override { return static_cast<int64_t>(train_.size()); }
  double normaliser(const std::vector<int64_t>& indices) override { return static_cast<double>(indices.size()); }
  ObjectiveOutput forward(const std::vector<int64_t>& indices) override;
  std::vector<MetricSum> evaluate(int rank, int world_size) override;

 private:
  // [2m] rewards: the chosen responses of `indices`, then the rejected ones.
  at::Tensor rewards(const std::vector<RewardPair>& pairs, const std::vector<int64_t>& indices, int64_t* tokens) const;

  std::shared_ptr<Transformer> model_;
  std::vector<RewardPair> train_;
  std::vector<RewardPair> eval_;
  BradleyTerryOptions options_;
};

}  // namespace gramrl
