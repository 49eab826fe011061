#include "common/model/kv_cache.h"

#include <algorithm>

#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl {

KvCache::KvCache(const ModelConfig& config, int64_t max_slots, int64_t max_length, at::ScalarType dtype,
                 at::Device device)
    : max_length_(max_length) {
  GRAMRL_CHECK(max_slots > 0 && max_length > 0, ConfigError,
               "KV cache: max_slots and max_length must be positive, got {} and {}", max_slots, max_length);
  GRAMRL_CHECK(config.num_hidden_layers > 0 && config.num_key_value_heads > 0 && gramrl::headDim(config) > 0,
               ConfigError, "KV cache: config has {} layers, {} kv heads, head_dim {}", config.num_hidden_layers,
               config.num_key_value_heads, gramrl::headDim(config));
  storage_ = torch::zeros(
      {config.num_hidden_layers, 2, max_slots, config.num_key_value_heads, max_length, gramrl::headDim(config)},
      at::TensorOptions().dtype(dtype).device(device));
  lengths_.assign(static_cast<size_t>(max_slots), 0);
}

void KvCache::checkSlot(int64_t slot) const {
  GRAMRL_ASSERT(slot >= 0 && slot < maxSlots(), "KV cache: slot {} out of range [0, {})", slot, maxSlots());
}

int64_t KvCache::length(int64_t slot) const {
  checkSlot(slot);
  return lengths_[static_cast<size_t>(slot)];
}

void KvCache::clear(int64_t slot) {
  checkSlot(slot);
  lengths_[static_cast<size_t>(slot)] = 0;
}

void KvCache::clearAll() { std::fill(lengths_.begin(), lengths_.end(), 0); }

void KvCache::truncate(int64_t slot, int64_t new_length) {
  checkSlot(slot);
  GRAMRL_ASSERT(new_length >= 0 && new_length <= lengths_[static_cast<size_t>(slot)],
                "KV cache: cannot truncate slot {} of length {} to {}", slot, lengths_[static_cast<size_t>(slot)],
                new_length);
  lengths_[static_cast<size_t>(slot)] = new_length;
}

void KvCache::copySlot(int64_t src, int64_t dst) {
  checkSlot(src);
  checkSlot(dst);
  if (src == dst) return;
  const int64_t len = lengths_[static_cast<size_t>(src)];
  if (len > 0) {
    torch::NoGradGuard no_grad;
    storage_.select(2, dst).narrow(3, 0, len).copy_(storage_.select(2, src).narrow(3, 0, len));
  }
  lengths_[static_cast<size_t>(dst)] = len;
}

LayerCache KvCache::layer(int64_t layer) const {
  GRAMRL_ASSERT(layer >= 0 && layer < numLayers(), "KV cache: layer {} out of range [0, {})", layer, numLayers());
  at::Tensor both = storage_.select(0, layer);
  return LayerCache{both.select(0, 0), both.select(0, 1)};
}

void KvCache::advance(int64_t slot, int64_t count) {
  checkSlot(slot);
  int64_t& len = lengths_[static_cast<size_t>(slot)];
  GRAMRL_ASSERT(count >= 0 && len + count <= max_length_, "KV cache: slot {} cannot grow from {} by {} past {}", slot,
                len, count, max_length_);
  len += count;
}

}  // namespace gramrl
