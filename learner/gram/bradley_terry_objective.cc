#include "learner/gram/bradley_terry_objective.h"

#include <algorithm>
#include <utility>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/transformer.h"
#include "learner/gram/gram_loss.h"

namespace gramrl {

BradleyTerryObjective::BradleyTerryObjective(std::shared_ptr<Transformer> model, std::vector<RewardPair> train,
                                             std::vector<RewardPair> eval, BradleyTerryOptions options)
    : model_(std::move(model)), train_(std::move(train)), eval_(std::move(eval)), options_(options) {
  GRAMRL_ASSERT(model_ != nullptr);
  GRAMRL_CHECK(model_->hasValueHead(), ConfigError,
               "bradley_terry needs a model with a value head (load it with PretrainedOptions::value_head)");
  for (auto* set : {&train_, &eval_}) {
    for (size_t i = 0; i < set->size(); ++i) {
      const RewardPair& p = (*set)[i];
      GRAMRL_CHECK(!p.chosen.prompt.empty() && !p.chosen.response.empty() && !p.rejected.prompt.empty() &&
                       !p.rejected.response.empty(),
                   DataError, "Bradley-Terry {} pair {}: empty prompt or response after encoding",
                   set == &train_ ? "training" : "evaluation", i);
    }
  }
}

at::Tensor BradleyTerryObjective::rewards(const std::vector<RewardPair>& pairs, const std::vector<int64_t>& indices,
                                          int64_t* tokens) const {
  std::vector<const tokenizer::PromptResponse*> rows;
  rows.reserve(2 * indices.size());
  for (int64_t i : indices) rows.push_back(&pairs[static_cast<size_t>(i)].chosen);
  for (int64_t i : indices) rows.push_back(&pairs[static_cast<size_t>(i)].rejected);
  const SequenceBatch batch = makeSequenceBatch(rows, options_.pad_id, model_->device());
  if (tokens != nullptr) *tokens = batch.tokens;
  const at::Tensor hidden = model_->forward(batch.input_ids, batch.attention_mask);
  // Only the last token's hidden state goes through the head: [2m, H] -> [2m].
  const at::Tensor last = lastTokenPositions(batch.attention_mask);
  const at::Tensor rows_index = torch::arange(hidden.size(0), last.options());
  return model_->values(hidden.index({rows_index, last}));
}

ObjectiveOutput BradleyTerryObjective::forward(const std::vector<int64_t>& indices) {
  ObjectiveOutput out;
  const auto m = static_cast<int64_t>(indices.size());
  const at::Tensor r = rewards(train_, indices, &out.tokens);
  const at::Tensor chosen = r.narrow(0, 0, m), rejected = r.narrow(0, m, m);
  out.loss_sum = gram::bradleyTerryLoss(chosen, rejected).sum();
  const at::Tensor margin = (chosen - rejected).detach();
  out.metrics = {
      {"accuracy", (margin > 0).sum().item<double>(), static_cast<double>(m)},
      {"margin", margin.sum().item<double>(), static_cast<double>(m)},
  };
  return out;
}

std::vector<MetricSum> BradleyTerryObjective::evaluate(int rank, int world_size) {
  if (eval_.empty()) return {};
  MetricSum loss{"loss", 0, 0}, accuracy{"accuracy", 0, 0}, margin{"margin", 0, 0};
  std::vector<int64_t> mine;
  for (int64_t i = rank; i < static_cast<int64_t>(eval_.size()); i += world_size) mine.push_back(i);
  const auto chunk = static_cast<size_t>(std::max<int64_t>(1, options_.eval_batch_size));
  for (size_t start = 0; start < mine.size(); start += chunk) {
    const size_t end = std::min(mine.size(), start + chunk);
    const std::vector<int64_t> indices(mine.begin() + static_cast<std::ptrdiff_t>(start),
                                       mine.begin() + static_cast<std::ptrdiff_t>(end));
    const auto m = static_cast<int64_t>(indices.size());
    const at::Tensor r = rewards(eval_, indices, nullptr).to(torch::kCPU);
    const at::Tensor chosen = r.narrow(0, 0, m), rejected = r.narrow(0, m, m);
    loss.sum += gram::bradleyTerryLoss(chosen, rejected).sum().item<double>();
    accuracy.sum += (chosen > rejected).sum().item<double>();
    margin.sum += (chosen - rejected).sum().item<double>();
    for (MetricSum* s : {&loss, &accuracy, &margin}) s->count += static_cast<double>(m);
  }
  return {loss, accuracy, margin};
}

}  // namespace gramrl
