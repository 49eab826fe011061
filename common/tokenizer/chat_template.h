// Single-turn chat prompts, rendered byte for byte as the models' Hugging Face chat templates
// (jinja, in tokenizer_config.json) render them, without a jinja engine.
//
// NOTE [Chat templates by name]
// RLHF prompts here are one optional system message and one user message; for that shape each
// template reduces to string concatenation, which is all we implement (no tools, no multi-turn).
// The tests compare every template with @huggingface/jinja's rendering of the real template
// (tests/data/tokenizers/reference.json). Names:
//   llama3   Llama-3.1 Instruct (also 3.2 and 3.3 with their date passed as date_string):
//            <|begin_of_text|>, then a system block that always carries "Cutting Knowledge
//            Date: December 2023\nToday Date: <date_string>\n\n" before the system message.
//            Messages are trimmed (jinja `trim`, which is Python's str.strip()).
//   qwen2.5  Qwen2.5 Instruct: the system message defaults to "You are Qwen, created by
//            Alibaba Cloud. You are a helpful assistant." when none is given.
//   qwen3    Qwen3 with thinking disabled (enable_thinking=false): the generation prompt ends
//            "<|im_start|>assistant\n<think>\n\n</think>\n\n". No default system message.
//   llama3-train  LLaMA-Factory's `llama3`, which GRAM's released code trains with:
//            <|begin_of_text|>, a system block only when a system message is given, then the user
//            and assistant headers; no date block, no trimming, one BOS.
//   qwen3-train   LLaMA-Factory's `qwen3` with enable_thinking=false: the prompt is qwen3's; the
//            assistant content is not rewritten, and a trained target ends "<|im_end|>\n" (the
//            newline is trained too: chatTrainedTurnEnd).
//   plain    ours, for the tiny models and ByteTokenizer (byte_tokenizer.h):
//            <|bos|>[<|system|>SYSTEM<|end|>]<|user|>USER<|end|><|assistant|>[RESPONSE<|end|>]
//            with no newlines and no trimming.
// With ChatMessages::assistant set, the finished conversation is rendered (what the template
// gives with add_generation_prompt=false): prompt + response + end-of-turn, for training. Its
// prompt part is exactly the generation-prompt rendering, so response tokens can be located
// by the prompt's length in every template here.
//
// Threads: pure functions. Throws: ConfigError for an unknown template name; DataError for a
// message that is not valid UTF-8.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/tokenizer/tokenizer.h"

namespace gramrl::tokenizer {

struct ChatMessages {
  std::optional<std::string> system;  // absent and "" differ for qwen2.5 (default vs empty)
  std::string user;
  std::optional<std::string> assistant;  // set: render the whole conversation, no generation prompt
};

struct ChatTemplateOptions {
  // llama3 only: the "Today Date" line. The Llama-3.1 template's own default.
  std::string date_string = "26 Jul 2024";
};

// "llama3", "qwen2.5", "qwen3", "plain", "llama3-train", "qwen3-train". `auto` (the tokenizer's
// own template, chatTemplateNameFor) never picks a -train variant.
const std::vector<std::string>& chatTemplateNames();

std::string renderChat(std::string_view template_name, const ChatMessages& messages,
                       const ChatTemplateOptions& options = {});

// renderChat, then encode(..., add_special_tokens=false): the template writes the special
// tokens itself, as Hugging Face's apply_chat_template(tokenize=True) does.
std::vector<TokenId> encodeChat(const Tokenizer& tokenizer, std::string_view template_name,
                                const ChatMessages& messages, const ChatTemplateOptions& options = {});

// The token that ends an assistant turn: "<|eot_id|>", "<|im_end|>" or "<|end|>".
const char* chatEndOfTurnToken(std::string_view template_name);

// What a trained assistant target ends with: the end-of-turn token, or for qwen3-train
// "<|im_end|>\n" (LLaMA-Factory's format_assistant, as GRAM's stage-1 targets end).
std::string chatTrainedTurnEnd(std::string_view template_name);

// The name of the template whose jinja source this is (the chat_template field of
// tokenizer_config.json), recognised by its markers; "" when it is none of ours.
std::string chatTemplateNameFor(std::string_view template_text);

}  // namespace gramrl::tokenizer
