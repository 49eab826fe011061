// Keys and values of every layer for a fixed number of sequence slots, for Transformer::step().
//
// NOTE [KV cache slots]
// One tensor [layers, 2 (keys, values), max_slots, kv_heads, max_length, head_dim] is allocated
// (zero-filled) at construction and never resized; a slot is a row of it plus a length. Slot s
// holds the keys and values of positions 0 .. length(s) - 1 of one sequence; step() appends at
// length(s). clear() and truncate() only move the length: the stale entries beyond it are never
// attended to (the step mask stops at each row's own positions) and are overwritten later. The
// storage must stay finite everywhere, since masked positions still multiply by zero in the
// attention's probs @ values: that is why it starts zeroed, not torch::empty.
// Slot ids are the caller's (the generation engine maps sequences to slots); nothing here is
// allocated or freed per sequence.
//
// Threads: not thread-safe; one owner thread (the one that calls Transformer::step()). Ownership:
// keys()/values() return views sharing this cache's storage. Throws InternalError (via
// GRAMRL_ASSERT) for slot ids or lengths out of range: those are bugs in the caller.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/Tensor.h>

#include "common/model/layers.h"
#include "common/model/model_config.h"

namespace gramrl {

class Transformer;

class KvCache {
 public:
  // Allocates max_slots * max_length positions of every layer (see bytes()) of `dtype`, which
  // must be the model's, on `device`. Throws ConfigError for non-positive sizes.
  KvCache(const ModelConfig& config, int64_t max_slots, int64_t max_length, at::ScalarType dtype, at::Device device);

  int64_t maxSlots() const { return static_cast<int64_t>(lengths_.size()); }
  int64_t maxLength() const { return max_length_; }
  int64_t numLayers() const { return storage_.size(0); }
  int64_t kvHeads() const { return storage_.size(3); }
  int64_t headDim() const { return storage_.size(5); }
  at::ScalarType dtype() const { return storage_.scalar_type(); }
  at::Device device() const { return storage_.device(); }
  int64_t bytes() const { return static_cast<int64_t>(storage_.numel() * storage_.element_size()); }

  // Number of positions slot `slot` holds.
  int64_t length(int64_t slot) const;
  // Empties the slot (O(1), see NOTE [KV cache slots]).
  void clear(int64_t slot);
  void clearAll();
  // Keeps positions 0 .. new_length - 1 (new_length <= length(slot)); for rolling back tokens.
  void truncate(int64_t slot, int64_t new_length);
  // Makes dst hold what src holds: copies positions 0 .. length(src) - 1 of every layer (one
  // device copy) and sets dst's length. src == dst does nothing.
  void copySlot(int64_t src, int64_t dst);

  // Layer `layer`'s keys and values, views [max_slots, kv_heads, max_length, head_dim].
  LayerCache layer(int64_t layer) const;

 private:
  friend class Transformer;  // step() advances lengths after a successful append
  void checkSlot(int64_t slot) const;
  void advance(int64_t slot, int64_t count);

  at::Tensor storage_;
  int64_t max_length_;
  std::vector<int64_t> lengths_;
};

}  // namespace gramrl
