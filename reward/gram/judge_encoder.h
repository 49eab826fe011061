// Token ids of GRAM's inputs: the judge prompt (scoring, stage 2) and the stage-1 example, in
// the judge's chat template (NOTE [GRAM templates] in judge_template.h).
//
// NOTE [Fitting the judge input]
// A judge prompt longer than max_tokens keeps the template, the question and both tags, and
// cuts the two responses: each is cut to the same share of its length (at a UTF-8 character
// boundary, from the end, as LLaMA-Factory cuts the tail of each part) until the whole fits.
// The question itself is never cut; a question that alone does not fit is a DataError. Stage-1
// examples are cut the same way (both responses shortened proportionally).
//
// Threads: const methods; safe from any thread. Throws ConfigError when "A" or "B" is not
// exactly one token of the tokenizer (GRAM reads their logits), DataError as above.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reward/gram/judge_template.h"

namespace gramrl::tokenizer {
class Tokenizer;
}

namespace gramrl::gram {

struct EncodedStage1 {
  std::vector<int64_t> prompt;  // chat rendering of question(x) with the generation prompt (masked)
  std::vector<int64_t> target;  // answer_a + answer_b, then the end of the turn (trained): the
                                // end-of-turn token, or "<|im_end|>\n" with qwen3-train
};

class JudgeEncoder {
 public:
  JudgeEncoder(const tokenizer::Tokenizer& tokenizer, std::string chat_template, const JudgeTemplate& judge_template,
               int64_t max_tokens);

  // The judge prompt for (x, y_a, y_b), ending with the generation prompt: the label token is
  // predicted at its last position.
  std::vector<int64_t> judgePrompt(std::string_view x, std::string_view y_a, std::string_view y_b,
                                   const std::optional<std::string>& system = std::nullopt) const;
  EncodedStage1 stage1(std::string_view x, std::string_view y_a, std::string_view y_b,
                       const std::optional<std::string>& system = std::nullopt) const;

  int64_t labelA() const { return label_a_; }
  int64_t labelB() const { return label_b_; }
  const std::string& chatTemplate() const { return chat_template_; }
  const JudgeTemplate& judgeTemplate() const { return template_; }
  int64_t maxTokens() const { return max_tokens_; }

 private:
  std::vector<int64_t> encodeUser(const std::string& user, const std::optional<std::string>& system) const;

  const tokenizer::Tokenizer& tokenizer_;
  std::string chat_template_;
  JudgeTemplate template_;
  int64_t max_tokens_;
  int64_t label_a_;
  int64_t label_b_;
  std::vector<int64_t> turn_end_;  // what a stage-1 target ends with (tokenizer::chatTrainedTurnEnd)
};

// The first `fraction` of `text` (0..1 of its bytes), cut back to a UTF-8 character boundary.
std::string cutToFraction(std::string_view text, double fraction);

}  // namespace gramrl::gram
