// A model's named tensors, and the check of a loaded state dict against what a model expects.
//
// StateDict is a std::map (name -> tensor), not a vector in module order: lookups by name are
// what the transformer's loader does, the order is deterministic (sorted by name, so saving is
// reproducible), and safetensors files do not keep an order of their own (the writer sorts them,
// NOTE [Safetensors layout]). The tensors are shared handles: copying a StateDict copies no data.
//
// Threads: free functions on values; safe from any thread as long as nobody modifies the
// StateDict meanwhile.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/Tensor.h>

#include "common/checkpoint/safetensors.h"

namespace gramrl::checkpoint {

using StateDict = std::map<std::string, at::Tensor>;

// safetensors dtype <-> torch scalar type. toDType throws DataError naming `name` for a torch type
// safetensors cannot hold here (complex, quantized, unsigned 16-64 bit).
at::ScalarType toScalarType(DType dtype);
DType toDType(at::ScalarType type, std::string_view name);

// What a model expects of one tensor. An empty dtype accepts any dtype.
struct TensorSpec {
  std::vector<int64_t> shape;
  std::optional<at::ScalarType> dtype;
};
using StateDictSpec = std::map<std::string, TensorSpec>;

// Every difference between a state dict and a spec, each list sorted by name.
struct StateDictDiff {
  std::vector<std::string> missing;     // in the spec, not in the state dict
  std::vector<std::string> unexpected;  // in the state dict, not in the spec
  // "name: expected [4, 8] BFloat16, got [8, 4] Float"
  std::vector<std::string> mismatched;
  bool isEmpty() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  // One line per difference, after a summary line naming `source`.
  std::string describe(std::string_view source) const;
};

StateDictDiff diffStateDict(const StateDict& tensors, const StateDictSpec& spec);

// Throws DataError with every missing, unexpected and mismatched tensor (StateDictDiff::describe)
// unless the state dict matches the spec exactly. `source` names the checkpoint in the message.
void checkStateDict(const StateDict& tensors, const StateDictSpec& spec, std::string_view source);

}  // namespace gramrl::checkpoint
