#include "reward/gram/scalar_scorers.h"

#include <algorithm>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/output_heads.h"
#include "common/model/transformer.h"
#include "common/tokenizer/tokenizer.h"

namespace gramrl::gram {
namespace {

// Runs `score_batch` over `rows` in batches of at most batch_size rows, sorted by length so rows
// of similar length share a batch, and returns one score per row in the given order.
template <class ScoreBatch>
std::vector<double> scoreSorted(const std::vector<tokenizer::PromptResponse>& rows, int64_t batch_size,
                                const ScoreBatch& score_batch) {
  std::vector<size_t> order(rows.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  const auto length = [&](size_t k) { return rows[k].prompt.size() + rows[k].response.size(); };
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return length(x) > length(y); });
  std::vector<double> out(rows.size());
  torch::NoGradGuard no_grad;
  for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(order.size(), begin + static_cast<size_t>(batch_size));
    std::vector<const tokenizer::PromptResponse*> batch;
    for (size_t k = begin; k < end; ++k) batch.push_back(&rows[order[k]]);
    const at::Tensor s = score_batch(batch).to(torch::kCPU, torch::kDouble).contiguous();
    GRAMRL_ASSERT(s.dim() == 1 && s.size(0) == static_cast<int64_t>(batch.size()));
    const double* data = s.data_ptr<double>();
    for (size_t k = begin; k < end; ++k) out[order[k]] = data[k - begin];
  }
  return out;
}

}  // namespace

BradleyTerryScorer::BradleyTerryScorer(std::shared_ptr<Transformer> model, tokenizer::ChatEncoder encoder,
                                       int64_t batch_size)
    : model_(std::move(model)), encoder_(std::move(encoder)), batch_size_(batch_size) {
  GRAMRL_ASSERT(model_ != nullptr);
  GRAMRL_CHECK(model_->hasValueHead(), ConfigError,
               "Bradley-Terry scoring needs a model with a value head (value_head.* in the checkpoint)");
  GRAMRL_CHECK(batch_size_ >= 1, ConfigError, "Bradley-Terry scorer: batch_size must be at least 1, got {}",
               batch_size_);
}

std::vector<double> BradleyTerryScorer::scores(const std::vector<ScalarQuery>& queries) {
  std::vector<tokenizer::PromptResponse> rows;
  rows.reserve(queries.size());
  for (const auto& q : queries) rows.push_back({encoder_.prompt(q.system, q.prompt), encoder_.response(q.response)});
  return scoreSorted(rows, batch_size_, [&](const std::vector<const tokenizer::PromptResponse*>& batch) {
    const SequenceBatch b = makeSequenceBatch(batch, /*pad_id=*/0, model_->device());
    const at::Tensor values = model_->values(model_->forward(b.input_ids, b.attention_mask));  // [B, T]
    return values.gather(1, lastTokenPositions(b.attention_mask).unsqueeze(1)).squeeze(1);
  });
}

LikelihoodJudge::LikelihoodJudge(std::shared_ptr<Transformer> model, const tokenizer::Tokenizer& tokenizer,
                                 JudgeEncoder encoder, int64_t batch_size)
    : model_(std::move(model)), tokenizer_(tokenizer), encoder_(std::move(encoder)), batch_size_(batch_size) {
  GRAMRL_ASSERT(model_ != nullptr);
  GRAMRL_CHECK(batch_size_ >= 1, ConfigError, "likelihood judge: batch_size must be at least 1, got {}", batch_size_);
}

tokenizer::PromptResponse LikelihoodJudge::encode(const ScalarQuery& query) const {
  const JudgeTemplate& t = encoder_.judgeTemplate();
  tokenizer::PromptResponse out;
  out.prompt = encoder_.stage1(query.prompt, "", "", query.system).prompt;
  const auto answer = [&](const std::string& y) {
    const auto ids = tokenizer_.encode(t.a_prefix + y + t.a_suffix, /*add_special_tokens=*/false);
    return std::vector<int64_t>(ids.begin(), ids.end());
  };
  out.response = answer(query.response);
  // Cut y as NOTE [Fitting the judge input] does: the same 0.9 steps, at UTF-8 boundaries.
  const auto budget = encoder_.maxTokens() - static_cast<int64_t>(out.prompt.size());
  for (double fraction = 0.9; static_cast<int64_t>(out.response.size()) > budget; fraction *= 0.9) {
    GRAMRL_CHECK(fraction > 1e-4, DataError,
                 "likelihood judge: the stage-1 prompt and the answer tags do not fit max_tokens ({}) even with the "
                 "response cut to nothing",
                 encoder_.maxTokens());
    out.response = answer(cutToFraction(query.response, fraction));
  }
  return out;
}

std::vector<double> LikelihoodJudge::scores(const std::vector<ScalarQuery>& queries) {
  std::vector<tokenizer::PromptResponse> rows;
  rows.reserve(queries.size());
  for (const auto& q : queries) rows.push_back(encode(q));
  return scoreSorted(rows, batch_size_, [&](const std::vector<const tokenizer::PromptResponse*>& batch) {
    return responseLogProbs(*model_, makeSequenceBatch(batch, /*pad_id=*/0, model_->device())).sum;
  });
}

}  // namespace gramrl::gram
