// Prompt + response token sequences for single-turn chats: the one prompt encoder of gramrl.
// Trainers (DPO, SFT, GRAM stage 1, Bradley-Terry), the scalar reward scorers and `gramrl
// generate` all encode prompts here, so a prompt is truncated the same way wherever it is used.
//
// NOTE [Response tokens]
// A response is encoded on its own (no special tokens) and followed by the chat template's
// end-of-turn token, then appended to the prompt's generation-prompt rendering; the model is
// trained/evaluated on predicting exactly those response tokens. Encoding the two halves
// separately (as TRL does) keeps the boundary where the template puts it even for BPE
// tokenizers that would merge across it. Prompts longer than max_prompt_tokens lose tokens from
// the left; responses longer than max_response_tokens are cut on the right and then have no
// end-of-turn token (the model is not taught to stop where the text was cut).
//
// Threads: pure functions and const objects; safe from any thread. Ownership: a ChatEncoder
// refers to its tokenizer, which must outlive it. Throws DataError for text that is not valid
// UTF-8 or a template the tokenizer lacks the end-of-turn token of, ConfigError for an unknown
// template name. Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gramrl::tokenizer {

class Tokenizer;

struct PromptResponse {
  std::vector<int64_t> prompt;
  std::vector<int64_t> response;
};

// A preference pair as two prompt + response sequences sharing one prompt (DPO, Bradley-Terry).
struct PromptResponsePair {
  PromptResponse chosen;
  PromptResponse rejected;
};

class ChatEncoder {
 public:
  ChatEncoder(const Tokenizer& tokenizer, std::string template_name, int64_t max_prompt_tokens,
              int64_t max_response_tokens);
  // The generation-prompt rendering of (system, user), left-truncated to max_prompt_tokens.
  std::vector<int64_t> prompt(const std::optional<std::string>& system, const std::string& user) const;
  // The response tokens plus end-of-turn, right-truncated (NOTE [Response tokens]).
  std::vector<int64_t> response(const std::string& text) const;
  const std::string& templateName() const { return template_name_; }
  int64_t endOfTurnId() const { return end_of_turn_; }

 private:
  const Tokenizer& tokenizer_;
  std::string template_name_;
  int64_t max_prompt_tokens_;
  int64_t max_response_tokens_;
  int64_t end_of_turn_;
};

// A prompt used without any chat template (`gramrl generate` without --chat-template): the text
// with the tokenizer's own special tokens, left-truncated to max_prompt_tokens as
// ChatEncoder::prompt truncates.
std::vector<int64_t> encodeRawPrompt(const Tokenizer& tokenizer, const std::string& text, int64_t max_prompt_tokens);

}  // namespace gramrl::tokenizer
