// Prompt + response token sequences: chat encoding with truncation, padded batches, and the
// log-probability of each response under a model. Shared by DPO, SFT and GRAM stage 1.
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
// Threads: pure functions and const objects; safe from any thread. Throws DataError for text
// that is not valid UTF-8 or a template the tokenizer lacks the end-of-turn token of.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ATen/Tensor.h>

namespace gramrl {

class Transformer;
namespace tokenizer {
class Tokenizer;
}
namespace data {
struct PreferencePair;
}

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
  ChatEncoder(const tokenizer::Tokenizer& tokenizer, std::string template_name, int64_t max_prompt_tokens,
              int64_t max_response_tokens);
  // The generation-prompt rendering of (system, user), left-truncated.
  std::vector<int64_t> prompt(const std::optional<std::string>& system, const std::string& user) const;
  // The response tokens plus end-of-turn, right-truncated (NOTE [Response tokens]).
  std::vector<int64_t> response(const std::string& text) const;
  const std::string& templateName() const { return template_name_; }
  int64_t endOfTurnId() const { return end_of_turn_; }

 private:
  const tokenizer::Tokenizer& tokenizer_;
  std::string template_name_;
  int64_t max_prompt_tokens_;
  int64_t max_response_tokens_;
  int64_t end_of_turn_;
};

// Each pair's prompt and both responses, encoded with `encoder`.
std::vector<PromptResponsePair> encodePreferencePairs(const std::vector<data::PreferencePair>& pairs,
                                                      const ChatEncoder& encoder);

struct SequenceBatch {
  at::Tensor input_ids;       // [B, T] int64, prompt + response, right-padded with pad_id
  at::Tensor attention_mask;  // [B, T] int64, 1 for real tokens
  at::Tensor target_mask;     // [B, T - 1] bool: position t predicts response token t + 1
  int64_t tokens = 0;         // real tokens in the batch
};

// Rows of different lengths padded to the longest (at least 2 tokens wide).
SequenceBatch makeSequenceBatch(const std::vector<const PromptResponse*>& rows, int64_t pad_id, at::Device device);

struct ResponseLogProbs {
  at::Tensor sum;    // [B] float32: sum over response tokens of log p(token | prefix), with autograd
  at::Tensor count;  // [B] float32: response tokens per row
};

ResponseLogProbs responseLogProbs(const Transformer& model, const SequenceBatch& batch);

}  // namespace gramrl
