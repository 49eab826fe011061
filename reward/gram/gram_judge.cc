#include "reward/gram/gram_judge.h"

#include <algorithm>
#include <numeric>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/transformer.h"
#include "reward/gram/label_logits.h"

namespace gramrl::gram {

GramJudge::GramJudge(std::shared_ptr<Transformer> model, JudgeEncoder encoder, int64_t batch_size)
    : model_(std::move(model)), encoder_(std::move(encoder)), batch_size_(batch_size) {
  GRAMRL_ASSERT(model_ != nullptr);
  GRAMRL_CHECK(batch_size_ >= 1, ConfigError, "GRAM judge: batch_size must be at least 1, got {}", batch_size_);
  const int64_t vocab = model_->config().vocab_size;
  GRAMRL_CHECK(encoder_.labelA() < vocab && encoder_.labelB() < vocab, ConfigError,
               "GRAM judge: the label tokens A={} and B={} are outside the model's vocabulary of {}", encoder_.labelA(),
               encoder_.labelB(), vocab);
}

std::vector<double> GramJudge::margins(const std::vector<JudgeQuery>& queries) {
  std::vector<std::vector<int64_t>> prompts;
  prompts.reserve(queries.size());
  for (const auto& q : queries)
    prompts.push_back(encoder_.judgePrompt(q.question, q.response_a, q.response_b, q.system));
  return marginsOfPrompts(prompts);
}

std::vector<double> GramJudge::marginsOfPrompts(const std::vector<std::vector<int64_t>>& prompts) {
  std::vector<double> out(prompts.size());
  std::vector<size_t> order(prompts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return prompts[x].size() > prompts[y].size(); });

  torch::NoGradGuard no_grad;
  for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(batch_size_)) {
    const size_t end = std::min(order.size(), begin + static_cast<size_t>(batch_size_));
    const auto rows = static_cast<int64_t>(end - begin);
    std::vector<const std::vector<int64_t>*> batch;
    for (size_t k = begin; k < end; ++k) batch.push_back(&prompts[order[k]]);
    // NOTE [One label-logit function]: the stage-2 objective trains on the same computation.
    const at::Tensor z =
        labelLogits(*model_, batch, encoder_.labelA(), encoder_.labelB()).to(torch::kCPU, torch::kDouble).contiguous();
    auto z_a = z.accessor<double, 2>();
    for (int64_t r = 0; r < rows; ++r) out[order[begin + static_cast<size_t>(r)]] = z_a[r][0] - z_a[r][1];
  }
  return out;
}

std::vector<double> GramJudge::preferenceProbabilities(const std::vector<JudgeQuery>& queries, bool debias) {
  std::vector<JudgeQuery> all = queries;
  if (debias) {
    for (const auto& q : queries) all.push_back({q.system, q.question, q.response_b, q.response_a});
  }
  const std::vector<double> m = margins(all);
  std::vector<double> p(queries.size());
  for (size_t k = 0; k < queries.size(); ++k) {
    p[k] = debias ? combineOrders(m[k], m[k + queries.size()]) : sigmoid(m[k]);
  }
  return p;
}

std::vector<double> GramJudge::pointwiseRewards(const std::vector<PointwiseQuery>& queries,
                                                const std::string& transform, bool debias) {
  const RewardTransform t = parseRewardTransform(transform);  // before any model work
  std::vector<JudgeQuery> pairs;
  pairs.reserve(queries.size());
  for (const auto& q : queries) pairs.push_back({q.system, q.question, q.response, q.reference});
  std::vector<double> r = preferenceProbabilities(pairs, debias);
  for (double& v : r) v = transformReward(v, t);
  return r;
}

PairwiseComparator makeComparator(GramJudge& judge, const std::optional<std::string>& system,
                                  const std::string& question, const std::vector<std::string>& candidates,
                                  bool debias) {
  return [&judge, &system, &question, &candidates, debias](const std::vector<IndexPair>& pairs) {
    std::vector<JudgeQuery> queries;
    queries.reserve(pairs.size());
    for (const auto& p : pairs) {
      GRAMRL_ASSERT(p.i >= 0 && p.j >= 0 && static_cast<size_t>(std::max(p.i, p.j)) < candidates.size());
      queries.push_back({system, question, candidates[static_cast<size_t>(p.i)], candidates[static_cast<size_t>(p.j)]});
    }
    return judge.preferenceProbabilities(queries, debias);
  };
}

}  // namespace gramrl::gram
