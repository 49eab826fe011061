// The "make experience" phase of the online algorithms: from one step's trajectories on this
// rank to everything their losses need (reference and proximal log-probs, importance weights,
// the KL to the reference, the critic's values, per-token advantages and returns), as NOTE
// [Advantage estimators] (advantages.h) describes for each algorithm.
//
// NOTE [Which samples a rank trains on]
// A step's P prompts (n samples each, in prompt order) are cut into M mini-batches of P / M
// consecutive prompts (M = learner.ppo.mini_batches for ppo, else 1), and each mini-batch into
// one equal share per rank. Rank r holds share r of every mini-batch, so the m-th update of a
// step sees the same samples whatever the number of ranks; global quantities (whitening, the
// adaptive KL's mean) are summed over ranks in float64. localSampleIndices() gives the indices.
//
// Threads: the learner thread. Throws ConfigError for samples that are not whole groups,
// DataError for a sample without prompt tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/Tensor.h>

#include "common/model/sequence_batch.h"
#include "learner/engine/objective.h"
#include "learner/rlhf/policy_loss.h"
#include "rollout/trajectory.h"

namespace gramrl {
class Collective;
class Transformer;
}  // namespace gramrl

namespace gramrl::rlhf {

enum class Algorithm { kPpo, kGrpo, kRloo, kRemax, kReinforcePp, kOnlineDpo };
// learner.algorithm of an online run; ConfigError (naming the online ones) otherwise.
Algorithm parseOnlineAlgorithm(const std::string& name);
std::string algorithmName(Algorithm algorithm);

struct ExperienceSettings {
  Algorithm algorithm = Algorithm::kGrpo;
  int64_t group_size = 1;    // samples per prompt
  double temperature = 1.0;  // log-probs at the sampling temperature (0 counts as 1)
  int64_t batch_rows = 8;    // rows per no-grad forward
  int64_t pad_id = 0;
  double importance_cap = 2.0;
  KlEstimator kl_estimator = KlEstimator::kK3;
  bool kl_in_reward = false;  // sequence-level for grpo/rloo/remax; always per token for ppo/reinforce_pp
  bool scale_by_std = true;   // grpo
  double gamma = 1.0;         // ppo, reinforce_pp
  double lambda = 0.95;       // ppo
  bool whiten = true;         // ppo (reinforce_pp always whitens)
};

struct Experience {
  std::vector<Trajectory> samples;
  int64_t version = 0;
  std::vector<double> scores;                 // the shaped rewards (NOTE [Reward shaping]), KL not subtracted
  std::vector<double> rewards;                // what the advantages start from: scores minus the KL when in the reward
  std::vector<double> kl;                     // per sample: summed KL estimate of the behaviour policy to the reference
  std::vector<std::vector<float>> ref_logp;   // per token; empty rows without a reference
  std::vector<std::vector<float>> old_logp;   // the proximal log-probs of the surrogate
  std::vector<std::vector<float>> is_weight;  // truncated importance weights (1 on-policy)
  std::vector<std::vector<float>> advantages;  // per token
  std::vector<std::vector<float>> returns;     // ppo: the critic's targets
  std::vector<std::vector<float>> old_values;  // ppo: the critic's values when the experience was made
};

// Indices into a step's samples (NOTE [Which samples a rank trains on]).
std::vector<int64_t> localSampleIndices(int64_t prompts, int64_t group_size, int64_t mini_batches, int rank, int world);

class ExperienceMaker {
 public:
  // `reference` may be null (no KL, no DPO); `critic` must be set for ppo.
  ExperienceMaker(std::shared_ptr<Transformer> policy, std::shared_ptr<Transformer> reference,
                  std::shared_ptr<Transformer> critic, ExperienceSettings settings);

  // This rank's samples (whole groups) made at learner version `version`, their shaped scores and,
  // for remax, their prompts' shaped greedy baselines. `kl_coef` is this step's (adaptive for ppo).
  // Whitening sums over `collective`, so every rank calls it.
  Experience make(std::vector<Trajectory> samples, std::vector<double> scores, std::vector<double> baselines,
                  int64_t version, double kl_coef, Collective& collective) const;

  // Sums and counts over the experience: reward, its square, gold, length, staleness, KL per token,
  // the reward the advantages start from, the stopped fraction; ppo adds the values and returns.
  std::vector<MetricSum> metrics(const Experience& experience) const;

  // Per-token log-probs of each response under `model` at the settings' temperature (no gradient).
  std::vector<std::vector<float>> tokenLogProbs(const Transformer& model, const std::vector<Trajectory>& samples) const;
  // The critic's value before each response token (no gradient).
  std::vector<std::vector<float>> tokenValues(const Transformer& critic, const std::vector<Trajectory>& samples) const;

  const ExperienceSettings& settings() const { return settings_; }

 private:
  std::shared_ptr<Transformer> policy_;
  std::shared_ptr<Transformer> reference_;
  std::shared_ptr<Transformer> critic_;
  ExperienceSettings settings_;
};

// Helpers shared with the objectives.
// The rows `indices` of `samples` as a right-padded batch on `device`.
SequenceBatch sampleBatch(const std::vector<Trajectory>& samples, const std::vector<int64_t>& indices, int64_t pad_id,
                          at::Device device);
// [B, width] float tensor with row r's per-response-token values at the positions that predict
// those tokens (position prompt_length + j - 1 for token j), zero elsewhere.
at::Tensor scatterResponse(const std::vector<Trajectory>& samples, const std::vector<int64_t>& indices,
                           const std::vector<std::vector<float>>& values, int64_t width, at::Device device);
// [B, T-1] log-probs of every next token under `model` at `temperature`, zero off the target
// mask; `hidden` (when given) receives the [B, T-1, H] hidden states that predict them.
at::Tensor nextTokenLogProbs(const Transformer& model, const SequenceBatch& batch, double temperature,
                             at::Tensor* hidden = nullptr);

}  // namespace gramrl::rlhf
