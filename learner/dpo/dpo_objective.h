// DPO, IPO and cDPO as a training Objective (learner/engine/objective.h).
//
// A micro-batch of m pairs runs as one [2m, T] batch (chosen rows, then rejected rows) through
// the policy. Reference log-probs come from a frozen copy of the initial policy, either
// precomputed once for the whole training and evaluation sets in prepare() (each rank computes
// its shard, one allreduce shares them, and the reference model is then freed: the default, and
// what TRL's precompute_ref_log_probs does) or computed with each micro-batch ("per_batch": no
// startup pass, a second model kept in memory). The loss unit is a pair (NOTE [Loss
// normalisation]). Metrics: rewards/{chosen,rejected,margin,accuracy} and logps/{chosen,rejected}
// per step; on the evaluation set loss, rewards/accuracy (the held-out implicit-reward accuracy)
// and rewards/margin.
//
// Threads: the trainer's thread only. Throws DataError for pairs whose responses are empty
// after truncation.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/model/sequence_batch.h"
#include "learner/dpo/dpo_loss.h"
#include "learner/engine/objective.h"

namespace gramrl {

class Transformer;

using TokenizedPair = tokenizer::PromptResponsePair;

struct DpoObjectiveOptions {
  DpoLossOptions loss;
  std::string reference = "precompute";  // precompute | per_batch
  int64_t eval_batch_size = 16;
  int64_t pad_id = 0;
};

class DpoObjective : public Objective {
 public:
  // `reference` is the frozen reference model (parameters need not require grad); it is released
  // after precomputation.
  DpoObjective(std::shared_ptr<Transformer> policy, std::shared_ptr<Transformer> reference,
               std::vector<TokenizedPair> train, std::vector<TokenizedPair> eval, DpoObjectiveOptions options);

  std::string name() const override { return "dpo"; }
  int64_t size() const override { return static_cast<int64_t>(train_.size()); }
  void prepare(Collective& collective) override;
  double normaliser(const std::vector<int64_t>& indices) override { return static_cast<double>(indices.size()); }
  ObjectiveOutput forward(const std::vector<int64_t>& indices) override;
  std::vector<MetricSum> evaluate(int rank, int world_size) override;

 private:
  struct PairLogProbs {
    at::Tensor policy_chosen, policy_rejected;        // [m], autograd when enabled
    at::Tensor reference_chosen, reference_rejected;  // [m]
    int64_t tokens = 0;
  };
  PairLogProbs logProbs(const std::vector<TokenizedPair>& pairs, const std::vector<int64_t>& indices,
                        const at::Tensor& cached_reference);
  // [n, 2] (chosen, rejected) reference log-probs of `pairs`, computed on this rank's shard and
  // summed over ranks.
  at::Tensor precomputeReference(const std::vector<TokenizedPair>& pairs, Collective& collective);

  std::shared_ptr<Transformer> policy_;
  std::shared_ptr<Transformer> reference_;
  std::vector<TokenizedPair> train_;
  std::vector<TokenizedPair> eval_;
  DpoObjectiveOptions options_;
  at::Tensor train_reference_;  // [n, 2] float32 after prepare() with precompute
  at::Tensor eval_reference_;
};

}  // namespace gramrl
