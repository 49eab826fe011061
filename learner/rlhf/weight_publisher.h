// Builds the WeightSnapshot that learner rank 0 serves to actors after each update (NOTE [Weight
// sync] in experience_server.h).
//
// Threads: the model's owner thread (reads the parameters). Copies every parameter once to CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Tensor.h>

#include "learner/rlhf/experience_server.h"

namespace gramrl {
class Transformer;
}

namespace gramrl::rlhf {

inline constexpr size_t kDefaultWeightChunkBytes = size_t{16} << 20;
// Each tensor's bytes travel as a message segment of their own (no copy), and receivers accept
// transport::ReceiveLimits::max_segments (64) segments per message: half of that per chunk.
inline constexpr size_t kMaxTensorsPerChunk = 32;

// The parameters of `model` in named_parameters() order, in chunks of at most chunk_bytes and
// kMaxTensorsPerChunk tensors (a larger tensor is a chunk of its own).
std::shared_ptr<const WeightSnapshot> makeWeightSnapshot(const Transformer& model, int64_t version,
                                                         size_t chunk_bytes = kDefaultWeightChunkBytes);
// The same from the parameters' values by name, in named_parameters() order (ZeRO-3's gathered
// copies: TrainedModule::wholeParameters). The tensors are copied to the CPU.
std::shared_ptr<const WeightSnapshot> makeWeightSnapshot(const std::vector<std::pair<std::string, at::Tensor>>& weights,
                                                         int64_t version,
                                                         size_t chunk_bytes = kDefaultWeightChunkBytes);

}  // namespace gramrl::rlhf
