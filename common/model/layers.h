// The layers of a Llama / Qwen decoder, each a torch::nn::Module whose parameters carry Hugging
// Face's names relative to it, so Transformer::named_parameters() yields exactly HF's names
// ("model.layers.3.self_attn.q_proj.weight", ...).
//
// Parameters are allocated with torch::empty in the dtype and on the device given at construction
// and hold garbage until initRandom() (presets.h) or loadPretrained() (pretrained.h) fills them.
//
// Threads: like any torch module; forward passes may run concurrently only while nobody writes
// the parameters. Throws: LibTorch's errors only; Transformer checks shapes before calling in.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/nn/module.h>

#include "common/model/model_config.h"

namespace gramrl {

// config.head_dim, or hidden_size / num_attention_heads where config.json did not say.
int64_t headDim(const ModelConfig& config);

// x @ weight^T (+ bias): HF's nn.Linear, parameters "weight" [out, in] and optionally "bias" [out].
class Projection : public torch::nn::Module {
 public:
  Projection(int64_t in, int64_t out, bool bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;
  const at::Tensor& weight() const { return weight_; }

 private:
  at::Tensor weight_;
  at::Tensor bias_;  // undefined without bias
};

// HF's LlamaRMSNorm / Qwen2RMSNorm / Qwen3RMSNorm over the last dimension: the normalisation is
// computed in float32 whatever the input dtype, cast back, then scaled by "weight" [dim].
class RmsNorm : public torch::nn::Module {
 public:
  RmsNorm(int64_t dim, double eps, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  at::Tensor weight_;
  double eps_;
};

// NOTE [Rotary embeddings]
// HF's convention: inv_freq[i] = theta^(-2i / D) for i < D/2, computed in float32 (then, for
// rope_type "llama3", low frequencies divided by factor and the band between them smoothly
// interpolated, as HF's _compute_llama3_parameters); angle = position * inv_freq in float32;
// cos and sin of cat(angle, angle) are cast to the model dtype, and
//   x' = x * cos + rotate_half(x) * sin,  rotate_half(x) = cat(-x[D/2:], x[:D/2]).
// The tables are built once per forward or step and shared by every layer.
struct Rotary {
  at::Tensor cos;  // [B, T, 1, D], model dtype
  at::Tensor sin;
};

// inv_freq [D/2] float32 on CPU for `config` (rope_theta, rope_scaling); throws ConfigError for a
// rope type other than "" and "llama3".
at::Tensor ropeInverseFrequencies(const ModelConfig& config);
// Tables for positions [B, T] (int64, any device); inv_freq must be on that device.
Rotary rotaryTables(const at::Tensor& inv_freq, const at::Tensor& positions, at::ScalarType dtype);
// x [B, T, heads, D] -> rotated, same shape.
at::Tensor applyRotary(const at::Tensor& x, const Rotary& rotary);

// What every layer of one forward or step shares: the rotary tables and the mask (NOTE
// [Attention masks] in transformer.cc), plus, for a cached step, where the new keys and values
// go in the cache and which slots are read back.
struct AttentionContext {
  Rotary rotary;
  at::Tensor blocked;  // [B, 1, 1, T, S] bool: true where query t of row b may NOT see key j
  // Cached step only (undefined otherwise):
  at::Tensor write_tokens;     // [N] int64: flat index b * T + t of each token appended
  at::Tensor write_slots;      // [N] its slot
  at::Tensor write_positions;  // [N] its position in the slot
  at::Tensor read_slots;       // [B] the slot of each row
  int64_t read_first = -1;     // >= 0 when read_slots is read_first, read_first + 1, ...: a view, no gather
  int64_t span = 0;            // S: positions 0 .. S-1 of each slot are read back
};

// One layer's part of a KvCache: views [max_slots, kv_heads, max_length, D] into its storage.
struct LayerCache {
  at::Tensor keys;
  at::Tensor values;
};

// Grouped-query self-attention: q/k/v/o_proj (biases per config), Qwen3's per-head q_norm and
// k_norm before RoPE, softmax in float32 as HF's eager attention.
class SelfAttention : public torch::nn::Module {
 public:
  SelfAttention(const ModelConfig& config, const at::TensorOptions& options);
  // x [B, T, hidden] -> [B, T, hidden]. With `cache`, stores this call's keys and values there
  // first (ctx.write_*) and attends to the slots' history (ctx.read_slots, ctx.span).
  at::Tensor forward(const at::Tensor& x, const AttentionContext& ctx, LayerCache* cache) const;

 private:
  int64_t heads_;
  int64_t kv_heads_;
  int64_t head_dim_;
  double scale_;
  std::shared_ptr<Projection> q_proj_, k_proj_, v_proj_, o_proj_;
  std::shared_ptr<RmsNorm> q_norm_, k_norm_;  // null unless config.qk_norm
};

// SwiGLU: down_proj(silu(gate_proj(x)) * up_proj(x)).
class GatedMlp : public torch::nn::Module {
 public:
  GatedMlp(const ModelConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  std::shared_ptr<Projection> gate_proj_, up_proj_, down_proj_;
};

// Pre-norm residual block: x + attn(input_layernorm(x)), then + mlp(post_attention_layernorm(.)).
class DecoderLayer : public torch::nn::Module {
 public:
  DecoderLayer(const ModelConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const AttentionContext& ctx, LayerCache* cache) const;

 private:
  std::shared_ptr<RmsNorm> input_layernorm_, post_attention_layernorm_;
  std::shared_ptr<SelfAttention> self_attn_;
  std::shared_ptr<GatedMlp> mlp_;
};

}  // namespace gramrl
