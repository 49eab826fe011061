#include "common/model/sequence_batch.h"

#include <algorithm>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/transformer.h"

namespace gramrl {

SequenceBatch makeSequenceBatch(const std::vector<const tokenizer::PromptResponse*>& rows, int64_t pad_id,
                                at::Device device) {
  GRAMRL_ASSERT(!rows.empty());
  int64_t width = 2;
  for (const auto* r : rows)
    width = std::max<int64_t>(width, static_cast<int64_t>(r->prompt.size() + r->response.size()));
  const auto b = static_cast<int64_t>(rows.size());
  at::Tensor ids = torch::full({b, width}, pad_id, torch::kInt64);
  at::Tensor mask = torch::zeros({b, width}, torch::kInt64);
  at::Tensor target = torch::zeros({b, width - 1}, torch::kBool);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<int64_t, 2>();
  auto target_a = target.accessor<bool, 2>();
  SequenceBatch out;
  for (int64_t i = 0; i < b; ++i) {
    const auto& p = rows[static_cast<size_t>(i)]->prompt;
    const auto& r = rows[static_cast<size_t>(i)]->response;
    int64_t t = 0;
    for (int64_t id : p) ids_a[i][t++] = id;
    for (int64_t id : r) {
      // Position t - 1 predicts token t; a response with no prompt cannot predict its first token.
      if (t > 0) target_a[i][t - 1] = true;
      ids_a[i][t++] = id;
    }
    for (int64_t k = 0; k < t; ++k) mask_a[i][k] = 1;
    out.tokens += t;
  }
  out.input_ids = ids.to(device);
  out.attention_mask = mask.to(device);
  out.target_mask = target.to(device);
  return out;
}

ResponseLogProbs responseLogProbs(const Transformer& model, const SequenceBatch& batch) {
  const at::Tensor hidden = model.forward(batch.input_ids, batch.attention_mask);
  const int64_t t = batch.input_ids.size(1);
  const at::Tensor logps =
      model.tokenLogProbs(hidden.narrow(1, 0, t - 1), batch.input_ids.narrow(1, 1, t - 1), batch.target_mask);
  ResponseLogProbs out;
  out.sum = logps.sum(1);
  out.count = batch.target_mask.sum(1).to(torch::kFloat);
  return out;
}

}  // namespace gramrl
