#include "learner/dpo/dpo_objective.h"

#include <utility>

#include <torch/torch.h>

#include "common/collectives/collective.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/model/transformer.h"

namespace gramrl {

DpoObjective::DpoObjective(std::shared_ptr<Transformer> policy, std::shared_ptr<Transformer> reference,
                           std::vector<TokenizedPair> train, std::vector<TokenizedPair> eval,
                           DpoObjectiveOptions options)
    : policy_(std::move(policy)),
      reference_(std::move(reference)),
      train_(std::move(train)),
      eval_(std::move(eval)),
      options_(std::move(options)) {
  GRAMRL_CHECK(options_.reference == "precompute" || options_.reference == "per_batch", ConfigError,
               "learner.dpo.reference: expected precompute or per_batch, got '{}'", options_.reference);
  GRAMRL_ASSERT(reference_ != nullptr, "DPO needs a reference model");
  for (auto* set : {&train_, &eval_}) {
    for (size_t i = 0; i < set->size(); ++i) {
      const auto& p = (*set)[i];
      GRAMRL_CHECK(!p.chosen.response.empty() && !p.rejected.response.empty(), DataError,
                   "{} pair {}: a response is empty after truncation", set == &train_ ? "training" : "evaluation", i);
    }
  }
}

DpoObjective::PairLogProbs DpoObjective::logProbs(const std::vector<TokenizedPair>& pairs,
                                                  const std::vector<int64_t>& indices,
                                                  const at::Tensor& cached_reference) {
  const auto m = static_cast<int64_t>(indices.size());
  std::vector<const tokenizer::PromptResponse*> rows;
  rows.reserve(2 * indices.size());
  for (int64_t i : indices) rows.push_back(&pairs[static_cast<size_t>(i)].chosen);
  for (int64_t i : indices) rows.push_back(&pairs[static_cast<size_t>(i)].rejected);
  const SequenceBatch batch = makeSequenceBatch(rows, options_.pad_id, policy_->device());
  const bool average = dpoAveragesLogProbs(options_.loss.loss);

  auto perResponse = [&](const ResponseLogProbs& lp) { return average ? lp.sum / lp.count.clamp_min(1) : lp.sum; };
  PairLogProbs out;
  out.tokens = batch.tokens;
  const at::Tensor policy_lp = perResponse(responseLogProbs(*policy_, batch));
  out.policy_chosen = policy_lp.narrow(0, 0, m);
  out.policy_rejected = policy_lp.narrow(0, m, m);
  if (cached_reference.defined()) {
    const at::Tensor ref =
        cached_reference.index_select(0, torch::tensor(indices, torch::kInt64)).to(policy_->device());
    out.reference_chosen = ref.select(1, 0);
    out.reference_rejected = ref.select(1, 1);
  } else {
    torch::NoGradGuard no_grad;
    const at::Tensor ref_lp = perResponse(responseLogProbs(*reference_, batch));
    out.reference_chosen = ref_lp.narrow(0, 0, m);
    out.reference_rejected = ref_lp.narrow(0, m, m);
  }
  return out;
}

at::Tensor DpoObjective::precomputeReference(const std::vector<TokenizedPair>& pairs, Collective& collective) {
  torch::NoGradGuard no_grad;
  const auto n = static_cast<int64_t>(pairs.size());
  at::Tensor table = torch::zeros({n, 2}, torch::kFloat64);
  std::vector<int64_t> mine;
  for (int64_t i = collective.rank(); i < n; i += collective.worldSize()) mine.push_back(i);
  const bool average = dpoAveragesLogProbs(options_.loss.loss);
  for (size_t start = 0; start < mine.size(); start += static_cast<size_t>(options_.eval_batch_size)) {
    const size_t end = std::min(mine.size(), start + static_cast<size_t>(options_.eval_batch_size));
    std::vector<const tokenizer::PromptResponse*> rows;
    for (size_t k = start; k < end; ++k) rows.push_back(&pairs[static_cast<size_t>(mine[k])].chosen);
    for (size_t k = start; k < end; ++k) rows.push_back(&pairs[static_cast<size_t>(mine[k])].rejected);
    const SequenceBatch batch = makeSequenceBatch(rows, options_.pad_id, reference_->device());
    const ResponseLogProbs lp = responseLogProbs(*reference_, batch);
    const at::Tensor values = (average ? lp.sum / lp.count.clamp_min(1) : lp.sum).to(torch::kCPU, torch::kFloat64);
    const auto m = static_cast<int64_t>(end - start);
    for (int64_t k = 0; k < m; ++k) {
      table[mine[start + static_cast<size_t>(k)]][0] = values[k];
      table[mine[start + static_cast<size_t>(k)]][1] = values[m + k];
    }
  }
  collective.allreduceSum(std::vector<at::Tensor>{table});
  return table.to(torch::kFloat32);
}

void DpoObjective::prepare(Collective& collective) {
  if (options_.reference != "precompute" || train_reference_.defined()) return;
  log::info("computing reference log-probs of {} training and {} evaluation pairs", train_.size(), eval_.size());
  train_reference_ = precomputeReference(train_, collective);
  if (!eval_.empty()) eval_reference_ = precomputeReference(eval_, collective);
  reference_.reset();
}

ObjectiveOutput DpoObjective::forward(const std::vector<int64_t>& indices) {
  PairLogProbs lp = logProbs(train_, indices, train_reference_);
  DpoLossOutput loss =
      dpoLoss(lp.policy_chosen, lp.policy_rejected, lp.reference_chosen, lp.reference_rejected, options_.loss);
  const double m = static_cast<double>(indices.size());
  auto sum = [](const at::Tensor& t) { return t.detach().sum().item<double>(); };
  ObjectiveOutput out;
  out.loss_sum = loss.losses.sum();
  out.tokens = lp.tokens;
  out.metrics = {
      {"rewards/chosen", sum(loss.chosen_rewards), m},
      {"rewards/rejected", sum(loss.rejected_rewards), m},
      {"rewards/margin", sum(loss.chosen_rewards - loss.rejected_rewards), m},
      {"rewards/accuracy", sum((loss.chosen_rewards > loss.rejected_rewards).to(torch::kFloat)), m},
      {"logps/chosen", sum(lp.policy_chosen), m},
      {"logps/rejected", sum(lp.policy_rejected), m},
  };
  return out;
}

std::vector<MetricSum> DpoObjective::evaluate(int rank, int world_size) {
  if (eval_.empty()) return {};
  MetricSum loss_sum{"loss", 0, 0}, accuracy{"rewards/accuracy", 0, 0}, margin{"rewards/margin", 0, 0};
  std::vector<int64_t> mine;
  for (int64_t i = rank; i < static_cast<int64_t>(eval_.size()); i += world_size) mine.push_back(i);
  for (size_t start = 0; start < mine.size(); start += static_cast<size_t>(options_.eval_batch_size)) {
    const size_t end = std::min(mine.size(), start + static_cast<size_t>(options_.eval_batch_size));
    const std::vector<int64_t> indices(mine.begin() + static_cast<std::ptrdiff_t>(start),
                                       mine.begin() + static_cast<std::ptrdiff_t>(end));
    PairLogProbs lp = logProbs(eval_, indices, eval_reference_);
    DpoLossOutput loss =
        dpoLoss(lp.policy_chosen, lp.policy_rejected, lp.reference_chosen, lp.reference_rejected, options_.loss);
    const double m = static_cast<double>(indices.size());
    loss_sum.sum += loss.losses.sum().item<double>();
    accuracy.sum += (loss.chosen_rewards > loss.rejected_rewards).sum().item<double>();
    margin.sum += (loss.chosen_rewards - loss.rejected_rewards).sum().item<double>();
    loss_sum.count += m;
    accuracy.count += m;
    margin.count += m;
  }
  return {loss_sum, accuracy, margin};
}

}  // namespace gramrl
