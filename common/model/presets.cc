#include "common/model/presets.h"

#include <cmath>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/transformer.h"

namespace gramrl {
namespace {

struct Size {
  const char* name;
  int64_t vocab, hidden, layers, heads, kv_heads, head_dim, intermediate, max_positions;
};

constexpr Size kSizes[] = {
    {"toy", kByteModelVocabSize, 96, 3, 4, 2, 24, 256, 512},
    {"tiny", kByteModelVocabSize, 128, 4, 4, 2, 32, 384, 2048},
    {"small", kByteModelVocabSize, 256, 8, 8, 2, 32, 768, 2048},
    {"0.5b", 151936, 896, 24, 14, 2, 64, 4864, 32768},
};
constexpr const char* kFamilies[] = {"llama", "qwen2", "qwen3"};

ModelConfig makePreset(const Size& size, const std::string& family) {
  ModelConfig c;
  c.model_type = family;
  c.vocab_size = size.vocab;
  c.hidden_size = size.hidden;
  c.intermediate_size = size.intermediate;
  c.num_hidden_layers = size.layers;
  c.num_attention_heads = size.heads;
  c.num_key_value_heads = size.kv_heads;
  c.head_dim = size.head_dim;
  c.max_position_embeddings = size.max_positions;
  c.torch_dtype = "float32";
  if (size.vocab == kByteModelVocabSize) {
    c.bos_token_id = kByteBosId;
    c.eos_token_ids = {kByteEosId, kByteEndId};
    c.pad_token_id = kBytePadId;
  } else {  // Qwen2.5's special tokens: <|endoftext|>, <|im_end|>.
    c.bos_token_id = 151643;
    c.eos_token_ids = {151645, 151643};
    c.pad_token_id = 151643;
  }
  if (family == "llama") {
    c.architecture = "LlamaForCausalLM";
    c.rope_theta = 500000.0;
    c.rope_scaling = RopeScaling{"llama3", 32.0, 1.0, 4.0, 8192};
    c.rms_norm_eps = 1e-5;
    c.tie_word_embeddings = false;
  } else if (family == "qwen2") {
    c.architecture = "Qwen2ForCausalLM";
    c.rope_theta = 1000000.0;
    c.qkv_bias = true;
    c.tie_word_embeddings = true;
  } else {
    c.architecture = "Qwen3ForCausalLM";
    c.rope_theta = 1000000.0;
    c.qk_norm = true;
    c.head_dim = 2 * size.head_dim;
    c.tie_word_embeddings = true;
  }
  return c;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<std::string> presetNames() {
  std::vector<std::string> names;
  for (const Size& size : kSizes) {
    for (const char* family : kFamilies) names.push_back(std::string(size.name) + "-" + family);
  }
  return names;
}

bool isBuiltinSource(const std::string& source) { return source.rfind(kBuiltinPrefix, 0) == 0; }

ModelConfig presetConfig(const std::string& name) {
  std::string bare = isBuiltinSource(name) ? name.substr(sizeof(kBuiltinPrefix) - 1) : name;
  for (const Size& size : kSizes) {
    if (bare == size.name) return makePreset(size, "qwen2");
    for (const char* family : kFamilies) {
      if (bare == std::string(size.name) + "-" + family) return makePreset(size, family);
    }
  }
  std::string known;
  for (const std::string& n : presetNames()) known += (known.empty() ? "" : ", ") + n;
  GRAMRL_CHECK(false, ConfigError, "model: unknown preset '{}'; known presets: {} (a bare size means -qwen2)", name,
               known);
  return {};
}

uint64_t initStreamKey(uint64_t seed, const std::string& name) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a over the name
  for (unsigned char ch : name) hash = (hash ^ ch) * 0x100000001b3ULL;
  return splitmix64(seed ^ splitmix64(hash));
}

at::Tensor seededNormal(at::IntArrayRef shape, uint64_t stream_key, double std) {
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
  float* data = out.data_ptr<float>();
  const int64_t numel = out.numel();
  constexpr double kTwoPi = 6.283185307179586476925;
  constexpr double kTwoPow53 = 1.0 / 9007199254740992.0;
  at::parallel_for(0, (numel + 1) / 2, int64_t{1} << 14, [&](int64_t begin, int64_t end) {
    for (int64_t pair = begin; pair < end; ++pair) {
      const uint64_t counter = stream_key + 2 * static_cast<uint64_t>(pair);
      const double u1 = static_cast<double>((splitmix64(counter) >> 11) + 1) * kTwoPow53;  // (0, 1]
      const double u2 = static_cast<double>(splitmix64(counter + 1) >> 11) * kTwoPow53;    // [0, 1)
      const double radius = std * std::sqrt(-2.0 * std::log(u1));
      data[2 * pair] = static_cast<float>(radius * std::cos(kTwoPi * u2));
      if (2 * pair + 1 < numel) data[2 * pair + 1] = static_cast<float>(radius * std::sin(kTwoPi * u2));
    }
  });
  return out;
}

void initParameter(const std::string& name, at::Tensor& param, uint64_t seed, double std) {
  torch::NoGradGuard no_grad;
  if (endsWith(name, "norm.weight")) {
    param.fill_(1.0);
  } else if (endsWith(name, ".bias")) {
    param.zero_();
  } else {
    param.copy_(seededNormal(param.sizes(), initStreamKey(seed, name), std));
  }
}

void initRandom(Transformer& model, uint64_t seed, double std) {
  for (auto& item : model.named_parameters()) initParameter(item.key(), item.value(), seed, std);
}

}  // namespace gramrl
