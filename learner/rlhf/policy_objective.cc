#include "learner/rlhf/policy_objective.h"

#include <cmath>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/sequence_batch.h"
#include "common/model/transformer.h"

namespace gramrl::rlhf {
namespace {

double sumOf(const at::Tensor& t) { return t.detach().sum().item<double>(); }

// A loss of exactly 0 that still reaches every trained parameter through the graph, for a
// micro-batch without loss units (its backward adds zero gradients).
at::Tensor zeroLoss(const Transformer& model) { return model.outputEmbedding().sum() * 0.0; }

}  // namespace

PolicyObjective::PolicyObjective(std::shared_ptr<Transformer> policy, std::shared_ptr<Transformer> reference,
                                 PolicyLossSettings settings)
    : policy_(std::move(policy)), reference_(std::move(reference)), settings_(settings) {
  GRAMRL_ASSERT(reference_ != nullptr || settings_.kl_coef == 0.0, "a KL penalty needs a reference model");
}

int64_t PolicyObjective::size() const { return experience_ ? static_cast<int64_t>(experience_->samples.size()) : 0; }

double PolicyObjective::normaliser(const std::vector<int64_t>& indices) {
  if (settings_.aggregation != LossAggregation::kTokenMean) return static_cast<double>(indices.size());
  double tokens = 0.0;
  for (int64_t i : indices) tokens += static_cast<double>(experience_->samples[static_cast<size_t>(i)].response.size());
  return tokens;
}

ObjectiveOutput PolicyObjective::forward(const std::vector<int64_t>& indices) {
  GRAMRL_ASSERT(experience_ != nullptr, "forward() before setExperience()");
  const Experience& e = *experience_;
  const at::Device device = policy_->device();
  const SequenceBatch batch = sampleBatch(e.samples, indices, settings_.pad_id, device);
  at::Tensor hidden;
  const at::Tensor logp =
      nextTokenLogProbs(*policy_, batch, settings_.temperature, settings_.entropy_coef > 0 ? &hidden : nullptr);
  const int64_t width = logp.size(1);
  const at::Tensor mask = batch.target_mask.to(torch::kFloat);
  const at::Tensor old = scatterResponse(e.samples, indices, e.old_logp, width, device);
  const at::Tensor weight = scatterResponse(e.samples, indices, e.is_weight, width, device);
  const at::Tensor advantages = scatterResponse(e.samples, indices, e.advantages, width, device);

  const SurrogateLoss s = clippedSurrogate(logp, old, advantages, settings_.clip);
  at::Tensor token_loss = s.loss * weight;
  at::Tensor kl;
  if (reference_) {
    kl = klEstimate(logp, scatterResponse(e.samples, indices, e.ref_logp, width, device), settings_.kl_estimator);
    if (settings_.kl_coef > 0) token_loss = token_loss + settings_.kl_coef * kl;
  }
  at::Tensor entropy;
  if (settings_.entropy_coef > 0) {
    // Exact entropies at the response positions only: [N, V] logits for N response tokens.
    const at::Tensor positions = batch.target_mask.nonzero();
    const at::Tensor rows = hidden.index({positions.select(1, 0), positions.select(1, 1)});
    const at::Tensor h = entropyFromLogits(policy_->logits(rows));
    entropy = torch::zeros_like(logp).index_put({positions.select(1, 0), positions.select(1, 1)}, h);
    token_loss = token_loss - settings_.entropy_coef * entropy;
  }
  ObjectiveOutput out;
  out.loss_sum = aggregateLoss(token_loss, mask, settings_.aggregation, settings_.max_new_tokens);
  out.tokens = batch.tokens;
  const double tokens = mask.sum().item<double>();
  const at::Tensor d = (logp.detach() - old);
  out.metrics.push_back(MetricSum{"policy/clip_fraction", sumOf(s.clipped * mask), tokens});
  out.metrics.push_back(MetricSum{"policy/ratio", sumOf(s.ratio * mask), tokens});
  out.metrics.push_back(
      MetricSum{"policy/entropy", entropy.defined() ? sumOf(entropy * mask) : -sumOf(logp * mask), tokens});
  out.metrics.push_back(MetricSum{"policy/kl_loss_term", kl.defined() ? sumOf(kl * mask) : 0.0, tokens});
  out.metrics.push_back(MetricSum{"policy/approx_kl", sumOf((torch::exp(d) - 1.0 - d) * mask), tokens});
  return out;
}

ValueObjective::ValueObjective(std::shared_ptr<Transformer> critic, double value_clip, int64_t pad_id)
    : critic_(std::move(critic)), value_clip_(value_clip), pad_id_(pad_id) {
  GRAMRL_ASSERT(critic_->hasValueHead(), "the critic has no value head");
}

int64_t ValueObjective::size() const { return experience_ ? static_cast<int64_t>(experience_->samples.size()) : 0; }

double ValueObjective::normaliser(const std::vector<int64_t>& indices) {
  double tokens = 0.0;
  for (int64_t i : indices) tokens += static_cast<double>(experience_->samples[static_cast<size_t>(i)].response.size());
  return tokens;
}

ObjectiveOutput ValueObjective::forward(const std::vector<int64_t>& indices) {
  GRAMRL_ASSERT(experience_ != nullptr && !experience_->returns.empty(), "forward() without PPO experience");
  const Experience& e = *experience_;
  const at::Device device = critic_->device();
  const SequenceBatch batch = sampleBatch(e.samples, indices, pad_id_, device);
  const int64_t t = batch.input_ids.size(1);
  const at::Tensor hidden = critic_->forward(batch.input_ids, batch.attention_mask).narrow(1, 0, t - 1);
  const at::Tensor values = critic_->values(hidden);
  const at::Tensor mask = batch.target_mask.to(torch::kFloat);
  const at::Tensor old = scatterResponse(e.samples, indices, e.old_values, t - 1, device);
  const at::Tensor returns = scatterResponse(e.samples, indices, e.returns, t - 1, device);
  const ValueLoss v = clippedValueLoss(values, old, returns, value_clip_);
  ObjectiveOutput out;
  out.loss_sum = (v.loss * mask).sum();
  out.tokens = batch.tokens;
  const double tokens = mask.sum().item<double>();
  out.metrics.push_back(MetricSum{"value/clip_fraction", sumOf(v.clipped * mask), tokens});
  out.metrics.push_back(MetricSum{"value/error", sumOf((values.detach() - returns).abs() * mask), tokens});
  return out;
}

OnlineDpoObjective::OnlineDpoObjective(std::shared_ptr<Transformer> policy, DpoLossOptions options, int64_t group_size,
                                       int64_t pad_id)
    : policy_(std::move(policy)), options_(std::move(options)), group_size_(group_size), pad_id_(pad_id) {}

void OnlineDpoObjective::setExperience(const Experience* experience) {
  experience_ = experience;
  pairs_ = selectPairs(experience->scores, group_size_);
}

double OnlineDpoObjective::normaliser(const std::vector<int64_t>& indices) {
  double pairs = 0.0;
  for (int64_t g : indices) pairs += pairs_[static_cast<size_t>(g)] ? 1.0 : 0.0;
  return pairs;
}

ObjectiveOutput OnlineDpoObjective::forward(const std::vector<int64_t>& indices) {
  GRAMRL_ASSERT(experience_ != nullptr, "forward() before setExperience()");
  const Experience& e = *experience_;
  std::vector<int64_t> rows;  // chosen, rejected, chosen, rejected, ...
  for (int64_t g : indices) {
    if (const auto& p = pairs_[static_cast<size_t>(g)]) {
      rows.push_back(p->chosen);
      rows.push_back(p->rejected);
    }
  }
  ObjectiveOutput out;
  const auto groups = static_cast<double>(indices.size());
  const auto m = static_cast<double>(rows.size() / 2);
  if (rows.empty()) {
    out.loss_sum = zeroLoss(*policy_);
    out.metrics = {{"rewards/accuracy", 0.0, 0.0}, {"rewards/margin", 0.0, 0.0}, {"online_dpo/pairs", 0.0, groups}};
    return out;
  }
  const bool average = dpoAveragesLogProbs(options_.loss);
  const SequenceBatch batch = sampleBatch(e.samples, rows, pad_id_, policy_->device());
  const ResponseLogProbs lp = responseLogProbs(*policy_, batch);
  const at::Tensor per_response = average ? lp.sum / lp.count.clamp_min(1) : lp.sum;
  std::vector<float> ref(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& v = e.ref_logp[static_cast<size_t>(rows[r])];
    double sum = 0.0;
    for (float x : v) sum += x;
    ref[r] = static_cast<float>(average ? sum / static_cast<double>(std::max<size_t>(1, v.size())) : sum);
  }
  const at::Tensor ref_t = torch::tensor(ref, torch::kFloat).to(policy_->device());
  const auto n = static_cast<int64_t>(rows.size() / 2);
  const at::Tensor chosen = per_response.view({n, 2}).select(1, 0);
  const at::Tensor rejected = per_response.view({n, 2}).select(1, 1);
  const DpoLossOutput loss =
      dpoLoss(chosen, rejected, ref_t.view({n, 2}).select(1, 0), ref_t.view({n, 2}).select(1, 1), options_);
  out.loss_sum = loss.losses.sum();
  out.tokens = batch.tokens;
  out.metrics = {{"rewards/accuracy", sumOf((loss.chosen_rewards > loss.rejected_rewards).to(torch::kFloat)), m},
                 {"rewards/margin", sumOf(loss.chosen_rewards - loss.rejected_rewards), m},
                 {"online_dpo/pairs", m, groups}};
  return out;
}

}  // namespace gramrl::rlhf
