#include "learner/engine/sequence_batch.h"

#include <algorithm>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/data/jsonl_data.h"
#include "common/model/transformer.h"
#include "common/tokenizer/chat_template.h"
#include "common/tokenizer/tokenizer.h"

namespace gramrl {

ChatEncoder::ChatEncoder(const tokenizer::Tokenizer& tokenizer, std::string template_name, int64_t max_prompt_tokens,
                         int64_t max_response_tokens)
    : tokenizer_(tokenizer),
      template_name_(std::move(template_name)),
      max_prompt_tokens_(max_prompt_tokens),
      max_response_tokens_(max_response_tokens) {
  const char* eot = tokenizer::chatEndOfTurnToken(template_name_);
  const auto id = tokenizer_.tokenToId(eot);
  GRAMRL_CHECK(id.has_value(), DataError, "tokenizer {} has no '{}' token, which chat template '{}' ends turns with",
               tokenizer_.source(), eot, template_name_);
  end_of_turn_ = *id;
}

std::vector<int64_t> ChatEncoder::prompt(const std::optional<std::string>& system, const std::string& user) const {
  tokenizer::ChatMessages messages;
  messages.system = system;
  messages.user = user;
  const auto ids = tokenizer::encodeChat(tokenizer_, template_name_, messages);
  const size_t keep = std::min(ids.size(), static_cast<size_t>(max_prompt_tokens_));
  return std::vector<int64_t>(ids.end() - static_cast<std::ptrdiff_t>(keep), ids.end());
}

std::vector<int64_t> ChatEncoder::response(const std::string& text) const {
  const auto ids = tokenizer_.encode(text, /*add_special_tokens=*/false);
  std::vector<int64_t> out(ids.begin(), ids.end());
  out.push_back(end_of_turn_);
  if (static_cast<int64_t>(out.size()) > max_response_tokens_) out.resize(static_cast<size_t>(max_response_tokens_));
  return out;
}

std::vector<PromptResponsePair> encodePreferencePairs(const std::vector<data::PreferencePair>& pairs,
                                                      const ChatEncoder& encoder) {
  std::vector<PromptResponsePair> out;
  out.reserve(pairs.size());
  for (const auto& p : pairs) {
    PromptResponsePair t;
    t.chosen.prompt = encoder.prompt(p.system, p.prompt);
    t.rejected.prompt = t.chosen.prompt;
    t.chosen.response = encoder.response(p.chosen);
    t.rejected.response = encoder.response(p.rejected);
    out.push_back(std::move(t));
  }
  return out;
}

SequenceBatch makeSequenceBatch(const std::vector<const PromptResponse*>& rows, int64_t pad_id, at::Device device) {
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
