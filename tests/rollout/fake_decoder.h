// A scripted Decoder for engine tests: its logits are a fixed pseudo-random function of the
// whole token history of a slot, like a language model's, so any mix-up of slots, positions or
// histories changes what is sampled.
#pragma once

#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "rollout/decoder.h"

namespace gramrl::testing {

class FakeDecoder : public Decoder {
 public:
  FakeDecoder(int64_t slots, int64_t max_length, int64_t vocab)
      : history_(slots), max_length_(max_length), vocab_(vocab) {}

  int64_t maxSlots() const override { return static_cast<int64_t>(history_.size()); }
  int64_t maxLength() const override { return max_length_; }
  int64_t vocabSize() const override { return vocab_; }
  int64_t slotLength(int64_t slot) const override { return static_cast<int64_t>(history_.at(slot).size()); }
  void clearSlot(int64_t slot) override { history_.at(slot).clear(); }
  void copySlot(int64_t src, int64_t dst) override { history_.at(dst) = history_.at(src); }

  at::Tensor step(const std::vector<int64_t>& slots, const at::Tensor& input_ids,
                  const std::vector<int64_t>& lengths) override {
    ++steps;
    calls.push_back({static_cast<int64_t>(slots.size()), input_ids.size(1)});
    at::Tensor out = torch::empty({static_cast<int64_t>(slots.size()), vocab_});
    for (size_t b = 0; b < slots.size(); ++b) {
      auto& h = history_.at(slots[b]);
      for (int64_t t = 0; t < lengths[b]; ++t) h.push_back(input_ids[static_cast<int64_t>(b)][t].item<int64_t>());
      GRAMRL_ASSERT(static_cast<int64_t>(h.size()) <= max_length_, "slot {} overflowed", slots[b]);
      uint64_t state = 1469598103934665603ull;
      for (int64_t tok : h) state = (state ^ static_cast<uint64_t>(tok)) * 1099511628211ull;
      for (int64_t v = 0; v < vocab_; ++v) {
        out[static_cast<int64_t>(b)][v] = 3.0 * std::sin(static_cast<double>((state >> 7) % 1000) * 0.37 + v * 1.3);
      }
    }
    return out;
  }

  int64_t steps = 0;
  std::vector<std::pair<int64_t, int64_t>> calls;  // (rows, T) of each step

 private:
  std::vector<std::vector<int64_t>> history_;
  int64_t max_length_;
  int64_t vocab_;
};

}  // namespace gramrl::testing
