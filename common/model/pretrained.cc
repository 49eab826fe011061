#include "common/model/pretrained.h"

#include <algorithm>

#include <torch/torch.h>

#include "common/checkpoint/hf_config.h"
#include "common/core/errors.h"
#include "common/model/presets.h"

namespace gramrl {
namespace {

bool endsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// True when no element is NaN or infinite: its exponent bits (`mask`) are not all ones.
template <typename Bits>
bool exponentsFinite(const void* data, int64_t count, Bits mask) {
  const auto* p = static_cast<const Bits*>(data);
  constexpr int64_t kBlock = 1 << 16;
  for (int64_t begin = 0; begin < count; begin += kBlock) {
    const int64_t end = std::min(count, begin + kBlock);
    bool bad = false;
    for (int64_t i = begin; i < end; ++i) bad |= (p[i] & mask) == mask;  // vectorises
    if (bad) return false;
  }
  return true;
}

// NOTE [Finite check of loaded weights]
// torch::isfinite(t).all() on a CPU bf16 tensor runs at about 50 MB/s in LibTorch 1.13: for
// Qwen3-0.6B (1.19 GB) it was 25 of the 26 seconds of loadPretrained (bench/checkpoint_bench.cc
// --model tests/data/checkpoint/qwen3_config.json). The IEEE exponent test on the raw bits reads
// the mapped bytes once at memory speed; other layouts and devices keep the torch check.
bool allFinite(const at::Tensor& t) {
  if (!t.is_floating_point()) return true;
  if (t.device().is_cpu() && t.is_contiguous()) {
    switch (t.scalar_type()) {
      case at::kBFloat16: return exponentsFinite<uint16_t>(t.data_ptr(), t.numel(), 0x7F80);
      case at::kHalf: return exponentsFinite<uint16_t>(t.data_ptr(), t.numel(), 0x7C00);
      case at::kFloat: return exponentsFinite<uint32_t>(t.data_ptr(), t.numel(), 0x7F800000u);
      case at::kDouble: return exponentsFinite<uint64_t>(t.data_ptr(), t.numel(), 0x7FF0000000000000ull);
      default: break;
    }
  }
  return torch::isfinite(t).all().item<bool>();
}

}  // namespace

std::string torchDtypeName(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    case at::kDouble: return "float64";
    default: break;
  }
  GRAMRL_CHECK(false, ConfigError, "model: dtype {} cannot be a checkpoint's torch_dtype", c10::toString(dtype));
  return {};
}

checkpoint::StateDict stateDict(const Transformer& model) {
  checkpoint::StateDict out;
  for (const auto& item : model.named_parameters()) out.emplace(item.key(), item.value().detach());
  return out;
}

checkpoint::StateDictSpec stateDictSpec(const Transformer& model) {
  checkpoint::StateDictSpec spec;
  for (const auto& item : model.named_parameters()) {
    spec.emplace(item.key(), checkpoint::TensorSpec{item.value().sizes().vec(), std::nullopt});
  }
  return spec;
}

void loadStateDict(Transformer& model, const checkpoint::StateDict& tensors, std::string_view source,
                   const std::vector<std::string>& allow_missing) {
  checkpoint::StateDict kept;
  for (const auto& [name, tensor] : tensors) {
    const bool tied_head = name == "lm_head.weight" && model.config().tie_word_embeddings;
    if (!tied_head && !endsWith(name, "rotary_emb.inv_freq")) kept.emplace(name, tensor);
  }
  checkpoint::StateDictSpec spec = stateDictSpec(model);
  for (const std::string& name : allow_missing) {
    if (kept.count(name) == 0) spec.erase(name);
  }
  checkpoint::checkStateDict(kept, spec, source);
  torch::NoGradGuard no_grad;
  auto params = model.named_parameters();
  for (const auto& [name, tensor] : kept) {
    // A NaN weight gives NaN logits, then null log-probs or 0 accuracy with exit 0 (issue 15).
    GRAMRL_CHECK(allFinite(tensor), DataError,  // NOTE [Finite check of loaded weights]
                 "{}: tensor {} holds NaN or infinite values; the checkpoint is damaged", source, name);
    params[name].copy_(tensor);
  }
}

std::shared_ptr<Transformer> loadPretrained(const std::string& source, at::ScalarType dtype, at::Device device,
                                            const PretrainedOptions& options) {
  if (isBuiltinSource(source)) {
    ModelConfig config = presetConfig(source);
    config.value_head = config.value_head || options.value_head;
    auto model = std::make_shared<Transformer>(config, dtype, device);
    initRandom(*model, options.seed);
    return model;
  }
  ModelConfig config = checkpoint::readHfConfigFile(source + "/" + checkpoint::kConfigFile);
  const bool add_value_head = options.value_head && !config.value_head;
  config.value_head = config.value_head || options.value_head;
  auto model = std::make_shared<Transformer>(config, dtype, device);
  std::vector<std::string> allow_missing;
  if (add_value_head) {
    allow_missing = {"value_head.weight", "value_head.bias"};
    auto params = model->named_parameters();
    for (const std::string& name : allow_missing) initParameter(name, params[name], options.seed);
  }
  loadStateDict(*model, checkpoint::loadCheckpointDir(source), source, allow_missing);
  return model;
}

std::vector<std::string> savePretrained(const Transformer& model, const std::string& dir, uint64_t max_shard_bytes) {
  std::vector<std::pair<std::string, at::Tensor>> weights;
  for (const auto& item : model.named_parameters()) weights.emplace_back(item.key(), item.value().detach());
  return savePretrained(model, weights, dir, max_shard_bytes);
}

std::vector<std::string> savePretrained(const Transformer& model,
                                        const std::vector<std::pair<std::string, at::Tensor>>& weights,
                                        const std::string& dir, uint64_t max_shard_bytes) {
  ModelConfig config = model.config();
  config.torch_dtype = torchDtypeName(model.dtype());
  // Shards follow the parameter (module registration) order, which is transformers' order, so a
  // sharded save puts each tensor in the shard save_pretrained would.
  std::vector<std::string> order;
  checkpoint::StateDict tensors;
  for (const auto& [name, tensor] : weights) {
    GRAMRL_ASSERT(tensor.defined(), "savePretrained: {} has no value", name);
    order.push_back(name);
    tensors.emplace(name, tensor);
  }
  return checkpoint::saveCheckpointDir(dir, config, tensors, max_shard_bytes, order);
}

}  // namespace gramrl
