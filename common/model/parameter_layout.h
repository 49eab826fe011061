// The element count of every parameter tensor of a Transformer (transformer.h) built from a
// ModelConfig, in named_parameters() order, without building it: ZeRO-1 cuts the trainable
// tensors into shards in this order (NOTE [ZeRO-1 optimizer sharding] in
// learner/engine/update_step.h) and `gramrl plan` sizes the largest shard from it.
// tests/common/model (ParameterLayout.MatchesTheModel) checks it against real models.
//
// Header-only and torch-free (common/plan includes it). Threads: a pure function.
#pragma once

#include <cstdint>
#include <vector>

#include "common/model/model_config.h"

namespace gramrl {

// One parameter tensor: its element count, the decoder layer it belongs to (-1: embeddings,
// final norm, heads) and whether it is a matrix (rank >= 2: AdamW decays it; ZeRO-3 puts it in its
// layer's decayed unit, NOTE [ZeRO-3 parameter sharding] in learner/engine/zero3.h).
struct ParameterSlot {
  int64_t numel = 0;
  int64_t layer = -1;
  bool matrix = false;
  bool lm_head = false;  // lm_head.weight (present when the embeddings are not tied)
};

inline std::vector<ParameterSlot> parameterSlots(const ModelConfig& c) {
  const int64_t h = c.hidden_size, inter = c.intermediate_size;
  const int64_t nh = c.num_attention_heads, nkv = c.num_key_value_heads;
  const int64_t d = c.head_dim > 0 ? c.head_dim : (nh > 0 ? h / nh : 0);
  std::vector<ParameterSlot> out{{c.vocab_size * h, -1, true}};  // model.embed_tokens.weight
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    auto matrix = [&](int64_t n) { out.push_back({n, layer, true}); };
    auto vector = [&](int64_t n) { out.push_back({n, layer, false}); };
    // self_attn: q, k, v, o projections (weight, then bias), q_norm, k_norm
    matrix(nh * d * h);
    if (c.qkv_bias) vector(nh * d);
    for (int kv = 0; kv < 2; ++kv) {
      matrix(nkv * d * h);
      if (c.qkv_bias) vector(nkv * d);
    }
    matrix(h * nh * d);
    if (c.o_bias) vector(h);
    if (c.qk_norm) {
      vector(d);
      vector(d);
    }
    // mlp: gate, up, down
    for (int64_t outputs : {inter, inter, h}) {  // each weight is [outputs, inputs], inter x h in all
      matrix(inter * h);
      if (c.mlp_bias) vector(outputs);
    }
    vector(h);  // input_layernorm
    vector(h);  // post_attention_layernorm
  }
  out.push_back({h, -1, false});                                                  // model.norm
  if (!c.tie_word_embeddings) out.push_back({c.vocab_size * h, -1, true, true});  // lm_head
  if (c.value_head) {
    out.push_back({h, -1, true});   // value_head.weight [1, h]
    out.push_back({1, -1, false});  // value_head.bias
  }
  return out;
}

inline std::vector<int64_t> parameterNumels(const ModelConfig& c) {
  std::vector<int64_t> out;
  for (const ParameterSlot& slot : parameterSlots(c)) out.push_back(slot.numel);
  return out;
}

}  // namespace gramrl
