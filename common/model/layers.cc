#include "common/model/layers.h"

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl {

namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

int64_t headDim(const ModelConfig& config) {
  if (config.head_dim > 0) return config.head_dim;
  return config.num_attention_heads > 0 ? config.hidden_size / config.num_attention_heads : 0;
}

Projection::Projection(int64_t in, int64_t out, bool bias, const at::TensorOptions& options) {
  weight_ = register_parameter("weight", torch::empty({out, in}, options));
  if (bias) bias_ = register_parameter("bias", torch::empty({out}, options));
}

at::Tensor Projection::forward(const at::Tensor& x) const { return at::linear(x, weight_, bias_); }

RmsNorm::RmsNorm(int64_t dim, double eps, const at::TensorOptions& options) : eps_(eps) {
  weight_ = register_parameter("weight", torch::empty({dim}, options));
}

at::Tensor RmsNorm::forward(const at::Tensor& x) const {
  at::Tensor x32 = x.to(at::kFloat);
  at::Tensor normed = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight_ * normed.to(x.scalar_type());
}

at::Tensor ropeInverseFrequencies(const ModelConfig& config) {
  const int64_t dim = headDim(config);
  GRAMRL_CHECK(dim > 0 && dim % 2 == 0, ConfigError, "model: head_dim must be a positive even number, got {}", dim);
  // Float32 throughout, as HF's _compute_default_rope_parameters and _compute_llama3_parameters.
  at::Tensor exponents = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim);
  at::Tensor inv_freq = at::pow(config.rope_theta, exponents).reciprocal();
  const RopeScaling& s = config.rope_scaling;
  if (s.rope_type.empty()) return inv_freq;
  GRAMRL_CHECK(s.rope_type == "llama3", ConfigError,
               "model: rope_scaling.rope_type '{}' is not supported (only llama3)", s.rope_type);
  GRAMRL_CHECK(s.factor > 0 && s.high_freq_factor > s.low_freq_factor && s.low_freq_factor > 0 &&
                   s.original_max_position_embeddings > 0,
               ConfigError,
               "model: llama3 rope_scaling needs factor > 0 and 0 < low_freq_factor < high_freq_factor, got factor {}, "
               "low {}, high {}, original_max_position_embeddings {}",
               s.factor, s.low_freq_factor, s.high_freq_factor, s.original_max_position_embeddings);
  const double old_context = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / s.low_freq_factor;
  const double high_freq_wavelen = old_context / s.high_freq_factor;
  at::Tensor wavelen = (2 * kPi) / inv_freq;
  at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
  at::Tensor smooth = (old_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  at::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
  return at::where(medium, smoothed, scaled);
}

Rotary rotaryTables(const at::Tensor& inv_freq, const at::Tensor& positions, at::ScalarType dtype) {
  at::Tensor angles = positions.to(at::kFloat).unsqueeze(-1) * inv_freq;  // [B, T, D/2]
  at::Tensor emb = at::cat({angles, angles}, -1).unsqueeze(2);            // [B, T, 1, D]
  return Rotary{emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor applyRotary(const at::Tensor& x, const Rotary& rotary) {
  const int64_t half = x.size(-1) / 2;
  at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * rotary.cos + rotated * rotary.sin;
}

SelfAttention::SelfAttention(const ModelConfig& config, const at::TensorOptions& options)
    : heads_(config.num_attention_heads),
      kv_heads_(config.num_key_value_heads),
      head_dim_(headDim(config)),
      scale_(1.0 / std::sqrt(static_cast<double>(head_dim_))) {
  const int64_t hidden = config.hidden_size;
  q_proj_ =
      register_module("q_proj", std::make_shared<Projection>(hidden, heads_ * head_dim_, config.qkv_bias, options));
  k_proj_ =
      register_module("k_proj", std::make_shared<Projection>(hidden, kv_heads_ * head_dim_, config.qkv_bias, options));
  v_proj_ =
      register_module("v_proj", std::make_shared<Projection>(hidden, kv_heads_ * head_dim_, config.qkv_bias, options));
  o_proj_ = register_module("o_proj", std::make_shared<Projection>(heads_ * head_dim_, hidden, config.o_bias, options));
  if (config.qk_norm) {
    q_norm_ = register_module("q_norm", std::make_shared<RmsNorm>(head_dim_, config.rms_norm_eps, options));
    k_norm_ = register_module("k_norm", std::make_shared<RmsNorm>(head_dim_, config.rms_norm_eps, options));
  }
}

at::Tensor SelfAttention::forward(const at::Tensor& x, const AttentionContext& ctx, LayerCache* cache) const {
  const int64_t batch = x.size(0), len = x.size(1);
  at::Tensor q = q_proj_->forward(x).view({batch, len, heads_, head_dim_});
  at::Tensor k = k_proj_->forward(x).view({batch, len, kv_heads_, head_dim_});
  at::Tensor v = v_proj_->forward(x).view({batch, len, kv_heads_, head_dim_});
  if (q_norm_) {
    q = q_norm_->forward(q);
    k = k_norm_->forward(k);
  }
  q = applyRotary(q, ctx.rotary).transpose(1, 2);  // [B, Hq, T, D]
  k = applyRotary(k, ctx.rotary);                  // [B, T, Hkv, D]
  if (cache != nullptr) {
    using torch::indexing::Slice;
    const at::Tensor new_k = k.reshape({batch * len, kv_heads_, head_dim_}).index_select(0, ctx.write_tokens);
    const at::Tensor new_v = v.reshape({batch * len, kv_heads_, head_dim_}).index_select(0, ctx.write_tokens);
    // The cache is [slots, Hkv, max_length, D]; the two index tensors put new_k's [N] first.
    cache->keys.index_put_({ctx.write_slots, Slice(), ctx.write_positions}, new_k);
    cache->values.index_put_({ctx.write_slots, Slice(), ctx.write_positions}, new_v);
    k = cache->keys.narrow(2, 0, ctx.span);  // [B, Hkv, S, D] below
    v = cache->values.narrow(2, 0, ctx.span);
    if (ctx.read_first >= 0) {
      k = k.narrow(0, ctx.read_first, batch);
      v = v.narrow(0, ctx.read_first, batch);
    } else {
      k = k.index_select(0, ctx.read_slots);
      v = v.index_select(0, ctx.read_slots);
    }
  } else {
    k = k.transpose(1, 2);
    v = v.transpose(1, 2);
  }
  // Grouped-query attention without repeating k and v: query head h uses kv head h / G (HF's
  // repeat_kv), so the G query heads of one kv head are stacked along the time axis.
  const int64_t groups = heads_ / kv_heads_, span = k.size(2);
  at::Tensor scores = at::matmul(q.reshape({batch, kv_heads_, groups * len, head_dim_}), k.transpose(2, 3)) * scale_;
  scores = scores.view({batch, kv_heads_, groups, len, span})
               .masked_fill(ctx.blocked, -std::numeric_limits<double>::infinity());
  at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(x.scalar_type());
  at::Tensor out = at::matmul(probs.view({batch, kv_heads_, groups * len, span}), v);  // [B, Hkv, G*T, D]
  out = out.view({batch, heads_, len, head_dim_}).transpose(1, 2).reshape({batch, len, heads_ * head_dim_});
  return o_proj_->forward(out);
}

GatedMlp::GatedMlp(const ModelConfig& config, const at::TensorOptions& options) {
  const int64_t hidden = config.hidden_size, inner = config.intermediate_size;
  gate_proj_ = register_module("gate_proj", std::make_shared<Projection>(hidden, inner, config.mlp_bias, options));
  up_proj_ = register_module("up_proj", std::make_shared<Projection>(hidden, inner, config.mlp_bias, options));
  down_proj_ = register_module("down_proj", std::make_shared<Projection>(inner, hidden, config.mlp_bias, options));
}

at::Tensor GatedMlp::forward(const at::Tensor& x) const {
  return down_proj_->forward(at::silu(gate_proj_->forward(x)) * up_proj_->forward(x));
}

DecoderLayer::DecoderLayer(const ModelConfig& config, const at::TensorOptions& options) {
  // Registered in HF's order, so named_parameters() lists tensors as HF's state_dict() does.
  self_attn_ = register_module("self_attn", std::make_shared<SelfAttention>(config, options));
  mlp_ = register_module("mlp", std::make_shared<GatedMlp>(config, options));
  input_layernorm_ =
      register_module("input_layernorm", std::make_shared<RmsNorm>(config.hidden_size, config.rms_norm_eps, options));
  post_attention_layernorm_ = register_module(
      "post_attention_layernorm", std::make_shared<RmsNorm>(config.hidden_size, config.rms_norm_eps, options));
}

at::Tensor DecoderLayer::forward(const at::Tensor& x, const AttentionContext& ctx, LayerCache* cache) const {
  at::Tensor h = x + self_attn_->forward(input_layernorm_->forward(x), ctx, cache);
  return h + mlp_->forward(post_attention_layernorm_->forward(h));
}

}  // namespace gramrl
