// Helpers shared by the model tests: small models of each family whose every parameter matters.
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/model/presets.h"
#include "common/model/transformer.h"
#include "tests/support/temp_dir.h"

namespace gramrl::testing {

inline constexpr const char* kFamilies[] = {"llama", "qwen2", "qwen3"};

// builtin:tiny-<family> cut to two layers, optionally with a value head.
inline ModelConfig smallConfig(const std::string& family, bool value_head = false) {
  ModelConfig c = presetConfig("tiny-" + family);
  c.num_hidden_layers = 2;
  c.value_head = value_head;
  return c;
}

// A model whose weights are N(0, 0.1) (sharper attention than HF's 0.02) and whose norm weights
// and biases are perturbed away from 1 and 0, so that a bug in any of them changes the output.
inline std::shared_ptr<Transformer> makeModel(const ModelConfig& config, uint64_t seed,
                                              at::ScalarType dtype = at::kFloat, at::Device device = at::kCPU) {
  auto model = std::make_shared<Transformer>(config, dtype, device);
  initRandom(*model, seed, 0.1);
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    const bool is_norm = name.find("norm.weight") != std::string::npos;
    const bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (is_norm || is_bias) {
      item.value().add_(seededNormal(item.value().sizes(), initStreamKey(seed + 1, name), 0.2));
    }
  }
  return model;
}

// Random token ids in [0, vocab), reproducible from `seed`.
inline at::Tensor randomTokens(int64_t batch, int64_t len, int64_t vocab, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::randint(vocab, {batch, len}, gen, at::TensorOptions().dtype(at::kLong));
}

// TempDir comes from tests/support/temp_dir.h (this namespace).

// tests/data/model, found from this header's own path (the torch PCH forbids a -D for it).
inline std::string dataDir() {
  return (std::filesystem::path(__FILE__).parent_path() / "../../data/model").lexically_normal().string();
}

inline double maxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble).cpu() - b.to(at::kDouble).cpu()).abs().max().item<double>();
}

}  // namespace gramrl::testing
