#include "learner/engine/target_nll_objective.h"

#include <algorithm>
#include <utility>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/transformer.h"

namespace gramrl {
namespace {

// Summed NLL of the target tokens of the examples at `indices`, and the token counts.
ResponseLogProbs targetLogProbs(const Transformer& model, const std::vector<tokenizer::PromptResponse>& examples,
                                const std::vector<int64_t>& indices, int64_t pad_id, int64_t* tokens) {
  std::vector<const tokenizer::PromptResponse*> rows;
  rows.reserve(indices.size());
  for (int64_t i : indices) rows.push_back(&examples[static_cast<size_t>(i)]);
  const SequenceBatch batch = makeSequenceBatch(rows, pad_id, model.device());
  if (tokens != nullptr) *tokens = batch.tokens;
  return responseLogProbs(model, batch);
}

}  // namespace

TargetNllObjective::TargetNllObjective(std::string name, std::string what, std::shared_ptr<Transformer> model,
                                       std::vector<tokenizer::PromptResponse> train,
                                       std::vector<tokenizer::PromptResponse> eval, TargetNllOptions options)
    : name_(std::move(name)),
      model_(std::move(model)),
      train_(std::move(train)),
      eval_(std::move(eval)),
      options_(options) {
  GRAMRL_ASSERT(model_ != nullptr);
  for (auto* set : {&train_, &eval_}) {
    for (size_t i = 0; i < set->size(); ++i) {
      // An empty prompt would leave the first target token unpredicted (makeSequenceBatch), and
      // normaliser() would then count a token the loss does not contain.
      GRAMRL_CHECK(!(*set)[i].prompt.empty() && !(*set)[i].response.empty(), DataError,
                   "{} {} example {}: empty prompt or target after encoding", what,
                   set == &train_ ? "training" : "evaluation", i);
    }
  }
}

double TargetNllObjective::normaliser(const std::vector<int64_t>& indices) {
  double tokens = 0;
  for (int64_t i : indices) tokens += static_cast<double>(train_[static_cast<size_t>(i)].response.size());
  return tokens;
}

ObjectiveOutput TargetNllObjective::forward(const std::vector<int64_t>& indices) {
  ObjectiveOutput out;
  const ResponseLogProbs lp = targetLogProbs(*model_, train_, indices, options_.pad_id, &out.tokens);
  out.loss_sum = -lp.sum.sum();
  out.metrics = {{"nll", out.loss_sum.detach().item<double>(), lp.count.sum().item<double>()}};
  return out;
}

std::vector<MetricSum> TargetNllObjective::evaluate(int rank, int world_size) {
  if (eval_.empty()) return {};
  MetricSum loss{"loss", 0, 0};
  std::vector<int64_t> mine;
  for (int64_t i = rank; i < static_cast<int64_t>(eval_.size()); i += world_size) mine.push_back(i);
  const auto chunk = static_cast<size_t>(std::max<int64_t>(1, options_.eval_batch_size));
  for (size_t start = 0; start < mine.size(); start += chunk) {
    const size_t end = std::min(mine.size(), start + chunk);
    const std::vector<int64_t> indices(mine.begin() + static_cast<std::ptrdiff_t>(start),
                                       mine.begin() + static_cast<std::ptrdiff_t>(end));
    const ResponseLogProbs lp = targetLogProbs(*model_, eval_, indices, options_.pad_id, nullptr);
    loss.sum -= lp.sum.sum().item<double>();
    loss.count += lp.count.sum().item<double>();
  }
  return {loss};
}

}  // namespace gramrl
