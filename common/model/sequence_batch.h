// Padded batches of prompt + response token sequences and the log-probability of each response
// under a model. Shared by the trainers (DPO, SFT, GRAM stage 1, Bradley-Terry) and the reward
// scorers; the sequences come from tokenizer::ChatEncoder (common/tokenizer/chat_encoder.h, NOTE
// [Response tokens]).
//
// Threads: pure functions; responseLogProbs runs the model (transformer.h says which threads may
// share one). Throws nothing for well-formed input (an empty row list is an InternalError).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/Tensor.h>

#include "common/tokenizer/chat_encoder.h"

namespace gramrl {

class Transformer;

struct SequenceBatch {
  at::Tensor input_ids;       // [B, T] int64, prompt + response, right-padded with pad_id
  at::Tensor attention_mask;  // [B, T] int64, 1 for real tokens
  at::Tensor target_mask;     // [B, T - 1] bool: position t predicts response token t + 1
  int64_t tokens = 0;         // real tokens in the batch
};

// Rows of different lengths padded to the longest (at least 2 tokens wide).
SequenceBatch makeSequenceBatch(const std::vector<const tokenizer::PromptResponse*>& rows, int64_t pad_id,
                                at::Device device);

struct ResponseLogProbs {
  at::Tensor sum;    // [B] float32: sum over response tokens of log p(token | prefix), with autograd
  at::Tensor count;  // [B] float32: response tokens per row
};

ResponseLogProbs responseLogProbs(const Transformer& model, const SequenceBatch& batch);

}  // namespace gramrl
