// Field access on one JSONL row with the error messages of NOTE [Accepted JSONL shapes]
// (jsonl_data.h): every failure is a DataError "<source>: <what> (field 'x')". Internal to
// common/data.
//
// Threads: RowView borrows the row and the source string; use it on one thread while both live.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace gramrl::data::detail {

// "a string", "an array", ... for "expected X, got Y" messages.
std::string_view typeName(const nlohmann::json& value);

struct Message {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// A single-turn prompt: what the chat templates render.
struct Prompt {
  std::optional<std::string> system;
  std::string user;
  bool operator==(const Prompt& other) const { return system == other.system && user == other.user; }
  bool operator!=(const Prompt& other) const { return !(*this == other); }
};

class RowView {
 public:
  // Throws DataError when `row` is not an object.
  RowView(const nlohmann::json& row, const std::string& source);

  const std::string& source() const { return source_; }

  // The value under `key`, or nullptr when the key is absent or null.
  const nlohmann::json* find(std::string_view key) const;
  // The first of `keys` that is present (not null), or nullptr.
  const nlohmann::json* findFirst(std::initializer_list<std::string_view> keys, std::string_view* found) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  std::string requireString(std::string_view key) const;
  std::optional<std::string> optionalString(std::string_view key) const;
  // "category", "subset", "family", "task": the first present, "" when none.
  std::string category() const;
  // The optional "system" string.
  std::optional<std::string> system() const;

  // A prompt from "prompt" or "question" (a string, with "system" beside it, or a message list);
  // nullopt when neither key is present.
  std::optional<Prompt> optionalPrompt() const;

  // A message list; `field` names it in errors ("chosen").
  std::vector<Message> messages(const nlohmann::json& value, const std::string& field) const;
  // [system] + user turns -> Prompt; `field` names the list the turns came from.
  Prompt promptFromTurns(const std::vector<Message>& turns, const std::string& field) const;

  // Throws DataError "<source>: <what> (field '<field>')".
  [[noreturn]] void fail(std::string_view field, std::string_view what) const;
  // "expected <expected>, got <type of value>".
  [[noreturn]] void failType(std::string_view field, std::string_view expected, const nlohmann::json& value) const;

 private:
  std::string stringValue(const nlohmann::json& value, std::string_view field) const;

  const nlohmann::json& row_;
  const std::string& source_;
};

// A conversation split at its final message, which must be an assistant turn: the turns
// before it, and its content. Throws DataError naming `field` when the list is empty or the
// final message is not from the assistant.
struct SplitConversation {
  std::vector<Message> prompt_turns;
  std::string response;
};
SplitConversation splitConversation(const RowView& row, const std::vector<Message>& messages, const std::string& field);

// The prompt of conversational rows (NOTE [Accepted JSONL shapes] (b)): the prompt turns inside
// each conversation, which must agree with each other, and the explicit prompt field, which must
// agree with them when both are given. `fields` name the conversations, parallel to `splits`.
Prompt conversationPrompt(const RowView& row, const std::optional<Prompt>& explicit_prompt,
                          const std::vector<const SplitConversation*>& splits, const std::vector<std::string>& fields);

}  // namespace gramrl::data::detail
