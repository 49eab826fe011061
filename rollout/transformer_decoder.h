// The Decoder of the generation engine for common/model's Transformer: owns the KV cache.
//
// Threads: one owner thread (see Decoder). The model is shared (read-only during generation);
// the cache is this object's. Throws ConfigError for cache sizes the model cannot use.
#pragma once

#include <memory>

#include "common/model/kv_cache.h"
#include "common/model/transformer.h"
#include "rollout/decoder.h"

namespace gramrl {

class TransformerDecoder : public Decoder {
 public:
  // max_length is capped by nothing here: positions past the model's max_position_embeddings
  // still get RoPE, as in HF; choose it from the prompt and response lengths.
  TransformerDecoder(std::shared_ptr<const Transformer> model, int64_t max_slots, int64_t max_length);

  int64_t maxSlots() const override { return cache_.maxSlots(); }
  int64_t maxLength() const override { return cache_.maxLength(); }
  int64_t vocabSize() const override { return model_->config().vocab_size; }
  at::Tensor step(const std::vector<int64_t>& slots, const at::Tensor& input_ids,
                  const std::vector<int64_t>& lengths) override;
  int64_t slotLength(int64_t slot) const override { return cache_.length(slot); }
  void clearSlot(int64_t slot) override { cache_.clear(slot); }
  void copySlot(int64_t src, int64_t dst) override { cache_.copySlot(src, dst); }

  const KvCache& cache() const { return cache_; }

 private:
  std::shared_ptr<const Transformer> model_;
  KvCache cache_;
};

}  // namespace gramrl
