// GRAM's judge prompt and stage-1 text, as the official code writes them
// (../shared/reference/gram-paper.md sections 1.2 and 2.2), plus a compact variant for the
// built-in toy models.
//
// NOTE [GRAM templates]
// A template is five pieces. The judge prompt (one user message, wrapped in the backbone's chat
// template with the generation prompt; the label token comes next) is
//   instruction + question(x) + answer_a(y_a) + answer_b(y_b) + tail
// and the stage-1 example is the user message question(x) with the assistant message
//   answer_a(y_a) + answer_b(y_b)   (trailing "\n\n" of the last answer dropped)
// official (byte-exact to gram_eval.py / the fine-tuning data card, with "#Preferred:" and no
// trailing space, as the training data has it):
//   instruction  the three-line impartial-judge instruction + "\n\n"
//   question     "[User Question]\n{x}\n\n"
//   answer_a     "[The Start of Assistant A's Answer]\n{y_a}\n[The End of Assistant A's Answer]\n\n"
//   answer_b     "[The Start of Assistant B's Answer]\n{y_b}\n[The End of Assistant B's Answer]\n\n"
//   tail         "#Preferred:"
// official-eval: the same with tail "#Preferred: " (a trailing space), as the official evaluation
//   script gram_eval.py writes it (a small train/test mismatch in the released code).
// compact (gramrl's, for byte-level toy models where the 700-byte instruction would be 20x the
// task; same structure, same label tokens):
//   instruction ""   question "Q:{x}\n"   answer_a "A:{y_a}\n"   answer_b "B:{y_b}\n"   tail "#:"
// The label tokens are "A" and "B" (no leading space: the assistant turn starts right after the
// generation prompt); each must be exactly one token of the judge's tokenizer (gram_judge.h
// checks it).
//
// Threads: pure functions. Throws ConfigError for an unknown template name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gramrl::gram {

struct JudgeTemplate {
  std::string name;
  std::string instruction;
  std::string question_prefix, question_suffix;  // around x
  std::string a_prefix, a_suffix;                // around y_a
  std::string b_prefix, b_suffix;                // around y_b
  std::string tail;
};

// "official", "official-eval" or "compact".
const JudgeTemplate& judgeTemplate(std::string_view name);
const std::vector<std::string>& judgeTemplateNames();

// The judge's user message for (x, y_a, y_b).
std::string renderJudgePrompt(const JudgeTemplate& t, std::string_view x, std::string_view y_a, std::string_view y_b);

struct Stage1Text {
  std::string user;       // question(x)
  std::string assistant;  // answer_a(y_a) + answer_b(y_b), without the trailing blank line
};
Stage1Text renderStage1(const JudgeTemplate& t, std::string_view x, std::string_view y_a, std::string_view y_b);

inline constexpr char kLabelA[] = "A";
inline constexpr char kLabelB[] = "B";

}  // namespace gramrl::gram
