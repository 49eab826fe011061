// config.json <-> ModelConfig: the two real configs, HF's defaults, round trips and every error.
#include "common/checkpoint/hf_config.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/core/errors.h"
#include "tests/common/checkpoint/test_util.h"

namespace gramrl::checkpoint {
namespace {

using namespace gramrl::checkpoint::testing;
using nlohmann::json;

void expectSameConfig(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.model_type, b.model_type);
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.num_hidden_layers, b.num_hidden_layers);
  EXPECT_EQ(a.num_attention_heads, b.num_attention_heads);
  EXPECT_EQ(a.num_key_value_heads, b.num_key_value_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.rms_norm_eps, b.rms_norm_eps);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.rope_scaling.rope_type, b.rope_scaling.rope_type);
  EXPECT_EQ(a.rope_scaling.factor, b.rope_scaling.factor);
  EXPECT_EQ(a.rope_scaling.low_freq_factor, b.rope_scaling.low_freq_factor);
  EXPECT_EQ(a.rope_scaling.high_freq_factor, b.rope_scaling.high_freq_factor);
  EXPECT_EQ(a.rope_scaling.original_max_position_embeddings, b.rope_scaling.original_max_position_embeddings);
  EXPECT_EQ(a.qkv_bias, b.qkv_bias);
  EXPECT_EQ(a.o_bias, b.o_bias);
  EXPECT_EQ(a.mlp_bias, b.mlp_bias);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.torch_dtype, b.torch_dtype);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_ids, b.eos_token_ids);
  EXPECT_EQ(a.pad_token_id, b.pad_token_id);
  EXPECT_EQ(a.value_head, b.value_head);
}

ModelConfig parse(const json& j) { return parseHfConfig(j.dump(), "test/config.json"); }

// A minimal valid config of each family.
json minimal(const std::string& model_type) {
  return {{"model_type", model_type}, {"vocab_size", 64},       {"hidden_size", 32},
          {"intermediate_size", 48},  {"num_hidden_layers", 2}, {"num_attention_heads", 4}};
}

TEST(HfConfig, ReadsQwen3Config) {
  const ModelConfig c = readHfConfigFile(dataDir() + "/qwen3_config.json");
  EXPECT_EQ(c.model_type, "qwen3");
  EXPECT_EQ(c.architecture, "Qwen3ForCausalLM");
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_EQ(c.hidden_size, 1024);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.num_hidden_layers, 28);
  EXPECT_EQ(c.num_attention_heads, 16);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 128);  // explicit, and not hidden_size / heads (64)
  EXPECT_EQ(c.max_position_embeddings, 40960);
  EXPECT_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_TRUE(c.rope_scaling.rope_type.empty());
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(c.bos_token_id, 151643);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{151645});
  EXPECT_EQ(c.pad_token_id, -1);
  EXPECT_FALSE(c.value_head);
}

TEST(HfConfig, ReadsLlama31Config) {
  const ModelConfig c = readHfConfigFile(dataDir() + "/llama3.1_config.json");
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.intermediate_size, 14336);
  EXPECT_EQ(c.num_hidden_layers, 32);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 128);  // 4096 / 32, no head_dim in the file
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.rope_type, "llama3");
  EXPECT_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_EQ(c.rope_scaling.low_freq_factor, 1.0);
  EXPECT_EQ(c.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(c.bos_token_id, 128000);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
}

TEST(HfConfig, RealConfigsRoundTrip) {
  for (const char* name : {"qwen3_config.json", "llama3.1_config.json"}) {
    SCOPED_TRACE(name);
    const ModelConfig original = readHfConfigFile(dataDir() + "/" + name);
    expectSameConfig(parseHfConfig(toHfConfigJson(original), "written"), original);
  }
}

