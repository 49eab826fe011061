#include "common/tokenizer/chat_template.h"

#include <fmt/format.h>

#include "common/core/errors.h"
#include "common/tokenizer/unicode.h"

namespace gramrl::tokenizer {
namespace {

constexpr std::string_view kQwenDefaultSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// jinja2's `trim` filter: Python's str.strip() (NOTE [Chat templates by name]).
std::string_view pythonStrip(std::string_view s) { return trimCodePoints(s, true, true, isPythonSpace); }

// Python's str.strip/lstrip/rstrip with the argument '\n'.
std::string_view stripNewlines(std::string_view s, bool leading, bool trailing) {
  while (leading && !s.empty() && s.front() == '\n') s.remove_prefix(1);
  while (trailing && !s.empty() && s.back() == '\n') s.remove_suffix(1);
  return s;
}

std::string renderLlama3(const ChatMessages& m, const ChatTemplateOptions& options) {
  std::string out = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n";
  out += "Cutting Knowledge Date: December 2023\n";
  out += "Today Date: " + options.date_string + "\n\n";
  if (m.system) out += pythonStrip(*m.system);
  out += "<|eot_id|>";
  out += "<|start_header_id|>user<|end_header_id|>\n\n";
  out += pythonStrip(m.user);
  out += "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
  if (m.assistant) {
    out += pythonStrip(*m.assistant);
    out += "<|eot_id|>";
  }
  return out;
}

std::string renderQwen25(const ChatMessages& m) {
  std::string out = "<|im_start|>system\n";
  out += m.system ? std::string_view(*m.system) : kQwenDefaultSystem;
  out += "<|im_end|>\n<|im_start|>user\n" + m.user + "<|im_end|>\n<|im_start|>assistant\n";
  if (m.assistant) out += *m.assistant + "<|im_end|>\n";
  return out;
}

// The assistant branch of the Qwen3 template: reasoning between <think> and </think> is
// taken out of the content and re-emitted in a normalised <think> block.
std::string qwen3Assistant(std::string_view user, std::string_view assistant) {
  std::string_view content = assistant;
  std::string_view reasoning;
  const size_t first_close = content.find("</think>");
  if (first_close != std::string_view::npos) {
    std::string_view before = stripNewlines(content.substr(0, first_close), false, true);  // split[0].rstrip
    const size_t open = before.rfind("<think>");
    if (open != std::string_view::npos) before = before.substr(open + 7);  // split('<think>')[-1]
    reasoning = stripNewlines(before, true, false);
    content = stripNewlines(content.substr(content.rfind("</think>") + 8), true, false);
  }
  // The template counts a user message wrapped in <tool_response> as a tool result, not as
  // the query; the assistant turn then gets no <think> block.
  const bool after_query = !(user.substr(0, 15) == "<tool_response>" && user.size() >= 16 &&
                             user.substr(user.size() - 16) == "</tool_response>");
  std::string out = "<|im_start|>assistant\n";
  if (after_query) {
    out += "<think>\n";
    out += stripNewlines(reasoning, true, true);
    out += "\n</think>\n\n";
    out += stripNewlines(content, true, false);
  } else {
    out += content;
  }
  return out + "<|im_end|>\n";
}

std::string renderQwen3(const ChatMessages& m) {
  std::string out;
  if (m.system) out += "<|im_start|>system\n" + *m.system + "<|im_end|>\n";
  out += "<|im_start|>user\n" + m.user + "<|im_end|>\n";
  out += m.assistant ? qwen3Assistant(m.user, *m.assistant) : "<|im_start|>assistant\n<think>\n\n</think>\n\n";
  return out;
}

// LLaMA-Factory's `llama3` template, which GRAM's released code trains with
// (NOTE [Chat templates by name]): one BOS, a system block only when there is a system message,
// no trimming.
std::string renderLlama3Train(const ChatMessages& m) {
  std::string out = "<|begin_of_text|>";
  if (m.system) out += "<|start_header_id|>system<|end_header_id|>\n\n" + *m.system + "<|eot_id|>";
  out += "<|start_header_id|>user<|end_header_id|>\n\n" + m.user;
  out += "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
  if (m.assistant) out += *m.assistant + "<|eot_id|>";
  return out;
}

// LLaMA-Factory's `qwen3` template with enable_thinking=false: the empty think block is part of
// the prompt, the assistant content is kept as it is, and the turn ends "<|im_end|>\n".
std::string renderQwen3Train(const ChatMessages& m) {
  std::string out;
  if (m.system) out += "<|im_start|>system\n" + *m.system + "<|im_end|>\n";
  out += "<|im_start|>user\n" + m.user + "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
  if (m.assistant) out += *m.assistant + "<|im_end|>\n";
  return out;
}

std::string renderPlain(const ChatMessages& m) {
  std::string out = "<|bos|>";
  if (m.system) out += "<|system|>" + *m.system + "<|end|>";
  out += "<|user|>" + m.user + "<|end|><|assistant|>";
  if (m.assistant) out += *m.assistant + "<|end|>";
  return out;
}

void checkUtf8(std::string_view text, const char* role) {
  const size_t bad = findInvalidUtf8(text);
  GRAMRL_CHECK(bad == kValidUtf8, DataError, "chat: the {} message is not valid UTF-8 (offset {})", role, bad);
}

}  // namespace

const std::vector<std::string>& chatTemplateNames() {
  static const std::vector<std::string> names{"llama3", "qwen2.5", "qwen3", "plain", "llama3-train", "qwen3-train"};
  return names;
}

std::string renderChat(std::string_view name, const ChatMessages& messages, const ChatTemplateOptions& options) {
  if (messages.system) checkUtf8(*messages.system, "system");
  checkUtf8(messages.user, "user");
  if (messages.assistant) checkUtf8(*messages.assistant, "assistant");
  if (name == "llama3") return renderLlama3(messages, options);
  if (name == "qwen2.5") return renderQwen25(messages);
  if (name == "qwen3") return renderQwen3(messages);
  if (name == "plain") return renderPlain(messages);
  if (name == "llama3-train") return renderLlama3Train(messages);
  if (name == "qwen3-train") return renderQwen3Train(messages);
  throw ConfigError(
      fmt::format("unknown chat template \"{}\" (known: {})", name, fmt::join(chatTemplateNames(), ", ")));
}

std::vector<TokenId> encodeChat(const Tokenizer& tokenizer, std::string_view name, const ChatMessages& messages,
                                const ChatTemplateOptions& options) {
  return tokenizer.encode(renderChat(name, messages, options), /*add_special_tokens=*/false);
}

const char* chatEndOfTurnToken(std::string_view name) {
  if (name == "llama3" || name == "llama3-train") return "<|eot_id|>";
  if (name == "qwen2.5" || name == "qwen3" || name == "qwen3-train") return "<|im_end|>";
  if (name == "plain") return "<|end|>";
  throw ConfigError(
      fmt::format("unknown chat template \"{}\" (known: {})", name, fmt::join(chatTemplateNames(), ", ")));
}

std::string chatTrainedTurnEnd(std::string_view name) {
  if (name == "qwen3-train") return "<|im_end|>\n";
  return chatEndOfTurnToken(name);
}

std::string chatTemplateNameFor(std::string_view text) {
  if (contains(text, "<|start_header_id|>") && contains(text, "Cutting Knowledge Date")) return "llama3";
  if (contains(text, "<|im_start|>")) {
    if (contains(text, "enable_thinking")) return "qwen3";
    if (contains(text, kQwenDefaultSystem)) return "qwen2.5";
  }
  if (contains(text, "<|user|>") && contains(text, "<|assistant|>") && contains(text, "<|end|>")) return "plain";
  return "";
}

}  // namespace gramrl::tokenizer
