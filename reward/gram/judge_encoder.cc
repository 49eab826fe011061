#include "reward/gram/judge_encoder.h"

#include <algorithm>

#include "common/core/errors.h"
#include "common/tokenizer/chat_template.h"
#include "common/tokenizer/tokenizer.h"

namespace gramrl::gram {
namespace {

int64_t singleToken(const tokenizer::Tokenizer& tok, const char* label) {
  const auto ids = tok.encode(label, /*add_special_tokens=*/false);
  GRAMRL_CHECK(ids.size() == 1, ConfigError,
               "GRAM reads the logit of the label \"{}\", which must be exactly one token, but tokenizer {} splits it "
               "into {} tokens",
               label, tok.source(), ids.size());
  return ids[0];
}

template <class Fits>
void shrinkResponses(std::string& a, std::string& b, const Fits& fits) {
  const std::string full_a = a, full_b = b;
  double fraction = 1.0;
  while (!fits(a, b)) {
    GRAMRL_CHECK(!(a.empty() && b.empty()), DataError,
                 "the judge input does not fit reward.max_tokens even with both responses cut to nothing: the "
                 "question is too long");
    fraction *= 0.9;
    a = cutToFraction(full_a, fraction);
    b = cutToFraction(full_b, fraction);
    if (fraction < 1e-3) {
      a.clear();
      b.clear();
    }
  }
}

}  // namespace

std::string cutToFraction(std::string_view text, double fraction) {
  size_t n = static_cast<size_t>(static_cast<double>(text.size()) * std::clamp(fraction, 0.0, 1.0));
  // Back off continuation bytes (10xxxxxx) so no character is split.
  while (n > 0 && n < text.size() && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return std::string(text.substr(0, n));
}

JudgeEncoder::JudgeEncoder(const tokenizer::Tokenizer& tokenizer, std::string chat_template,
                           const JudgeTemplate& judge_template, int64_t max_tokens)
    : tokenizer_(tokenizer),
      chat_template_(std::move(chat_template)),
      template_(judge_template),
      max_tokens_(max_tokens),
      label_a_(singleToken(tokenizer, kLabelA)),
      label_b_(singleToken(tokenizer, kLabelB)) {
  const char* eot = tokenizer::chatEndOfTurnToken(chat_template_);
  const auto id = tokenizer_.tokenToId(eot);
  GRAMRL_CHECK(id.has_value(), ConfigError, "tokenizer {} has no '{}' token, which chat template '{}' ends turns with",
               tokenizer_.source(), eot, chat_template_);
  const auto turn_end = tokenizer_.encode(tokenizer::chatTrainedTurnEnd(chat_template_), /*add_special_tokens=*/false);
  turn_end_.assign(turn_end.begin(), turn_end.end());
  GRAMRL_ASSERT(!turn_end_.empty() && turn_end_.front() == *id, "the trained turn end of '{}' starts with '{}'",
                chat_template_, eot);
}

std::vector<int64_t> JudgeEncoder::encodeUser(const std::string& user, const std::optional<std::string>& system) const {
  tokenizer::ChatMessages m;
  m.system = system;
  m.user = user;
  const auto ids = tokenizer::encodeChat(tokenizer_, chat_template_, m);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::vector<int64_t> JudgeEncoder::judgePrompt(std::string_view x, std::string_view y_a, std::string_view y_b,
                                               const std::optional<std::string>& system) const {
  std::string a(y_a), b(y_b);
  std::vector<int64_t> ids;
  shrinkResponses(a, b, [&](const std::string& ca, const std::string& cb) {
    ids = encodeUser(renderJudgePrompt(template_, x, ca, cb), system);
    return static_cast<int64_t>(ids.size()) <= max_tokens_;
  });
  return ids;
}

EncodedStage1 JudgeEncoder::stage1(std::string_view x, std::string_view y_a, std::string_view y_b,
                                   const std::optional<std::string>& system) const {
  std::string a(y_a), b(y_b);
  EncodedStage1 out;
  shrinkResponses(a, b, [&](const std::string& ca, const std::string& cb) {
    const Stage1Text text = renderStage1(template_, x, ca, cb);
    out.prompt = encodeUser(text.user, system);
    const auto target = tokenizer_.encode(text.assistant, /*add_special_tokens=*/false);
    out.target.assign(target.begin(), target.end());
    out.target.insert(out.target.end(), turn_end_.begin(), turn_end_.end());
    return static_cast<int64_t>(out.prompt.size() + out.target.size()) <= max_tokens_;
  });
  return out;
}

}  // namespace gramrl::gram
