// The architecture of a decoder-only transformer of the Llama / Qwen family, as Hugging Face's
// config.json describes it. Plain data: hf_config.h reads and writes config.json, presets.h
// holds the built-in tiny models, transformer.h builds the network from it.
//
// Families covered (model_type):
//   llama  Llama-3.x: RoPE with the "llama3" frequency scaling, untied or tied embeddings.
//   qwen2  Qwen2 / Qwen2.5: biases on the q, k and v projections (not on o).
//   qwen3  Qwen3: RMSNorm on q and k per head before RoPE, no projection biases, explicit head_dim.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gramrl {

struct RopeScaling {
  // "" (none) or "llama3". Other HF rope types are rejected when the config is read.
  std::string rope_type;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string model_type = "llama";               // llama | qwen2 | qwen3
  std::string architecture = "LlamaForCausalLM";  // architectures[0] in config.json
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_attention_heads unless config.json says otherwise
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  // Projection biases. HF: llama and qwen3 put config.attention_bias on q, k, v and o; qwen2
  // always has q, k, v biases and none on o.
  bool qkv_bias = false;
  bool o_bias = false;
  bool mlp_bias = false;
  bool qk_norm = false;  // qwen3
  bool tie_word_embeddings = false;
  std::string torch_dtype = "float32";  // dtype the checkpoint's weights are stored in
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = -1;
  // gramrl extension, written to config.json as "gramrl_value_head": a scalar head on the final
  // hidden state (critic, Bradley-Terry reward model), stored as tensor "value_head.weight"/".bias".
  bool value_head = false;
};

}  // namespace gramrl
