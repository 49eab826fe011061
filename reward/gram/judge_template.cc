#include "reward/gram/judge_template.h"

#include "common/core/errors.h"

namespace gramrl::gram {
namespace {

// Verbatim from the official template (gram-paper.md section 1.2); line breaks are significant.
constexpr char kOfficialInstruction[] =
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the "
    "user question displayed below. You should choose the assistant that follows the user's instructions and answers "
    "the user's question better.\n"
    "Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and "
    "level of detail of their responses. Avoid any position biases and ensure that the order in which the responses "
    "were presented does not influence your decision. Do not allow the length of the responses to influence your "
    "evaluation. Do not favor certain names of the assistants. Be as objective as possible.\n"
    "Please directly output your final verdict by strictly following this format: \"A\" if assistant A is better, "
    "\"B\" if assistant B is better."
    "\n\n";

JudgeTemplate makeOfficial() {
  JudgeTemplate t;
  t.name = "official";
  t.instruction = kOfficialInstruction;
  t.question_prefix = "[User Question]\n";
  t.question_suffix = "\n\n";
  t.a_prefix = "[The Start of Assistant A's Answer]\n";
  t.a_suffix = "\n[The End of Assistant A's Answer]\n\n";
  t.b_prefix = "[The Start of Assistant B's Answer]\n";
  t.b_suffix = "\n[The End of Assistant B's Answer]\n\n";
  t.tail = "#Preferred:";
  return t;
}

// gram_eval.py's prompt: the same, with a space after "#Preferred:".
JudgeTemplate makeOfficialEval() {
  JudgeTemplate t = makeOfficial();
  t.name = "official-eval";
  t.tail = "#Preferred: ";
  return t;
}

JudgeTemplate makeCompact() {
  JudgeTemplate t;
  t.name = "compact";
  t.question_prefix = "Q:";
  t.question_suffix = "\n";
  t.a_prefix = "A:";
  t.a_suffix = "\n";
  t.b_prefix = "B:";
  t.b_suffix = "\n";
  t.tail = "#:";
  return t;
}

std::string trimTrailingBlankLine(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

const std::vector<std::string>& judgeTemplateNames() {
  static const std::vector<std::string> names{"official", "official-eval", "compact"};
  return names;
}

const JudgeTemplate& judgeTemplate(std::string_view name) {
  static const JudgeTemplate official = makeOfficial();
  static const JudgeTemplate official_eval = makeOfficialEval();
  static const JudgeTemplate compact = makeCompact();
  if (name == "official") return official;
  if (name == "official-eval") return official_eval;
  if (name == "compact") return compact;
  GRAMRL_CHECK(false, ConfigError, "reward.gram.template: expected official, official-eval or compact, got '{}'", name);
  return official;
}

std::string renderJudgePrompt(const JudgeTemplate& t, std::string_view x, std::string_view y_a, std::string_view y_b) {
  std::string s = t.instruction;
  s.append(t.question_prefix).append(x).append(t.question_suffix);
  s.append(t.a_prefix).append(y_a).append(t.a_suffix);
  s.append(t.b_prefix).append(y_b).append(t.b_suffix);
  s.append(t.tail);
  return s;
}

Stage1Text renderStage1(const JudgeTemplate& t, std::string_view x, std::string_view y_a, std::string_view y_b) {
  Stage1Text out;
  out.user.append(t.question_prefix).append(x).append(t.question_suffix);
  std::string a;
  a.append(t.a_prefix).append(y_a).append(t.a_suffix);
  a.append(t.b_prefix).append(y_b).append(t.b_suffix);
  out.assistant = trimTrailingBlankLine(std::move(a));
  return out;
}

}  // namespace gramrl::gram
