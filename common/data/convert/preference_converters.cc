// Converters of the preference data sets GRAM trains on (docs/data.md lists each data set's
// fields and where they were checked): Unified-Feedback, HH-RLHF, UltraFeedback binarized and the
// OpenAI TL;DR comparisons.
#include <cmath>

#include "common/core/errors.h"
#include "common/data/convert/conversation.h"
#include "common/data/convert/dataset_converter.h"

namespace gramrl::data::convert {
namespace {

using detail::RowView;
using Winner = Comparison::Winner;

const std::vector<Product> kPreferenceProducts = {Product::kPairs, Product::kUnlabeled, Product::kSft,
                                                  Product::kPrompts};

double requireNumber(const RowView& row, std::string_view key) {
  const nlohmann::json* value = row.find(key);
  if (!value) row.fail(key, "required field is missing");
  if (!value->is_number()) row.failType(key, "a number", *value);
  const double number = value->get<double>();
  if (!std::isfinite(number)) row.fail(key, "expected a finite number");
  return number;
}

// The higher rating wins; equal ratings are a tie.
Comparison ratedComparison(std::string a, std::string b, double rating_a, double rating_b, std::string a_key,
                           std::string b_key, std::string label_a, std::string label_b) {
  Comparison c;
  c.a = std::move(a);
  c.b = std::move(b);
  c.a_field = std::move(a_key);
  c.b_field = std::move(b_key);
  c.label_field = label_b;
  if (rating_a > rating_b) {
    c.winner = Winner::kA;
  } else if (rating_b > rating_a) {
    c.winner = Winner::kB;
  } else {
    c.winner = Winner::kTie;
    c.tie_detail = fmt::format("{} = {} = {}", label_a, label_b, rating_a);
  }
  return c;
}

// llm-blender/Unified-Feedback: {"id", "source", "conv_A": [messages], "conv_B": [messages],
// "conv_A_rating", "conv_B_rating", "num_turns"}. Both conversations share the prompt turns.
class UnifiedFeedbackConverter final : public DatasetConverter {
 public:
  std::string_view name() const override { return "unified-feedback"; }
  std::string_view dataset() const override { return "llm-blender/Unified-Feedback"; }
  std::vector<Product> products() const override { return kPreferenceProducts; }
  ConvertedRow convert(const nlohmann::json& json, const std::string& source) const override {
    RowView row(json, source);
    ConvertedRow out;
    for (const char* key : {"conv_A", "conv_B"}) {
      if (!row.has(key)) row.fail(key, "required field is missing");
    }
    SplitTurns a = splitFinalReply(row, messageTurns(row, *row.find("conv_A"), "conv_A"), "conv_A");
    SplitTurns b = splitFinalReply(row, messageTurns(row, *row.find("conv_B"), "conv_B"), "conv_B");
    out.prompt_turns = sharedPrompt(row, a, "conv_A", b, "conv_B");
    out.prompt_field = "conv_A";
    out.comparison =
        ratedComparison(std::move(a.response), std::move(b.response), requireNumber(row, "conv_A_rating"),
                        requireNumber(row, "conv_B_rating"), "conv_A", "conv_B", "conv_A_rating", "conv_B_rating");
    out.category = row.optionalString("source").value_or("");
    out.id = idText(row.find("id"));
    return out;
  }
};

// Anthropic/hh-rlhf: {"chosen": transcript, "rejected": transcript}; the transcripts share
// everything up to the final "\n\nAssistant:" and differ in the final reply.
class HhRlhfConverter final : public DatasetConverter {
 public:
  std::string_view name() const override { return "hh-rlhf"; }
  std::string_view dataset() const override { return "Anthropic/hh-rlhf"; }
  std::vector<Product> products() const override { return kPreferenceProducts; }
  ConvertedRow convert(const nlohmann::json& json, const std::string& source) const override {
    RowView row(json, source);
    ConvertedRow out;
    SplitTurns chosen = splitFinalReply(row, hhTranscriptTurns(row, row.requireString("chosen"), "chosen"), "chosen");
    SplitTurns rejected =
        splitFinalReply(row, hhTranscriptTurns(row, row.requireString("rejected"), "rejected"), "rejected");
    out.prompt_turns = sharedPrompt(row, chosen, "chosen", rejected, "rejected");
    out.prompt_field = "chosen";
    Comparison c;
    c.a = std::move(chosen.response);
    c.b = std::move(rejected.response);
    c.winner = Winner::kA;
    c.a_field = "chosen";
    c.b_field = "rejected";
    c.label_field = "chosen";
    out.comparison = std::move(c);
    return out;
  }
};

// HuggingFaceH4/ultrafeedback_binarized (splits train_prefs, test_prefs, ...): {"prompt",
// "prompt_id", "chosen": [messages], "rejected": [messages], "messages", "score_chosen",
// "score_rejected"}. Equal scores are a tie.
class UltrafeedbackConverter final : public DatasetConverter {
 public:
  std::string_view name() const override { return "ultrafeedback-binarized"; }
  std::string_view dataset() const override { return "HuggingFaceH4/ultrafeedback_binarized"; }
  std::vector<Product> products() const override { return kPreferenceProducts; }
  ConvertedRow convert(const nlohmann::json& json, const std::string& source) const override {
    RowView row(json, source);
    ConvertedRow out;
    for (const char* key : {"chosen", "rejected"}) {
      if (!row.has(key)) row.fail(key, "required field is missing");
    }
    SplitTurns chosen = splitFinalReply(row, messageTurns(row, *row.find("chosen"), "chosen"), "chosen");
    SplitTurns rejected = splitFinalReply(row, messageTurns(row, *row.find("rejected"), "rejected"), "rejected");
    out.prompt_turns = sharedPrompt(row, chosen, "chosen", rejected, "rejected");
    out.prompt_field = "chosen";
    if (std::optional<std::string> prompt = row.optionalString("prompt")) {
      // The prompt column repeats the (single) user message; a mismatch means a mangled row.
      const Turn* user = nullptr;
      int users = 0;
      for (const Turn& turn : out.prompt_turns) {
        if (turn.role == "user") user = (++users == 1) ? &turn : user;
      }
      if (users == 1 && user->content != *prompt) row.fail("prompt", "differs from the user message in 'chosen'");
    }
    const bool scored = row.has("score_chosen") || row.has("score_rejected");
    if (scored) {
      out.comparison =
          ratedComparison(std::move(chosen.response), std::move(rejected.response), requireNumber(row, "score_chosen"),
                          requireNumber(row, "score_rejected"), "chosen", "rejected", "score_chosen", "score_rejected");
    } else {
      Comparison c;
      c.a = std::move(chosen.response);
      c.b = std::move(rejected.response);
      c.winner = Winner::kA;
      c.a_field = "chosen";
      c.b_field = "rejected";
      c.label_field = "chosen";
      out.comparison = std::move(c);
    }
    out.id = idText(row.find("prompt_id"));
    return out;
  }
};

// openai/summarize_from_feedback, config "comparisons": {"info": {"id", "post", "title",
// "subreddit", "site", "article"}, "summaries": [{"text", "policy", "note"}, x2], "choice": 0|1,
// "worker", "batch", "split", "extra": {"confidence"}}. The prompt is the TL;DR query of Stiennon
// et al. as Huang et al. (2024, "The N+ implementation details of RLHF with PPO") format it:
// "SUBREDDIT: r/{subreddit}\n\nTITLE: {title}\n\nPOST: {post}\n\nTL;DR:"; CNN/DM rows (an
// article, no post) become "ARTICLE: {article}\n\nTL;DR:". Summaries lose their surrounding
// whitespace (the data has a leading space).
class TldrConverter final : public DatasetConverter {
 public:
  std::string_view name() const override { return "tldr"; }
  std::string_view dataset() const override { return "openai/summarize_from_feedback (comparisons)"; }
  std::vector<Product> products() const override { return kPreferenceProducts; }
  ConvertedRow convert(const nlohmann::json& json, const std::string& source) const override {
    RowView row(json, source);
    ConvertedRow out;
    const nlohmann::json* info = row.find("info");
    if (!info) row.fail("info", "required field is missing");
    if (!info->is_object()) row.failType("info", "an object", *info);
    RowView info_row(*info, source);
    auto infoString = [&](const char* key) -> std::optional<std::string> {
      const nlohmann::json* value = info_row.find(key);
      if (!value) return std::nullopt;
      if (!value->is_string()) row.failType(fmt::format("info.{}", key), "a string", *value);
      return value->get<std::string>();
    };
    std::string prompt;
    if (std::optional<std::string> post = infoString("post")) {
      const std::optional<std::string> title = infoString("title");
      const std::optional<std::string> subreddit = infoString("subreddit");
      if (!title) row.fail("info.title", "required field is missing (the row has a post)");
      if (!subreddit) row.fail("info.subreddit", "required field is missing (the row has a post)");
      prompt = fmt::format("SUBREDDIT: r/{}\n\nTITLE: {}\n\nPOST: {}\n\nTL;DR:", *subreddit, *title, *post);
      out.category = *subreddit;
    } else if (std::optional<std::string> article = infoString("article")) {
      prompt = fmt::format("ARTICLE: {}\n\nTL;DR:", *article);
      out.category = infoString("site").value_or("cnndm");
    } else {
      row.fail("info.post", "required field is missing: expected 'info.post' (Reddit) or 'info.article' (CNN/DM)");
    }
    out.prompt_turns = {Turn{"user", std::move(prompt)}};
    out.prompt_field = "info";
    const nlohmann::json* summaries = row.find("summaries");
    if (!summaries) row.fail("summaries", "required field is missing");
    if (!summaries->is_array() || summaries->size() != 2) {
      row.fail("summaries", fmt::format("expected a list of 2 summaries, got {}",
                                        summaries->is_array() ? std::to_string(summaries->size()) + " items"
                                                              : std::string(detail::typeName(*summaries))));
    }
    std::string texts[2];
    for (size_t i = 0; i < 2; ++i) {
      const nlohmann::json& summary = (*summaries)[i];
      const std::string at = fmt::format("summaries[{}].text", i);
      if (!summary.is_object() || !summary.contains("text")) row.fail(at, "required field is missing");
      if (!summary["text"].is_string()) row.failType(at, "a string", summary["text"]);
      const std::string& text = summary["text"].get_ref<const std::string&>();
      const size_t begin = text.find_first_not_of(" \t\r\n");
      const size_t end = text.find_last_not_of(" \t\r\n");
      texts[i] = begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
    }
    const nlohmann::json* choice = row.find("choice");
    if (!choice) row.fail("choice", "required field is missing");
    if (!choice->is_number_integer() || (choice->get<int64_t>() != 0 && choice->get<int64_t>() != 1)) {
      row.fail("choice", fmt::format("expected 0 or 1 (the index of the preferred summary), got {}", choice->dump()));
    }
    Comparison c;
    c.a = std::move(texts[0]);
    c.b = std::move(texts[1]);
    c.winner = choice->get<int64_t>() == 0 ? Winner::kA : Winner::kB;
    c.a_field = "summaries[0].text";
    c.b_field = "summaries[1].text";
    c.label_field = "choice";
    out.comparison = std::move(c);
    const nlohmann::json* id = info_row.find("id");
    out.id = idText(id);
    return out;
  }
};

}  // namespace

const DatasetConverter& unifiedFeedbackConverter() {
  static const UnifiedFeedbackConverter converter;
  return converter;
}
const DatasetConverter& hhRlhfConverter() {
  static const HhRlhfConverter converter;
  return converter;
}
const DatasetConverter& ultrafeedbackConverter() {
  static const UltrafeedbackConverter converter;
  return converter;
}
const DatasetConverter& tldrConverter() {
  static const TldrConverter converter;
  return converter;
}

}  // namespace gramrl::data::convert