TEST(HfConfig, WrittenConfigHasWhatTransformersReads) {
  ModelConfig c = readHfConfigFile(dataDir() + "/llama3.1_config.json");
  c.value_head = true;
  const std::string text = toHfConfigJson(c);
  EXPECT_EQ(text.back(), '\n');
  const json j = json::parse(text);
  EXPECT_EQ(j["architectures"], json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(j["model_type"], "llama");
  EXPECT_EQ(j["hidden_act"], "silu");
  EXPECT_EQ(j["attention_bias"], false);
  EXPECT_EQ(j["mlp_bias"], false);
  EXPECT_EQ(j["head_dim"], 128);
  EXPECT_EQ(j["rope_scaling"]["rope_type"], "llama3");
  EXPECT_EQ(j["rope_scaling"]["original_max_position_embeddings"], 8192);
  EXPECT_EQ(j["eos_token_id"], json::array({128001, 128008, 128009}));
  EXPECT_TRUE(j["pad_token_id"].is_null());  // explicit null: LlamaConfig would not default it
  EXPECT_EQ(j["torch_dtype"], "bfloat16");
  EXPECT_EQ(j["tie_word_embeddings"], false);
  EXPECT_EQ(j["gramrl_value_head"], true);
  // Keys sorted, two-space indent, as save_pretrained writes them.
  EXPECT_EQ(text.rfind("{\n  \"architectures\": [\n    \"LlamaForCausalLM\"\n  ],\n  \"attention_bias\"", 0), 0u);
}

TEST(HfConfig, Qwen2HasQkvBiasAndNoOutputBiasWhateverAttentionBiasSays) {
  for (bool attention_bias : {false, true}) {
    json j = minimal("qwen2");
    j["attention_bias"] = attention_bias;
    const ModelConfig c = parse(j);
    EXPECT_TRUE(c.qkv_bias);
    EXPECT_FALSE(c.o_bias);
    EXPECT_FALSE(c.qk_norm);
    EXPECT_EQ(c.architecture, "Qwen2ForCausalLM");
    expectSameConfig(parseHfConfig(toHfConfigJson(c), "written"), c);
    EXPECT_FALSE(json::parse(toHfConfigJson(c)).contains("attention_bias"));
  }
}

TEST(HfConfig, AttentionBiasAppliesToAllFourProjectionsForLlamaAndQwen3) {
  for (const char* type : {"llama", "qwen3"}) {
    json j = minimal(type);
    j["attention_bias"] = true;
    const ModelConfig c = parse(j);
    EXPECT_TRUE(c.qkv_bias && c.o_bias) << type;
    EXPECT_EQ(c.qk_norm, std::string(type) == "qwen3");
    expectSameConfig(parseHfConfig(toHfConfigJson(c), "written"), c);
  }
}

TEST(HfConfig, DefaultsFollowTheTransformersConfigClasses) {
  const ModelConfig llama = parse(minimal("llama"));
  EXPECT_EQ(llama.head_dim, 8);  // 32 / 4
  EXPECT_EQ(llama.num_key_value_heads, 4);
  EXPECT_EQ(llama.rope_theta, 10000.0);
  EXPECT_EQ(llama.rms_norm_eps, 1e-6);
  EXPECT_EQ(llama.torch_dtype, "float32");
  EXPECT_FALSE(llama.tie_word_embeddings);
  EXPECT_EQ(llama.bos_token_id, -1);
  EXPECT_TRUE(llama.eos_token_ids.empty());
  EXPECT_EQ(llama.max_position_embeddings, 2048);
  const ModelConfig qwen3 = parse(minimal("qwen3"));
  EXPECT_EQ(qwen3.head_dim, 128);  // Qwen3Config's default, not 32 / 4
  EXPECT_EQ(qwen3.max_position_embeddings, 32768);
  json j = minimal("llama");
  j["head_dim"] = 16;
  j["num_key_value_heads"] = 2;
  j["mlp_bias"] = true;
  const ModelConfig explicit_values = parse(j);
  EXPECT_EQ(explicit_values.head_dim, 16);
  EXPECT_EQ(explicit_values.num_key_value_heads, 2);
  EXPECT_TRUE(explicit_values.mlp_bias);
}

TEST(HfConfig, ArchitecturesAloneOrModelTypeAloneIdentifyTheFamily) {
  json j = minimal("qwen2");
  j.erase("model_type");
  j["architectures"] = {"Qwen2ForCausalLM"};
  EXPECT_EQ(parse(j).model_type, "qwen2");
  EXPECT_EQ(parse(minimal("qwen3")).architecture, "Qwen3ForCausalLM");
}

TEST(HfConfig, EosTokenIdIsAnIntegerAListOrNull) {
  json j = minimal("llama");
  j["eos_token_id"] = 7;
  EXPECT_EQ(parse(j).eos_token_ids, std::vector<int64_t>{7});
  j["eos_token_id"] = {7, 9};
  EXPECT_EQ(parse(j).eos_token_ids, (std::vector<int64_t>{7, 9}));
  j["eos_token_id"] = nullptr;
  EXPECT_TRUE(parse(j).eos_token_ids.empty());
  j["eos_token_id"] = {7, "x"};
  EXPECT_THROW_WITH(parse(j), DataError, "test/config.json: eos_token_id: expected an integer, got \"x\"");
}

TEST(HfConfig, RopeScalingVariants) {
  json j = minimal("llama");
  j["rope_scaling"] = {{"type", "llama3"},  // the pre-4.43 key
                       {"factor", 32.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  EXPECT_EQ(parse(j).rope_scaling.factor, 32.0);
  j["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_TRUE(parse(j).rope_scaling.rope_type.empty());
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_THROW_WITH(parse(j), DataError, "rope_scaling.rope_type", "rope type \"yarn\" is not supported",
                    "supported: llama3, default");
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  EXPECT_THROW_WITH(parse(j), DataError, "rope_scaling.low_freq_factor: missing (required)");
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 4.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  EXPECT_THROW_WITH(parse(j), DataError, "high_freq_factor 4 must be greater than low_freq_factor 4");
  j["rope_scaling"] = "llama3";
  EXPECT_THROW_WITH(parse(j), DataError, "rope_scaling: expected null or an object");
}

TEST(HfConfig, ReadsTransformersV5RopeParametersAndDtype) {
  json j = minimal("llama");
  j["rope_parameters"] = {{"rope_type", "llama3"},   {"rope_theta", 500000.0},
                          {"factor", 8.0},           {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  j["dtype"] = "bfloat16";
  const ModelConfig c = parse(j);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.rope_type, "llama3");
  EXPECT_EQ(c.torch_dtype, "bfloat16");
}

TEST(HfConfig, UnsupportedArchitectureListsTheSupportedOnes) {
  json j = minimal("llama");
  j["architectures"] = {"MistralForCausalLM"};
  EXPECT_THROW_WITH(parse(j), DataError, "test/config.json: architectures: \"MistralForCausalLM\" is not supported",
                    "LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM");
  j = minimal("gemma");
  EXPECT_THROW_WITH(parse(j), DataError, "model_type: \"gemma\" is not supported", "Qwen3ForCausalLM");
  j = minimal("llama");
  j["architectures"] = {"Qwen2ForCausalLM"};
  EXPECT_THROW_WITH(parse(j), DataError, "architectures[0] \"Qwen2ForCausalLM\" does not match model_type \"llama\"");
  j = minimal("llama");
  j.erase("model_type");
  EXPECT_THROW_WITH(parse(j), DataError, "neither model_type nor architectures");
}

TEST(HfConfig, RejectsWhatWouldComputeADifferentFunction) {
  const std::pair<const char*, json> cases[] = {
      {"hidden_act", "gelu"},
      {"use_sliding_window", true},
      {"layer_types", {"full_attention", "sliding_attention"}},
      {"quantization_config", {{"quant_method", "gptq"}}},
  };
  for (const auto& [key, value] : cases) {
    json j = minimal("qwen2");
    j[key] = value;
    EXPECT_THROW_WITH(parse(j), DataError, std::string("test/config.json: ") + key);
  }
}

TEST(HfConfig, RejectsBadValuesNamingTheField) {
  const std::tuple<const char*, json, const char*> cases[] = {
      {"hidden_size", "1024", "hidden_size: expected an integer, got \"1024\""},
      {"hidden_size", 0, "hidden_size: expected a positive integer, got 0"},
      {"num_hidden_layers", 2.5, "num_hidden_layers: expected an integer, got 2.5"},
      {"vocab_size", nullptr, "vocab_size: missing (required)"},
      {"rms_norm_eps", -1, "rms_norm_eps: expected a positive number, got -1"},
      {"tie_word_embeddings", 1, "tie_word_embeddings: expected true or false, got 1"},
      {"torch_dtype", "int8", "torch_dtype: \"int8\" is not supported"},
      {"bos_token_id", -5, "bos_token_id: expected a token id >= 0 or null, got -5"},
      {"num_key_value_heads", 3, "num_attention_heads 4 is not a multiple of num_key_value_heads 3"},
      {"architectures", json::array(), "architectures: expected a list of architecture names"},
  };
  for (const auto& [key, value, message] : cases) {
    SCOPED_TRACE(key);
    json j = minimal("llama");
    j[key] = value;
    EXPECT_THROW_WITH(parse(j), DataError, message);
  }
  json j = minimal("llama");
  j["hidden_size"] = 30;  // not divisible by 4 heads, no head_dim
  EXPECT_THROW_WITH(parse(j), DataError, "hidden_size 30 is not divisible by num_attention_heads 4");
  EXPECT_THROW_WITH(parseHfConfig("{\"model_type\": \"llama\",}", "bad.json"), DataError, "bad.json: invalid JSON");
  EXPECT_THROW_WITH(parseHfConfig("[1]", "arr.json"), DataError, "arr.json: expected a JSON object, got an array");
  EXPECT_THROW_WITH(parseHfConfig(R"({"model_type": "llama", "model_type": "qwen2"})", "dup.json"), DataError,
                    "duplicate key \"model_type\"");
  EXPECT_THROW_WITH(readHfConfigFile("/nonexistent/config.json"), DataError, "cannot open /nonexistent/config.json");
}

TEST(HfConfig, WriterRejectsConfigsTransformersCannotExpress) {
  ModelConfig c = parse(minimal("qwen2"));
  c.o_bias = true;
  EXPECT_THROW_WITH(toHfConfigJson(c), ConfigError, "cannot write config.json", "qwen2 has biases on q, k, v");
  c = parse(minimal("llama"));
  c.qk_norm = true;
  c.architecture = "Qwen3ForCausalLM";
  EXPECT_THROW_WITH(toHfConfigJson(c), ConfigError, "architecture \"Qwen3ForCausalLM\" does not match",
                    "qk_norm must be false for llama");
  c = parse(minimal("llama"));
  c.rope_scaling.rope_type = "yarn";
  EXPECT_THROW_WITH(toHfConfigJson(c), ConfigError, "rope type \"yarn\" is not supported");
  EXPECT_TRUE(modelConfigProblems(parse(minimal("qwen3"))).empty());
}

TEST(HfConfig, WritesAtomically) {
  TempDir dir;
  const ModelConfig c = readHfConfigFile(dataDir() + "/qwen3_config.json");
  writeHfConfigFile(dir.file("config.json"), c);
  expectSameConfig(readHfConfigFile(dir.file("config.json")), c);
  EXPECT_EQ(listDir(dir.path()), std::vector<std::string>{"config.json"});
}

}  // namespace
}  // namespace gramrl::checkpoint
