#include "common/data/convert/conversation.h"

#include "common/core/errors.h"

namespace gramrl::data::convert {

std::vector<Turn> messageTurns(const detail::RowView& row, const nlohmann::json& value, const std::string& field) {
  std::vector<Turn> turns;
  for (detail::Message& message : row.messages(value, field)) {
    turns.push_back(Turn{std::move(message.role), std::move(message.content)});
  }
  return turns;
}

SplitTurns splitFinalReply(const detail::RowView& row, std::vector<Turn> turns, const std::string& field) {
  if (turns.empty()) row.fail(field, "empty message list");
  if (turns.back().role != "assistant") {
    row.fail(fmt::format("{}[{}].role", field, turns.size() - 1),
             fmt::format("the final message must be the assistant's reply, got '{}'", turns.back().role));
  }
  SplitTurns split;
  split.response = std::move(turns.back().content);
  turns.pop_back();
  split.prompt = std::move(turns);
  return split;
}

std::vector<Turn> sharedPrompt(const detail::RowView& row, const SplitTurns& a, const std::string& a_field,
                               const SplitTurns& b, const std::string& b_field) {
  size_t i = 0;
  while (i < a.prompt.size() && i < b.prompt.size() && a.prompt[i].role == b.prompt[i].role &&
         a.prompt[i].content == b.prompt[i].content) {
    ++i;
  }
  if (i < a.prompt.size() || i < b.prompt.size()) {
    row.fail(fmt::format("{}[{}]", b_field, i),
             fmt::format("the prompts differ: '{}' and '{}' must share every turn before the final reply ({} vs {} "
                         "prompt turns, first difference at message {})",
                         a_field, b_field, a.prompt.size(), b.prompt.size(), i));
  }
  return a.prompt;
}

std::vector<Turn> hhTranscriptTurns(const detail::RowView& row, std::string_view text, const std::string& field) {
  static constexpr std::string_view kHuman = "\n\nHuman:";
  static constexpr std::string_view kAssistant = "\n\nAssistant:";
  if (text.substr(0, kHuman.size()) != kHuman) {
    row.fail(field, "expected a transcript starting with \"\\n\\nHuman:\"");
  }
  std::vector<Turn> turns;
  size_t pos = 0;
  bool human = true;
  while (pos < text.size()) {
    const std::string_view marker = human ? kHuman : kAssistant;
    if (text.substr(pos, marker.size()) != marker) {
      row.fail(field, fmt::format("expected \"{}\" at byte {} (speakers must alternate Human, Assistant, ...)",
                                  human ? "\\n\\nHuman:" : "\\n\\nAssistant:", pos));
    }
    pos += marker.size();
    if (pos < text.size() && text[pos] == ' ') ++pos;
    // The turn runs to the next marker of either speaker; a repeated speaker is reported above.
    const size_t next = std::min(text.find(kHuman, pos), text.find(kAssistant, pos));
    const size_t end = next == std::string_view::npos ? text.size() : next;
    turns.push_back(Turn{human ? "user" : "assistant", std::string(text.substr(pos, end - pos))});
    pos = end;
    human = !human;
  }
  return turns;
}

std::optional<FlatPrompt> flattenPrompt(const std::vector<Turn>& turns, MultiTurn multi_turn, const std::string& source,
                                        const std::string& field) {
  auto fail = [&](const std::string& what) {
    throw DataError(fmt::format("{}: {} (field '{}')", source, what, field));
  };
  FlatPrompt flat;
  size_t first = 0;
  if (!turns.empty() && turns[0].role == "system") {
    flat.system = turns[0].content;
    first = 1;
  }
  if (turns.size() == first) fail("no user message before the response");
  for (size_t i = first; i < turns.size(); ++i) {
    const char* expected = (i - first) % 2 == 0 ? "user" : "assistant";
    if (turns[i].role != expected) {
      fail(
          fmt::format("message {} of the prompt is from '{}', expected '{}' (turns must alternate user, assistant, "
                      "..., with an optional system message first)",
                      i, turns[i].role, expected));
    }
  }
  if ((turns.size() - first) % 2 == 0) fail("the prompt ends with an assistant turn, not a user turn");
  if (turns.size() - first == 1) {
    flat.user = turns[first].content;
    return flat;
  }
  if (multi_turn == MultiTurn::kSkip) return std::nullopt;
  for (size_t i = first; i < turns.size(); ++i) {
    if (i > first) flat.user += "\n\n";
    flat.user += turns[i].role == "user" ? "User: " : "Assistant: ";
    flat.user += turns[i].content;
  }
  flat.flattened = true;
  return flat;
}

std::string idText(const nlohmann::json* value) {
  if (!value || value->is_null()) return "";
  if (value->is_string()) return value->get<std::string>();
  return value->dump();
}

}  // namespace gramrl::data::convert
