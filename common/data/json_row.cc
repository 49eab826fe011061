#include "common/data/json_row.h"

#include <algorithm>

#include "common/core/errors.h"

namespace gramrl::data::detail {

std::string_view typeName(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    case nlohmann::json::value_t::number_float: return "a number";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::binary: return "binary data";
    case nlohmann::json::value_t::discarded: return "a discarded value";
  }
  return "an unknown value";
}

RowView::RowView(const nlohmann::json& row, const std::string& source) : row_(row), source_(source) {
  GRAMRL_CHECK(row.is_object(), DataError, "{}: expected a JSON object, got {}", source, typeName(row));
}

const nlohmann::json* RowView::find(std::string_view key) const {
  auto it = row_.find(key);
  if (it == row_.end() || it->is_null()) return nullptr;
  return &*it;
}

const nlohmann::json* RowView::findFirst(std::initializer_list<std::string_view> keys, std::string_view* found) const {
  for (std::string_view key : keys) {
    if (const nlohmann::json* value = find(key)) {
      if (found) *found = key;
      return value;
    }
  }
  return nullptr;
}

std::string RowView::stringValue(const nlohmann::json& value, std::string_view field) const {
  if (!value.is_string()) failType(field, "a string", value);
  return value.get<std::string>();
}

std::string RowView::requireString(std::string_view key) const {
  const nlohmann::json* value = find(key);
  if (!value) fail(key, "required field is missing");
  return stringValue(*value, key);
}

std::optional<std::string> RowView::optionalString(std::string_view key) const {
  const nlohmann::json* value = find(key);
  if (!value) return std::nullopt;
  return stringValue(*value, key);
}

std::string RowView::category() const {
  std::string_view key;
  const nlohmann::json* value = findFirst({"category", "subset", "family", "task"}, &key);
  return value ? stringValue(*value, key) : std::string();
}

std::optional<std::string> RowView::system() const { return optionalString("system"); }

std::optional<Prompt> RowView::optionalPrompt() const {
  std::string_view key;
  const nlohmann::json* value = findFirst({"prompt", "question"}, &key);
  if (!value) return std::nullopt;
  if (value->is_string()) return Prompt{system(), value->get<std::string>()};
  if (!value->is_array()) failType(key, "a string or a message list", *value);
  const std::string field(key);
  Prompt prompt = promptFromTurns(messages(*value, field), field);
  if (std::optional<std::string> beside = system()) {
    if (prompt.system && *prompt.system != *beside) {
      fail("system", fmt::format("differs from the system message in '{}'", field));
    }
    prompt.system = std::move(beside);
  }
  return prompt;
}

std::vector<Message> RowView::messages(const nlohmann::json& value, const std::string& field) const {
  if (!value.is_array()) failType(field, "a message list", value);
  std::vector<Message> out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const nlohmann::json& item = value[i];
    const std::string at = fmt::format("{}[{}]", field, i);
    if (!item.is_object()) failType(at, "a message object", item);
    Message message;
    auto role = item.find("role");
    if (role == item.end() || role->is_null()) fail(at + ".role", "required field is missing");
    message.role = stringValue(*role, at + ".role");
    if (message.role != "system" && message.role != "user" && message.role != "assistant") {
      fail(at + ".role", fmt::format("unknown role '{}': expected 'system', 'user' or 'assistant'", message.role));
    }
    auto content = item.find("content");
    if (content == item.end() || content->is_null()) fail(at + ".content", "required field is missing");
    if (content->is_array()) {
      // Multimodal-style content: text parts are concatenated, anything else is unsupported.
      for (size_t j = 0; j < content->size(); ++j) {
        const nlohmann::json& part = (*content)[j];
        const std::string part_at = fmt::format("{}.content[{}]", at, j);
        auto type = part.is_object() ? part.find("type") : part.end();
        auto text = part.is_object() ? part.find("text") : part.end();
        if (type == part.end() || *type != "text" || text == part.end()) {
          fail(part_at, "expected a text part {\"type\": \"text\", \"text\": ...}");
        }
        message.content += stringValue(*text, part_at + ".text");
      }
    } else {
      message.content = stringValue(*content, at + ".content");
    }
    out.push_back(std::move(message));
  }
  return out;
}

Prompt RowView::promptFromTurns(const std::vector<Message>& turns, const std::string& field) const {
  Prompt prompt;
  size_t first = 0;
  if (!turns.empty() && turns[0].role == "system") {
    prompt.system = turns[0].content;
    first = 1;
  }
  for (size_t i = first; i < turns.size(); ++i) {
    if (turns[i].role == "system") fail(fmt::format("{}[{}].role", field, i), "a system message must come first");
  }
  if (turns.size() == first) fail(field, "no user message in the prompt turns");
  if (turns.size() > first + 1) {
    fail(field, fmt::format("multi-turn prompts are not supported yet ({} prompt turns; expected an optional "
                            "system message and one user message)",
                            turns.size()));
  }
  if (turns[first].role != "user") {
    fail(fmt::format("{}[{}].role", field, first), fmt::format("expected a user message, got '{}'", turns[first].role));
  }
  prompt.user = turns[first].content;
  return prompt;
}

void RowView::fail(std::string_view field, std::string_view what) const {
  throw DataError(fmt::format("{}: {} (field '{}')", source_, what, field));
}

void RowView::failType(std::string_view field, std::string_view expected, const nlohmann::json& value) const {
  fail(field, fmt::format("expected {}, got {}", expected, typeName(value)));
}

SplitConversation splitConversation(const RowView& row, const std::vector<Message>& messages,
                                    const std::string& field) {
  if (messages.empty()) row.fail(field, "empty message list");
  if (messages.back().role != "assistant") {
    row.fail(fmt::format("{}[{}].role", field, messages.size() - 1),
             fmt::format("the final message must be the assistant's reply, got '{}'", messages.back().role));
  }
  SplitConversation split;
  split.prompt_turns.assign(messages.begin(), messages.end() - 1);
  split.response = messages.back().content;
  return split;
}

Prompt conversationPrompt(const RowView& row, const std::optional<Prompt>& explicit_prompt,
                          const std::vector<const SplitConversation*>& splits, const std::vector<std::string>& fields) {
  GRAMRL_ASSERT(!splits.empty() && splits.size() == fields.size());
  const std::vector<Message>& turns = splits[0]->prompt_turns;
  for (size_t s = 1; s < splits.size(); ++s) {
    const std::vector<Message>& other = splits[s]->prompt_turns;
    size_t i = 0;
    while (i < turns.size() && i < other.size() && turns[i].role == other[i].role &&
           turns[i].content == other[i].content) {
      ++i;
    }
    if (i < turns.size() || i < other.size()) {
      row.fail(fmt::format("{}[{}]", fields[s], i),
               fmt::format("prompt turns differ between '{}' and '{}' ({} vs {} prompt turns, first difference at "
                           "message {})",
                           fields[0], fields[s], turns.size(), other.size(), i));
    }
  }
  if (!turns.empty()) {
    Prompt prompt = row.promptFromTurns(turns, fields[0]);
    if (explicit_prompt && *explicit_prompt != prompt) {
      row.fail("prompt", fmt::format("differs from the prompt turns in '{}'", fields[0]));
    }
    return prompt;
  }
  if (!explicit_prompt) {
    row.fail("prompt",
             fmt::format("required field is missing: '{}' holds only the reply and there is no 'prompt' or 'question'",
                         fields[0]));
  }
  return *explicit_prompt;
}

}  // namespace gramrl::data::detail
