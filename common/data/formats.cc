// The row parsers of NOTE [Accepted JSONL shapes] (jsonl_data.h).
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>

#include "common/core/errors.h"
#include "common/data/json_row.h"
#include "common/data/jsonl_data.h"

namespace gramrl::data {
namespace {

using detail::Message;
using detail::Prompt;
using detail::RowView;
using detail::SplitConversation;

// Key names of an A/B pair and whether integer labels count from 1 (response_1/response_2).
struct AbKeys {
  std::string_view a;
  std::string_view b;
  bool one_based;
};
constexpr std::array<AbKeys, 3> kAbKeys = {{
    {"response_a", "response_b", false},
    {"answer_a", "answer_b", false},
    {"response_1", "response_2", true},
}};

// The first A/B key pair present in the row, or nullptr. Both keys must be present.
const AbKeys* findAbKeys(const RowView& row) {
  for (const AbKeys& keys : kAbKeys) {
    const bool has_a = row.has(keys.a);
    const bool has_b = row.has(keys.b);
    if (has_a && has_b) return &keys;
    if (has_a) row.fail(keys.b, fmt::format("required field is missing ('{}' is present)", keys.a));
    if (has_b) row.fail(keys.a, fmt::format("required field is missing ('{}' is present)", keys.b));
  }
  return nullptr;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// true when the label prefers A. NOTE [Accepted JSONL shapes] (c) lists the spellings.
bool labelPrefersA(const RowView& row, const AbKeys& keys) {
  std::string_view field;
  const nlohmann::json* label = row.findFirst({"label", "preference", "winner"}, &field);
  if (!label)
    row.fail("label", "required field is missing: expected one of 'label', 'preference', 'winner' for an A/B pair");
  const std::string expected_ints = keys.one_based ? "1 or 2 (with response_1/response_2)" : "0 or 1 (0 = A)";
  std::optional<int64_t> number;
  if (label->is_number_integer() || label->is_number_unsigned()) {
    number = label->get<int64_t>();
  } else if (label->is_number_float()) {
    const double value = label->get<double>();
    if (value == std::floor(value) && std::abs(value) < 1e9) number = static_cast<int64_t>(value);
  } else if (label->is_string()) {
    const std::string text = lower(label->get<std::string>());
    if (text == "a" || text == "model_a" || text == "response_a") return true;
    if (text == "b" || text == "model_b" || text == "response_b") return false;
    if (text.rfind("tie", 0) == 0 || text == "both" || text == "none" || text == "equal") {
      row.fail(field, fmt::format("the label '{}' is a tie, not a preference", label->get<std::string>()));
    }
    if (!text.empty() && text.size() < 10 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      number = std::stoll(text);
    } else {
      row.fail(field, fmt::format("unknown label '{}': expected A/B, a/b, model_a/model_b, or {}",
                                  label->get<std::string>(), expected_ints));
    }
  } else {
    row.failType(field, "a string or an integer label", *label);
  }
  if (!number) row.fail(field, fmt::format("unknown label {}: expected {}", label->dump(), expected_ints));
  const int64_t a = keys.one_based ? 1 : 0;
  if (*number == a) return true;
  if (*number == a + 1) return false;
  row.fail(field, fmt::format("unknown label {}: expected {}", *number, expected_ints));
}

Prompt requirePrompt(const RowView& row) {
  std::optional<Prompt> prompt = row.optionalPrompt();
  if (!prompt) row.fail("prompt", "required field is missing: expected 'prompt' or 'question'");
  return std::move(*prompt);
}

// A response given as a string, or as a message list of assistant turns (TRL conversational
// completions) or a whole conversation; the prompt turns of the latter go to `split`.
SplitConversation responseField(const RowView& row, const nlohmann::json& value, const std::string& field) {
  if (value.is_string()) return SplitConversation{{}, value.get<std::string>()};
  if (!value.is_array()) row.failType(field, "a string or a message list", value);
  return detail::splitConversation(row, row.messages(value, field), field);
}

void addSystemBeside(const RowView& row, Prompt& prompt) {
  if (!prompt.system) prompt.system = row.system();
}

}  // namespace

PreferencePair parsePreferencePair(const nlohmann::json& json, const std::string& source) {
  RowView row(json, source);
  PreferencePair pair;
  pair.source = source;
  pair.category = row.category();
  const nlohmann::json* chosen = row.find("chosen");
  const nlohmann::json* rejected = row.find("rejected");
  if (chosen || rejected) {
    // Two shapes at once: reading it as either one would drop the other without a word.
    if (row.has("response") || row.has("completion")) {
      row.fail(row.has("response") ? "response" : "completion",
               "the row has both a single response and 'chosen'/'rejected'; keep 'chosen' and 'rejected' for a "
               "preference pair, or only the response for a scored response");
    }
    if (!chosen) row.fail("chosen", "required field is missing ('rejected' is present)");
    if (!rejected) row.fail("rejected", "required field is missing ('chosen' is present)");
    for (auto [value, field] : {std::pair{chosen, "chosen"}, std::pair{rejected, "rejected"}}) {
      if (!value->is_string() && !value->is_array()) row.failType(field, "a string or a message list", *value);
    }
    if (chosen->is_string() != rejected->is_string()) {
      row.fail("rejected", fmt::format("'chosen' is {} but 'rejected' is {}; give both as strings or both as "
                                       "message lists",
                                       detail::typeName(*chosen), detail::typeName(*rejected)));
    }
    SplitConversation c = responseField(row, *chosen, "chosen");
    SplitConversation r = responseField(row, *rejected, "rejected");
    Prompt prompt = chosen->is_string()
                        ? requirePrompt(row)
                        : detail::conversationPrompt(row, row.optionalPrompt(), {&c, &r}, {"chosen", "rejected"});
    addSystemBeside(row, prompt);
    pair.system = std::move(prompt.system);
    pair.prompt = std::move(prompt.user);
    pair.chosen = std::move(c.response);
    pair.rejected = std::move(r.response);
    return pair;
  }
  const AbKeys* keys = findAbKeys(row);
  if (!keys) {
    row.fail("chosen",
             "no preference pair: expected 'chosen' and 'rejected', or 'response_a'/'response_b' "
             "(or answer_a/answer_b, response_1/response_2) with a label");
  }
  Prompt prompt = requirePrompt(row);
  std::string a = row.requireString(keys->a);
  std::string b = row.requireString(keys->b);
  const bool a_wins = labelPrefersA(row, *keys);
  pair.system = std::move(prompt.system);
  pair.prompt = std::move(prompt.user);
  pair.chosen = std::move(a_wins ? a : b);
  pair.rejected = std::move(a_wins ? b : a);
  return pair;
}

ResponsePair parseResponsePair(const nlohmann::json& json, const std::string& source) {
  RowView row(json, source);
  ResponsePair pair;
  pair.source = source;
  pair.category = row.category();
  if (const nlohmann::json* responses = row.find("responses")) {
    if (!responses->is_array()) row.failType("responses", "a list of two strings", *responses);
    if (responses->size() != 2) {
      row.fail("responses", fmt::format("expected exactly 2 responses, got {}", responses->size()));
    }
    for (size_t i = 0; i < 2; ++i) {
      if (!(*responses)[i].is_string()) row.failType(fmt::format("responses[{}]", i), "a string", (*responses)[i]);
    }
    pair.response_a = (*responses)[0].get<std::string>();
    pair.response_b = (*responses)[1].get<std::string>();
  } else {
    const AbKeys* keys = findAbKeys(row);
    if (!keys) {
      row.fail("response_a",
               "no response pair: expected 'response_a'/'response_b' (or answer_a/answer_b, "
               "response_1/response_2) or 'responses'");
    }
    pair.response_a = row.requireString(keys->a);
    pair.response_b = row.requireString(keys->b);
  }
  Prompt prompt = requirePrompt(row);
  pair.system = std::move(prompt.system);
  pair.prompt = std::move(prompt.user);
  return pair;
}

PromptExample parsePrompt(const nlohmann::json& json, const std::string& source) {
  RowView row(json, source);
  PromptExample example;
  example.source = source;
  example.category = row.category();
  Prompt prompt;
  std::optional<std::string> reply;  // a "messages" list's final assistant turn
  if (const nlohmann::json* messages = row.find("messages"); messages && !row.has("prompt") && !row.has("question")) {
    std::vector<Message> turns = row.messages(*messages, "messages");
    if (!turns.empty() && turns.back().role == "assistant") {
      reply = turns.back().content;
      turns.pop_back();
    }
    prompt = row.promptFromTurns(turns, "messages");
    addSystemBeside(row, prompt);
  } else {
    std::optional<Prompt> found = row.optionalPrompt();
    if (!found) row.fail("prompt", "required field is missing: expected 'prompt', 'question' or 'messages'");
    prompt = std::move(*found);
  }
  example.system = std::move(prompt.system);
  example.prompt = std::move(prompt.user);
  for (std::string_view key : {"reference", "answer", "label", "solution"}) {
    const nlohmann::json* value = row.find(key);
    if (!value) continue;
    if (value->is_string()) {
      example.reference = value->get<std::string>();
    } else if (key == "label") {
      continue;  // a class id or score, not a reference answer
    } else if (value->is_number()) {
      example.reference = value->dump();
    } else {
      row.failType(key, "a string or a number", *value);
    }
    break;
  }
  if (!example.reference) example.reference = std::move(reply);
  return example;
}

Demonstration parseDemonstration(const nlohmann::json& json, const std::string& source) {
  RowView row(json, source);
  Demonstration demo;
  demo.source = source;
  demo.category = row.category();
  std::string_view key;
  const nlohmann::json* response = row.findFirst({"response", "completion"}, &key);
  Prompt prompt;
  if (response && (row.has("chosen") || row.has("rejected"))) {
    row.fail(key, "the row has both a single response and 'chosen'/'rejected'; a demonstration has only the response");
  }
  if (response) {
    SplitConversation split = responseField(row, *response, std::string(key));
    prompt = response->is_string()
                 ? requirePrompt(row)
                 : detail::conversationPrompt(row, row.optionalPrompt(), {&split}, {std::string(key)});
    demo.response = std::move(split.response);
  } else if (const nlohmann::json* messages = row.find("messages")) {
    SplitConversation split = detail::splitConversation(row, row.messages(*messages, "messages"), "messages");
    prompt = row.promptFromTurns(split.prompt_turns, "messages");
    demo.response = std::move(split.response);
  } else if (row.has("prompt") || row.has("question")) {
    row.fail("response", "required field is missing: expected 'response' or 'completion'");
  } else {
    row.fail("messages", "no demonstration: expected 'prompt' with 'response' or 'completion', or 'messages'");
  }
  addSystemBeside(row, prompt);
  demo.system = std::move(prompt.system);
  demo.prompt = std::move(prompt.user);
  return demo;
}

}  // namespace gramrl::data
