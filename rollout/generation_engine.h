// Batched generation with continuous batching over a Decoder's KV-cache slots.
//
// NOTE [Continuous batching]
// The engine keeps every cache slot busy: each iteration it (1) admits pending prompts into free
// slots, prefilling several prompts in one step() call (up to max_prefill_tokens), where a
// prompt with n samples is prefilled once and its slot copied to n - 1 more; (2) samples the
// first token of every admitted sample from the prefill logits; (3) runs one decode step() for
// every active sequence, one token each; (4) retires sequences that sampled a stop token or
// reached max_new_tokens, freeing their slots for the next iteration's admissions. Prompts are
// admitted in order; a prompt waits until all n of its slots are free. Randomness is per
// sequence (NOTE [Per-sequence randomness] in sampling.h), so the tokens a sequence gets do not
// depend on which other sequences shared its batches.
//
// Threads: one owner thread; generate() blocks until every prompt is done. Callbacks run on that
// thread, between model steps. Throws ConfigError for bad options or a prompt that cannot fit,
// and whatever the Decoder throws.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "rollout/decoder.h"
#include "rollout/sampling.h"

namespace gramrl {

enum class FinishReason { kStopToken, kMaxTokens };

struct GenerationOptions {
  SamplingParams sampling;
  int64_t max_new_tokens = 64;
  std::vector<int64_t> stop_token_ids;  // the stop token is kept as the response's last token
  int64_t samples_per_prompt = 1;
  uint64_t seed = 0;
  int64_t max_prefill_tokens = 4096;  // prompt tokens per prefill step (at least one prompt)
  // Sample only ids below this (the tokenizer's vocabulary size: checkpoints often pad their
  // embedding matrix past it, as Qwen's 151936 rows for 151669 tokens); 0 = every model id.
  // The log-probs are then normalised over the allowed ids.
  int64_t vocab_limit = 0;
  // Identity of each prompt for its random streams (sequenceId); empty = the prompt's index.
  // Give dataset ids here so a prompt samples the same tokens whichever batch it comes in.
  std::vector<uint64_t> prompt_ids;
};

struct Completion {
  int64_t prompt_index = 0;  // position of the prompt in the input vector
  int64_t sample_index = 0;  // 0 .. samples_per_prompt - 1
  std::vector<int64_t> tokens;
  std::vector<float> logprobs;         // under the sampling distribution (sampling.h)
  std::vector<float> policy_logprobs;  // log_softmax(logits / T), what PPO uses
  FinishReason finish_reason = FinishReason::kMaxTokens;
};

struct GenerationStats {
  int64_t steps = 0;  // decoder step() calls
  int64_t prefill_steps = 0;
  int64_t prefill_tokens = 0;  // prompt tokens computed (once per prompt, not per sample)
  int64_t decode_tokens = 0;   // tokens fed in decode steps
  int64_t slot_copies = 0;
  double mean_active_slots = 0;  // over decode steps: how full the batch was
};

struct GenerationCallbacks {
  // A new token of completion (prompt_index, sample_index); for streaming output.
  std::function<void(int64_t prompt_index, int64_t sample_index, int64_t token)> on_token;
  // A completion finished.
  std::function<void(const Completion&)> on_finish;
};

class GenerationEngine {
 public:
  explicit GenerationEngine(Decoder& decoder) : decoder_(decoder) {}

  // Generates samples_per_prompt completions for every prompt. The result is ordered by
  // (prompt_index, sample_index), whatever order they finished in.
  std::vector<Completion> generate(const std::vector<std::vector<int64_t>>& prompts, const GenerationOptions& options,
                                   const GenerationCallbacks& callbacks = {});

  const GenerationStats& stats() const { return stats_; }

 private:
  Decoder& decoder_;
  GenerationStats stats_;
};

// The random-stream id of a sample (see sampleUniform).
uint64_t sequenceId(uint64_t prompt_id, int64_t sample_index);

}  // namespace gramrl
