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

inline std::vector<int64_t> parameterNumels(const ModelConfig& c) {
  const int64_t h = c.hidden_size, inter = c.intermediate_size;
  const int64_t nh = c.num_attention_heads, nkv = c.num_key_value_heads;
  const int64_t d = c.head_dim > 0 ? c.head_dim : (nh > 0 ? h / nh : 0);
  std::vector<int64_t> out{c.vocab_size * h};  // model.embed_tokens.weight
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    // self_attn: q, k, v, o projections (weight, then bias), q_norm, k_norm
    out.push_back(nh * d * h);
    if (c.qkv_bias) out.push_back(nh * d);
    for (int kv = 0; kv < 2; ++kv) {
      out.push_back(nkv * d * h);
      if (c.qkv_bias) out.push_back(nkv * d);
    }
    out.push_back(h * nh * d);
    if (c.o_bias) out.push_back(h);
    if (c.qk_norm) {
      out.push_back(d);
      out.push_back(d);
    }
    // mlp: gate, up, down
    for (int64_t outputs : {inter, inter, h}) {  // each weight is [outputs, inputs], inter x h in all
      out.push_back(inter * h);
      if (c.mlp_bias) out.push_back(outputs);
    }
    out.push_back(h);  // input_layernorm
    out.push_back(h);  // post_attention_layernorm
  }
  out.push_back(h);                                             // model.norm
  if (!c.tie_word_embeddings) out.push_back(c.vocab_size * h);  // lm_head
  if (c.value_head) {
    out.push_back(h);  // value_head.weight
    out.push_back(1);  // value_head.bias
  }
  return out;
}

}  // namespace gramrl
