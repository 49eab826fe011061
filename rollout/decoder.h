// What the generation engine needs from a model: a KV cache of fixed slots and a cached step.
//
// The engine is written against this interface, not the transformer, so it can be tested with
// a scripted fake (tests/rollout) and driven by any model with a KV cache. TransformerDecoder
// (transformer_decoder.h) adapts common/model's Transformer + KvCache.
//
// Threads: one owner thread (the engine's). Calls block while the model computes.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/Tensor.h>

namespace gramrl {

class Decoder {
 public:
  virtual ~Decoder() = default;

  // Number of sequences the cache holds at once, and the longest sequence (prompt + response).
  virtual int64_t maxSlots() const = 0;
  virtual int64_t maxLength() const = 0;
  virtual int64_t vocabSize() const = 0;

  // Appends each row's first lengths[b] tokens of input_ids [B, T] (int64, right-padded) to
  // slot slots[b], and returns the next-token logits after each row's last appended token,
  // [B, vocabSize()]. Rows may belong to slots of different lengths.
  virtual at::Tensor step(const std::vector<int64_t>& slots, const at::Tensor& input_ids,
                          const std::vector<int64_t>& lengths) = 0;

  virtual int64_t slotLength(int64_t slot) const = 0;
  virtual void clearSlot(int64_t slot) = 0;
  // Makes dst hold exactly what src holds (n samples of one prompt share one prefill).
  virtual void copySlot(int64_t src, int64_t dst) = 0;
};

}  // namespace gramrl
