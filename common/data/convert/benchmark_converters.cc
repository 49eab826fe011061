// Converters of the evaluation sets: RewardBench, JudgeBench and AlpacaEval (docs/data.md lists
// each data set's fields and where they were checked).
#include <algorithm>

#include "common/core/errors.h"
#include "common/data/convert/conversation.h"
#include "common/data/convert/dataset_converter.h"

namespace gramrl::data::convert {
namespace {

using detail::RowView;
using Winner = Comparison::Winner;

// allenai/reward-bench (split "filtered"): {"prompt", "chosen", "chosen_model", "rejected",
// "rejected_model", "subset", "id"}. The subset is the category, which `gram eval --benchmark
// rewardbench` groups into sections (reward/gram/benchmark_scores.h).
class RewardBenchConverter final : public DatasetConverter {
 public:
  std::string_view name() const override { return "rewardbench"; }
  std::string_view dataset() const override { return "allenai/reward-bench"; }
  std::vector<Product> products() const override { return {Product::kPairs, Product::kPrompts}; }
  ConvertedRow convert(const nlohmann::json& json, const std::string& source) const override {
    RowView row(json, source);
    ConvertedRow out;
    out.prompt_turns = {Turn{"user", row.requireString("prompt")}};
    out.prompt_field = "prompt";
    Comparison c;
    c.a = row.requireString("chosen");
    c.b = row.requireString("rejected");
    c.winner = Winner::kA;
    c.a_field = "chosen";
    c.b_field = "rejected";
    c.label_field = "chosen";
    out.comparison = std::move(c);
    out.category = row.requireString("subset");
    out.id = idText(row.find("id"));
    return out;
  }
};

// ScalerLab/JudgeBench (splits "gpt", "claude"): {"pair_id", "original_id", "source",
// "question", "response_model", "response_A", "response_B", "label": "A>B" | "B>A"}. The source
// (mmlu-pro-*, livebench-reasoning, livebench-math, livecodebench) is the category.
class JudgeBenchConverter final : public DatasetConverter {
 public:
  std::string_view name() const override { return "judgebench"; }
  std::string_view dataset() const override { return "ScalerLab/JudgeBench"; }
  std::vector<Product> products() const override { return {Product::kPairs, Product::kPrompts}; }
  ConvertedRow convert(const nlohmann::json& json, const std::string& source) const override {
    RowView row(json, source);
    ConvertedRow out;
    out.prompt_turns = {Turn{"user", row.requireString("question")}};
    out.prompt_field = "question";
    Comparison c;
    c.a = row.requireString("response_A");
    c.b = row.requireString("response_B");
    c.a_field = "response_A";
    c.b_field = "response_B";
    c.label_field = "label";
    const std::string label = row.requireString("label");
    if (label == "A>B") {
      c.winner = Winner::kA;
    } else if (label == "B>A") {
      c.winner = Winner::kB;
    } else if (label == "A=B") {
      c.winner = Winner::kTie;
      c.tie_detail = "label A=B";
    } else {
      row.fail("label", fmt::format("unknown label '{}': expected \"A>B\" or \"B>A\"", label));
    }
    out.comparison = std::move(c);
    out.category = row.requireString("source");
    out.id = idText(row.find("pair_id"));
    return out;
  }
};

// tatsu-lab/alpaca_eval (config "alpaca_eval", split "eval"): {"instruction", "output",
// "generator", "dataset"}. The instruction is the prompt; the reference output is the prompts
// product's reference and the demonstration of the sft product.
class AlpacaEvalConverter final : public DatasetConverter {
 public:
  std::string_view name() const override { return "alpacaeval"; }
  std::string_view dataset() const override { return "tatsu-lab/alpaca_eval"; }
  std::vector<Product> products() const override { return {Product::kPrompts, Product::kSft}; }
  ConvertedRow convert(const nlohmann::json& json, const std::string& source) const override {
    RowView row(json, source);
    ConvertedRow out;
    out.prompt_turns = {Turn{"user", row.requireString("instruction")}};
    out.prompt_field = "instruction";
    if (std::optional<std::string> output = row.optionalString("output")) {
      out.reference = *output;
      out.demonstration = std::move(*output);
      out.demonstration_field = "output";
    }
    out.category = row.optionalString("dataset").value_or("");
    return out;
  }
};

}  // namespace

const DatasetConverter& rewardBenchConverter() {
  static const RewardBenchConverter converter;
  return converter;
}
const DatasetConverter& judgeBenchConverter() {
  static const JudgeBenchConverter converter;
  return converter;
}
const DatasetConverter& alpacaEvalConverter() {
  static const AlpacaEvalConverter converter;
  return converter;
}

}  // namespace gramrl::data::convert
