// Hugging Face config.json <-> ModelConfig for the families gramrl implements (model_config.h).
// Torch-free.
//
// NOTE [Reading config.json]
// model_type (or architectures[0]), vocab_size, hidden_size, intermediate_size,
// num_hidden_layers and num_attention_heads are required: save_pretrained always writes them, and
// the config classes' defaults describe one arbitrary model size. Other fields are read with the
// defaults of the transformers config class of the model_type, because save_pretrained omits
// some fields that equal them:
//   head_dim             hidden_size / num_attention_heads (llama, qwen2); 128 for qwen3, which is
//                        Qwen3Config's default (real qwen3 configs always carry head_dim)
//   num_key_value_heads  num_attention_heads
//   max_position_embeddings  2048 (llama), 32768 (qwen2, qwen3)
//   qkv_bias / o_bias    qwen2: true / false whatever attention_bias says (Qwen2Attention
//                        hard-codes them); llama, qwen3: both = attention_bias (default false)
//   mlp_bias             llama: mlp_bias (default false); others: false
//   qk_norm              true exactly for qwen3
//   rope                 rope_theta (default 10000); rope_scaling null, {"rope_type"|"type":
//                        "default"} or {"rope_type": "llama3", factor, low_freq_factor,
//                        high_freq_factor, original_max_position_embeddings} (all four required);
//                        transformers v5's "rope_parameters" is read the same way
//   dtype                "torch_dtype", or "dtype" (transformers >= 4.56); default float32
//   token ids            bos/pad_token_id an integer or null (-1); eos_token_id an integer, a list
//                        or null (empty). Written as null when absent, since LlamaConfig would
//                        otherwise default bos/eos to 1/2.
// Anything that would make gramrl compute a different function than transformers is an error
// rather than ignored: another rope type, hidden_act other than silu, sliding-window attention,
// quantization_config. Unrelated fields (initializer_range, use_cache, ...) are ignored.
//
// Writing produces what transformers' save_pretrained would: sorted keys, two-space indent, every
// field above (hidden_act "silu", attention_bias for llama and qwen3, mlp_bias for llama), plus
// "gramrl_value_head", which transformers keeps as an extra attribute.
//
// Threads: free functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/model/model_config.h"

namespace gramrl::checkpoint {

// "LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM".
const std::vector<std::string>& supportedArchitectures();

// Parses config.json text (NOTE [Reading config.json]). `source` names it in errors. Throws
// DataError naming the field: malformed JSON, wrong types, out-of-range values, an unsupported
// architecture (listing the supported ones) or rope type.
ModelConfig parseHfConfig(std::string_view json_text, std::string_view source);

// parseHfConfig of a file. Throws DataError when it is missing or unreadable.
ModelConfig readHfConfigFile(const std::string& path);

// Problems that make `config` unusable or inexpressible in config.json (sizes not positive, heads
// not divisible, biases or qk_norm that contradict the model_type, an unknown dtype or rope type).
// Empty when it is consistent. Every config parseHfConfig returns is consistent.
std::vector<std::string> modelConfigProblems(const ModelConfig& config);

// config.json text for `config` that transformers loads back into the same architecture.
// Throws ConfigError listing modelConfigProblems().
std::string toHfConfigJson(const ModelConfig& config);

// Writes toHfConfigJson(config) to `path` atomically (file_io.h). Throws ConfigError, SystemError.
void writeHfConfigFile(const std::string& path, const ModelConfig& config);

}  // namespace gramrl::checkpoint
