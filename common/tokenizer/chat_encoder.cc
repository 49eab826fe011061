#include "common/tokenizer/chat_encoder.h"

#include <algorithm>

#include "common/core/errors.h"
#include "common/tokenizer/chat_template.h"
#include "common/tokenizer/tokenizer.h"

namespace gramrl::tokenizer {
namespace {

// The last max_tokens ids: a prompt loses its beginning, never the generation prompt at its end.
std::vector<int64_t> keepLast(const std::vector<TokenId>& ids, int64_t max_tokens) {
  const size_t keep = std::min(ids.size(), static_cast<size_t>(std::max<int64_t>(max_tokens, 0)));
  return std::vector<int64_t>(ids.end() - static_cast<std::ptrdiff_t>(keep), ids.end());
}

}  // namespace

ChatEncoder::ChatEncoder(const Tokenizer& tokenizer, std::string template_name, int64_t max_prompt_tokens,
                         int64_t max_response_tokens)
    : tokenizer_(tokenizer),
      template_name_(std::move(template_name)),
      max_prompt_tokens_(max_prompt_tokens),
      max_response_tokens_(max_response_tokens) {
  const char* eot = chatEndOfTurnToken(template_name_);
  const auto id = tokenizer_.tokenToId(eot);
  GRAMRL_CHECK(id.has_value(), DataError, "tokenizer {} has no '{}' token, which chat template '{}' ends turns with",
               tokenizer_.source(), eot, template_name_);
  end_of_turn_ = *id;
}

std::vector<int64_t> ChatEncoder::prompt(const std::optional<std::string>& system, const std::string& user) const {
  ChatMessages messages;
  messages.system = system;
  messages.user = user;
  return keepLast(encodeChat(tokenizer_, template_name_, messages), max_prompt_tokens_);
}

std::vector<int64_t> ChatEncoder::response(const std::string& text) const {
  const auto ids = tokenizer_.encode(text, /*add_special_tokens=*/false);
  std::vector<int64_t> out(ids.begin(), ids.end());
  out.push_back(end_of_turn_);
  if (static_cast<int64_t>(out.size()) > max_response_tokens_) out.resize(static_cast<size_t>(max_response_tokens_));
  return out;
}

std::vector<int64_t> encodeRawPrompt(const Tokenizer& tokenizer, const std::string& text, int64_t max_prompt_tokens) {
  return keepLast(tokenizer.encode(text, /*add_special_tokens=*/true), max_prompt_tokens);
}

}  // namespace gramrl::tokenizer
