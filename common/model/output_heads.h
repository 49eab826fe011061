// From final hidden states to what the algorithms consume: logits at chosen positions and
// vocabulary rows, the log-probability of taken tokens, and where each row's tokens are.
//
// All functions take the output embedding `weight` [V, H] (lm_head.weight, or
// embed_tokens.weight when tied) explicitly; Transformer has methods that pass its own. Results
// are new float32 tensors owned by the caller, computed in the model dtype and cast to float32
// (as HF's logits.float()); they are differentiable with respect to hidden and weight.
//
// Threads: free functions; safe from any thread. Throws DataError for target ids, vocab_ids or
// positions out of range (each checked with one host sync), and InternalError (GRAMRL_ASSERT)
// for tensors of the wrong rank or shape.
#pragma once

#include <cstdint>

#include <ATen/Tensor.h>

namespace gramrl {

// HF's position ids for a padded batch: cumsum(mask) - 1 for real tokens, 1 for padding.
// attention_mask [B, T] (any integer or bool dtype, 1 = real token) -> [B, T] int64.
at::Tensor positionIdsFromMask(const at::Tensor& attention_mask);

// Index of each row's last real token, for left or right padding alike. [B, T] -> [B] int64;
// a row without real tokens gives 0.
at::Tensor lastTokenPositions(const at::Tensor& attention_mask);

// Logits of every position: hidden [..., H] -> [..., V] float32. Memory is that of [..., V];
// prefer selectedLogits or tokenLogProbs for long sequences and large vocabularies.
at::Tensor fullLogits(const at::Tensor& hidden, const at::Tensor& weight);

// Logits at selected positions and vocabulary rows, computing only those dot products.
// hidden [B, T, H]; positions [B] or [B, P] (int64 indices into T); vocab_ids [K] int64, or an
// undefined tensor for the whole vocabulary. Returns [B, K] (or [B, P, K]) float32.
// GRAM's judgement: selectedLogits(hidden, lastTokenPositions(mask), ids_of("A", "B")) -> [B, 2].
at::Tensor selectedLogits(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& positions,
                          const at::Tensor& vocab_ids = {});

// NOTE [Chunked token log-probs]
// log p(target | hidden) = hidden . w_target - logsumexp(hidden @ W^T) needs a [N, V] row of
// logits per token, but only two numbers survive. tokenLogProbs computes the logits chunk by
// chunk (chunk_tokens tokens at a time, default: as many as fit in kLogitChunkBytes of float32
// logits) and keeps only the target logit and the log-sum-exp of each token. It is a custom
// autograd function: backward recomputes each chunk's logits from the saved hidden, weight and
// log-sum-exp, so neither pass ever holds more than one chunk's [chunk, V] logits (a plain
// log_softmax + gather would keep all [N, V] alive until backward). Cost: the logits matmul
// runs twice under training. Masked-out tokens are skipped entirely. Double backward is not
// supported.
inline constexpr int64_t kLogitChunkBytes = int64_t{128} << 20;

// out[b, t] = log softmax(hidden[b, t] @ W^T)[targets[b, t]] where mask[b, t], else 0.
// hidden [B, T, H]; targets [B, T] int64 (anything where the mask is 0); mask [B, T] (nonzero =
// keep). Returns [B, T] float32. The caller aligns targets: for next-token log-probs pass
// hidden[:, :-1] with input_ids[:, 1:]. chunk_tokens <= 0 picks the default (NOTE above).
at::Tensor tokenLogProbs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                         const at::Tensor& mask, int64_t chunk_tokens = 0);

}  // namespace gramrl
