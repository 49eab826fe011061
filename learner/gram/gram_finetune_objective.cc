#include "learner/gram/gram_finetune_objective.h"

#include <algorithm>
#include <utility>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/transformer.h"
#include "learner/gram/gram_loss.h"
#include "reward/gram/label_logits.h"

namespace gramrl {

GramFinetuneObjective::GramFinetuneObjective(std::shared_ptr<Transformer> model, std::vector<JudgePromptPair> train,
                                             std::vector<JudgePromptPair> eval, GramFinetuneOptions options)
    : model_(std::move(model)), train_(std::move(train)), eval_(std::move(eval)), options_(options) {
  GRAMRL_ASSERT(model_ != nullptr);
  GRAMRL_CHECK(options_.label_smoothing >= 0.0 && options_.label_smoothing < 0.5, ConfigError,
               "learner.gram.label_smoothing: expected a number in [0, 0.5), got {}", options_.label_smoothing);
  for (auto* set : {&train_, &eval_}) {
    for (size_t i = 0; i < set->size(); ++i) {
      GRAMRL_CHECK(!(*set)[i].winner_a.empty() && !(*set)[i].winner_b.empty(), DataError,
                   "GRAM stage-2 {} pair {}: empty judge prompt", set == &train_ ? "training" : "evaluation", i);
    }
  }
}

bool GramFinetuneObjective::winnerInA(int64_t index) const {
  return !options_.randomize_order || gram::winnerInSlotA(options_.seed, step_, index);
}

at::Tensor GramFinetuneObjective::labelLogits(const std::vector<const std::vector<int64_t>*>& prompts,
                                              int64_t* tokens) const {
  if (tokens != nullptr) {
    *tokens = 0;
    for (const auto* p : prompts) *tokens += static_cast<int64_t>(p->size());
  }
  // NOTE [One label-logit function]: the judge that serves this model scores with the same call.
  return gram::labelLogits(*model_, prompts, options_.label_a, options_.label_b, options_.pad_id);
}

ObjectiveOutput GramFinetuneObjective::forward(const std::vector<int64_t>& indices) {
  std::vector<const std::vector<int64_t>*> prompts;
  std::vector<float> sign;  // +1: winner in A, so D = z_A - z_B; -1: D = z_B - z_A
  for (int64_t i : indices) {
    const bool a = winnerInA(i);
    const auto& pair = train_[static_cast<size_t>(i)];
    prompts.push_back(a ? &pair.winner_a : &pair.winner_b);
    sign.push_back(a ? 1.0f : -1.0f);
  }
  ObjectiveOutput out;
  const at::Tensor logits = labelLogits(prompts, &out.tokens);
  const at::Tensor d = (logits.select(1, 0) - logits.select(1, 1)) * torch::tensor(sign).to(logits.device());
  out.loss_sum = gram::labelSmoothedPairLoss(d, options_.label_smoothing).sum();
  const at::Tensor dd = d.detach();
  const auto m = static_cast<double>(indices.size());
  out.metrics = {
      {"accuracy", (dd > 0).sum().item<double>(), m},
      {"margin", dd.sum().item<double>(), m},
      {"p_winner", torch::sigmoid(dd).sum().item<double>(), m},
  };
  return out;
}

std::vector<MetricSum> GramFinetuneObjective::evaluate(int rank, int world_size) {
  if (eval_.empty()) return {};
  MetricSum loss{"loss", 0, 0}, debiased{"accuracy", 0, 0}, single{"accuracy/single", 0, 0},
      winner_a{"accuracy/winner_a", 0, 0}, winner_b{"accuracy/winner_b", 0, 0};
  std::vector<int64_t> mine;
  for (int64_t i = rank; i < static_cast<int64_t>(eval_.size()); i += world_size) mine.push_back(i);
  const auto chunk = static_cast<size_t>(std::max<int64_t>(1, options_.eval_batch_size));
  for (size_t start = 0; start < mine.size(); start += chunk) {
    const size_t end = std::min(mine.size(), start + chunk);
    std::vector<const std::vector<int64_t>*> prompts;
    for (size_t k = start; k < end; ++k) prompts.push_back(&eval_[static_cast<size_t>(mine[k])].winner_a);
    for (size_t k = start; k < end; ++k) prompts.push_back(&eval_[static_cast<size_t>(mine[k])].winner_b);
    const auto m = static_cast<int64_t>(end - start);
    const at::Tensor logits = labelLogits(prompts, nullptr).to(torch::kCPU);
    const at::Tensor diff = logits.select(1, 0) - logits.select(1, 1);  // z_A - z_B per row
    const at::Tensor d1 = diff.narrow(0, 0, m);                         // chosen in A: D = a1 - b1
    const at::Tensor d2 = -diff.narrow(0, m, m);                        // chosen in B: D = b2 - a2
    const at::Tensor p = (torch::sigmoid(d1) + torch::sigmoid(d2)) / 2;
    loss.sum += gram::labelSmoothedPairLoss(torch::cat({d1, d2}), options_.label_smoothing).sum().item<double>();
    debiased.sum += (p > 0.5).sum().item<double>();
    winner_a.sum += (d1 > 0).sum().item<double>();
    winner_b.sum += (d2 > 0).sum().item<double>();
    loss.count += 2.0 * static_cast<double>(m);
    debiased.count += static_cast<double>(m);
    winner_a.count += static_cast<double>(m);
    winner_b.count += static_cast<double>(m);
  }
  single.sum = winner_a.sum + winner_b.sum;
  single.count = winner_a.count + winner_b.count;
  return {loss, debiased, single, winner_a, winner_b};
}

}  // namespace gramrl
