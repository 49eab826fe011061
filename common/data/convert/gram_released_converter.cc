// The released GRAM data sets (wangclnlp/GRAM-pre-training-566k, wangclnlp/GRAM-fine-tuning-65k):
// LLaMA-Factory instruction rows {"instruction", "input", "output"} already rendered with GRAM's
// official judge template (gram-paper.md sections 2.2 and 3.4). They are parsed back into the
// question and the two answers, so that gramrl renders them itself (with any template option).
//   stage 1: instruction "[User Question]\n{x}\n\n", output "[The Start of Assistant A's Answer]\n
//            {y_a}\n[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\n{y_b}\n
//            [The End of Assistant B's Answer]": an unlabeled pair;
//   stage 2: instruction = the whole judge prompt (the instruction text, then the same tags,
//            ending "#Preferred:" with or without a space), output "A" or "B": a labelled pair.
#include <array>

#include "common/core/errors.h"
#include "common/data/convert/conversation.h"
#include "common/data/convert/dataset_converter.h"

namespace gramrl::data::convert {
namespace {

using detail::RowView;

constexpr std::string_view kQuestion = "[User Question]\n";
constexpr std::string_view kStartA = "[The Start of Assistant A's Answer]\n";
constexpr std::string_view kEndA = "\n[The End of Assistant A's Answer]\n\n";
constexpr std::string_view kStartB = "[The Start of Assistant B's Answer]\n";
constexpr std::string_view kEndB = "\n[The End of Assistant B's Answer]";

struct Answers {
  std::string a;
  std::string b;
};

// "[Start A]{a}[End A][Start B]{b}[End B]" followed by exactly `tail` (one of them).
Answers parseAnswers(const RowView& row, std::string_view text, const std::string& field,
                     std::initializer_list<std::string_view> tails) {
  if (text.substr(0, kStartA.size()) != kStartA) {
    row.fail(field, "expected \"[The Start of Assistant A's Answer]\\n\" here (the official GRAM template)");
  }
  const size_t end_a = text.find(kEndA, kStartA.size());
  if (end_a == std::string_view::npos || text.substr(end_a + kEndA.size(), kStartB.size()) != kStartB) {
    row.fail(field, "no \"[The End of Assistant A's Answer]\" followed by Assistant B's answer");
  }
  const size_t end_b = text.rfind(kEndB);
  const size_t b_begin = end_a + kEndA.size() + kStartB.size();
  if (end_b == std::string_view::npos || end_b < b_begin) {
    row.fail(field, "no \"[The End of Assistant B's Answer]\"");
  }
  const std::string_view rest = text.substr(end_b + kEndB.size());
  bool tail_ok = false;
  for (std::string_view tail : tails) tail_ok = tail_ok || rest == tail;
  if (!tail_ok) row.fail(field, "unexpected text after \"[The End of Assistant B's Answer]\"");
  return {std::string(text.substr(kStartA.size(), end_a - kStartA.size())),
          std::string(text.substr(b_begin, end_b - b_begin))};
}

class GramReleasedConverter final : public DatasetConverter {
 public:
  std::string_view name() const override { return "gram-released"; }
  std::string_view dataset() const override { return "wangclnlp/GRAM-pre-training-566k, GRAM-fine-tuning-65k"; }
  std::vector<Product> products() const override { return {Product::kUnlabeled, Product::kPairs, Product::kPrompts}; }
  ConvertedRow convert(const nlohmann::json& json, const std::string& source) const override {
    RowView row(json, source);
    ConvertedRow out;
    const std::string instruction = row.requireString("instruction");
    const std::string output = row.requireString("output");
    if (!row.optionalString("input").value_or("").empty()) {
      row.fail("input", "expected an empty input (GRAM's rows hold everything in 'instruction')");
    }
    const size_t q = instruction.find(kQuestion);
    if (q == std::string::npos) row.fail("instruction", "no \"[User Question]\\n\" (not a GRAM row)");
    const size_t x_begin = q + kQuestion.size();
    Comparison c;
    c.label_field = "output";
    if (output == "A" || output == "B") {
      // Stage 2: the question runs to the first answer tag.
      const size_t a = instruction.find(std::string("\n\n").append(kStartA), x_begin);
      if (a == std::string::npos)
        row.fail("instruction", "no \"[The Start of Assistant A's Answer]\" after the question");
      out.prompt_turns = {Turn{"user", instruction.substr(x_begin, a - x_begin)}};
      Answers answers = parseAnswers(row, std::string_view(instruction).substr(a + 2), "instruction",
                                     {"\n\n#Preferred:", "\n\n#Preferred: ", "\n\n"});
      c.a = std::move(answers.a);
      c.b = std::move(answers.b);
      c.winner = output == "A" ? Comparison::Winner::kA : Comparison::Winner::kB;
      c.a_field = c.b_field = "instruction";
    } else {
      // Stage 1: the instruction is the question alone.
      if (instruction.size() < x_begin + 2 || instruction.compare(instruction.size() - 2, 2, "\n\n") != 0) {
        row.fail("instruction", "expected \"[User Question]\\n{question}\\n\\n\" (a stage-1 row) or output A/B");
      }
      out.prompt_turns = {Turn{"user", instruction.substr(x_begin, instruction.size() - 2 - x_begin)}};
      Answers answers = parseAnswers(row, output, "output", {"", "\n", "\n\n"});
      c.a = std::move(answers.a);
      c.b = std::move(answers.b);
      c.winner = Comparison::Winner::kUnlabeled;
      c.a_field = c.b_field = "output";
    }
    out.prompt_field = "instruction";
    out.comparison = std::move(c);
    return out;
  }
};

}  // namespace

const DatasetConverter& gramReleasedConverter() {
  static const GramReleasedConverter converter;
  return converter;
}

}  // namespace gramrl::data::convert
