#include "common/checkpoint/hf_config.h"

#include <cmath>
#include <limits>
#include <optional>

#include <fmt/ranges.h>

#include "common/checkpoint/file_io.h"
#include "common/checkpoint/json_util.h"
#include "common/core/errors.h"

namespace gramrl::checkpoint {
namespace {

using nlohmann::json;

constexpr size_t kMaxConfigBytes = 16 << 20;
constexpr int kMaxConfigDepth = 64;

struct Family {
  std::string_view model_type;
  std::string_view architecture;
};
constexpr Family kFamilies[] = {
    {"llama", "LlamaForCausalLM"},
    {"qwen2", "Qwen2ForCausalLM"},
    {"qwen3", "Qwen3ForCausalLM"},
};

std::optional<std::string_view> architectureFor(std::string_view model_type) {
  for (const Family& f : kFamilies) {
    if (f.model_type == model_type) return f.architecture;
  }
  return std::nullopt;
}

std::optional<std::string_view> modelTypeFor(std::string_view architecture) {
  for (const Family& f : kFamilies) {
    if (f.architecture == architecture) return f.model_type;
  }
  return std::nullopt;
}

bool isKnownDtype(std::string_view dtype) {
  return dtype == "float32" || dtype == "bfloat16" || dtype == "float16" || dtype == "float64";
}

// Typed access to the fields of one JSON object; errors name "<source>: <prefix><key>".
class FieldReader {
 public:
  FieldReader(const json& object, std::string_view source, std::string prefix = "")
      : object_(object), source_(source), prefix_(std::move(prefix)) {}

  // The value of `key`, or null when absent or JSON null.
  const json* get(std::string_view key) const {
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  [[noreturn]] void fail(std::string_view key, std::string_view expected, const json& got) const {
    throw DataError(fmt::format("{}: {}{}: expected {}, got {}", source_, prefix_, key, expected, detail::brief(got)));
  }
  [[noreturn]] void fail(std::string_view key, std::string_view message) const {
    throw DataError(fmt::format("{}: {}{}: {}", source_, prefix_, key, message));
  }

  // Integers; a float with an integral value (8192.0) is accepted as Python would.
  std::optional<int64_t> optInt(std::string_view key) const {
    const json* v = get(key);
    if (v == nullptr) return std::nullopt;
    return toInt(key, *v);
  }
  int64_t toInt(std::string_view key, const json& v) const {
    if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<int64_t>();
    if (v.is_number_unsigned() && v.get<uint64_t>() <= uint64_t{std::numeric_limits<int64_t>::max()}) {
      return static_cast<int64_t>(v.get<uint64_t>());
    }
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) return static_cast<int64_t>(d);
    }
    fail(key, "an integer", v);
  }
  int64_t positiveInt(std::string_view key, std::optional<int64_t> fallback) const {
    std::optional<int64_t> v = optInt(key);
    if (!v) {
      if (!fallback) fail(key, "missing (required)");
      return *fallback;
    }
    if (*v <= 0) fail(key, "a positive integer", *get(key));
    return *v;
  }
  double positiveNumber(std::string_view key, std::optional<double> fallback) const {
    const json* v = get(key);
    if (v == nullptr) {
      if (!fallback) fail(key, "missing (required)");
      return *fallback;
    }
    if (!v->is_number() || !(v->get<double>() > 0) || !std::isfinite(v->get<double>())) {
      fail(key, "a positive number", *v);
    }
    return v->get<double>();
  }
  bool boolean(std::string_view key, bool fallback) const {
    const json* v = get(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail(key, "true or false", *v);
    return v->get<bool>();
  }
  std::optional<std::string> string(std::string_view key) const {
    const json* v = get(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) fail(key, "a string", *v);
    return v->get<std::string>();
  }
  // Token ids: an integer >= 0 or null (-1).
  int64_t tokenId(std::string_view key) const {
    std::optional<int64_t> v = optInt(key);
    if (v && *v < 0) fail(key, "a token id >= 0 or null", *get(key));
    return v.value_or(-1);
  }

 private:
  const json& object_;
  std::string_view source_;
  std::string prefix_;
};

// rope_scaling / rope_parameters; `key` is the field's name for messages.
RopeScaling readRope(const FieldReader& top, std::string_view key, std::string_view source) {
  RopeScaling rope;
  const json* value = top.get(key);
  if (value == nullptr) return rope;
  if (!value->is_object()) top.fail(key, "null or an object", *value);
  const FieldReader r(*value, source, std::string(key) + ".");
  std::optional<std::string> type = r.string("rope_type");
  if (!type) type = r.string("type");  // the name before transformers 4.43
  if (!type || *type == "default") return rope;
  if (*type != "llama3") {
    r.fail("rope_type", fmt::format("rope type \"{}\" is not supported (supported: llama3, default)", *type));
  }
  rope.rope_type = "llama3";
  rope.factor = r.positiveNumber("factor", std::nullopt);
  rope.low_freq_factor = r.positiveNumber("low_freq_factor", std::nullopt);
  rope.high_freq_factor = r.positiveNumber("high_freq_factor", std::nullopt);
  rope.original_max_position_embeddings = r.positiveInt("original_max_position_embeddings", std::nullopt);
  return rope;
}

std::vector<int64_t> readEosIds(const FieldReader& r) {
  const json* v = r.get("eos_token_id");
  if (v == nullptr) return {};
  if (!v->is_array()) {
    const int64_t id = r.tokenId("eos_token_id");
    return {id};
  }
  std::vector<int64_t> ids;
  for (const json& item : *v) {
    const int64_t id = r.toInt("eos_token_id", item);
    if (id < 0) r.fail("eos_token_id", "token ids >= 0", *v);
    ids.push_back(id);
  }
  return ids;
}

// Fields that would change the function the model computes and that gramrl does not implement.
void rejectUnsupported(const FieldReader& r) {
  if (std::optional<std::string> act = r.string("hidden_act"); act && *act != "silu") {
    r.fail("hidden_act", fmt::format("\"{}\" is not supported (only silu)", *act));
  }
  if (r.boolean("use_sliding_window", false)) r.fail("use_sliding_window", "sliding-window attention is not supported");
  if (const json* types = r.get("layer_types")) {
    if (!types->is_array()) r.fail("layer_types", "an array", *types);
    for (const json& t : *types) {
      if (t != "full_attention") r.fail("layer_types", "only \"full_attention\" layers are supported", t);
    }
  }
  if (r.get("quantization_config") != nullptr) {
    r.fail("quantization_config", "quantized checkpoints are not supported");
  }
}

}  // namespace

const std::vector<std::string>& supportedArchitectures() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Family& f : kFamilies) out.emplace_back(f.architecture);
    return out;
  }();
  return names;
}

ModelConfig parseHfConfig(std::string_view json_text, std::string_view source) {
  const json root = detail::parseJsonStrict(json_text, source, kMaxConfigDepth);
  GRAMRL_CHECK(root.is_object(), DataError, "{}: expected a JSON object, got {}", source, detail::typeName(root));
  const FieldReader r(root, source);
  const std::string supported = fmt::format("{}", fmt::join(supportedArchitectures(), ", "));

  ModelConfig c;
  std::optional<std::string> model_type = r.string("model_type");
  std::string architecture;
  if (const json* archs = r.get("architectures")) {
    if (!archs->is_array() || archs->empty() || !(*archs)[0].is_string()) {
      r.fail("architectures", "a list of architecture names", *archs);
    }
    architecture = (*archs)[0].get<std::string>();
    GRAMRL_CHECK(modelTypeFor(architecture).has_value(), DataError,
                 "{}: architectures: \"{}\" is not supported (supported: {})", source, architecture, supported);
  }
  GRAMRL_CHECK(model_type || !architecture.empty(), DataError,
               "{}: neither model_type nor architectures is given (supported architectures: {})", source, supported);
  if (!model_type) model_type = std::string(*modelTypeFor(architecture));
  GRAMRL_CHECK(architectureFor(*model_type).has_value(), DataError,
               "{}: model_type: \"{}\" is not supported (supported architectures: {})", source, *model_type, supported);
  if (architecture.empty()) architecture = std::string(*architectureFor(*model_type));
  GRAMRL_CHECK(*modelTypeFor(architecture) == *model_type, DataError,
               "{}: architectures[0] \"{}\" does not match model_type \"{}\"", source, architecture, *model_type);
  c.model_type = *model_type;
  c.architecture = architecture;
  rejectUnsupported(r);

  c.vocab_size = r.positiveInt("vocab_size", std::nullopt);
  c.hidden_size = r.positiveInt("hidden_size", std::nullopt);
  c.intermediate_size = r.positiveInt("intermediate_size", std::nullopt);
  c.num_hidden_layers = r.positiveInt("num_hidden_layers", std::nullopt);
  c.num_attention_heads = r.positiveInt("num_attention_heads", std::nullopt);
  c.num_key_value_heads = r.positiveInt("num_key_value_heads", c.num_attention_heads);
  if (c.model_type == "qwen3") {
    c.head_dim = r.positiveInt("head_dim", int64_t{128});
  } else if (r.get("head_dim") != nullptr) {
    c.head_dim = r.positiveInt("head_dim", std::nullopt);
  } else {
    GRAMRL_CHECK(c.hidden_size % c.num_attention_heads == 0, DataError,
                 "{}: hidden_size {} is not divisible by num_attention_heads {} and head_dim is not given", source,
                 c.hidden_size, c.num_attention_heads);
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  c.max_position_embeddings =
      r.positiveInt("max_position_embeddings", c.model_type == "llama" ? int64_t{2048} : int64_t{32768});
  c.rms_norm_eps = r.positiveNumber("rms_norm_eps", 1e-6);
  c.rope_theta = r.positiveNumber("rope_theta", 10000.0);
  c.rope_scaling = readRope(r, "rope_scaling", source);
  if (const json* params = r.get("rope_parameters")) {  // transformers v5
    if (!params->is_object()) r.fail("rope_parameters", "an object", *params);
    c.rope_theta = FieldReader(*params, source, "rope_parameters.").positiveNumber("rope_theta", c.rope_theta);
    c.rope_scaling = readRope(r, "rope_parameters", source);
  }

  const bool attention_bias = r.boolean("attention_bias", false);
  c.qkv_bias = c.model_type == "qwen2" ? true : attention_bias;
  c.o_bias = c.model_type == "qwen2" ? false : attention_bias;
  c.mlp_bias = c.model_type == "llama" ? r.boolean("mlp_bias", false) : false;
  c.qk_norm = c.model_type == "qwen3";
  c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);

  std::optional<std::string> dtype = r.string("dtype");
  const char* dtype_key = "dtype";
  if (!dtype) {
    dtype = r.string("torch_dtype");
    dtype_key = "torch_dtype";
  }
  if (dtype) {
    if (!isKnownDtype(*dtype)) {
      r.fail(dtype_key, fmt::format("\"{}\" is not supported (float32, bfloat16, float16, float64)", *dtype));
    }
    c.torch_dtype = *dtype;
  }
  c.bos_token_id = r.tokenId("bos_token_id");
  c.eos_token_ids = readEosIds(r);
  c.pad_token_id = r.tokenId("pad_token_id");
  c.value_head = r.boolean("gramrl_value_head", false);

  const std::vector<std::string> problems = modelConfigProblems(c);
  GRAMRL_CHECK(problems.empty(), DataError, "{}: {}", source, fmt::join(problems, "; "));
  return c;
}

ModelConfig readHfConfigFile(const std::string& path) { return parseHfConfig(readFile(path, kMaxConfigBytes), path); }

std::vector<std::string> modelConfigProblems(const ModelConfig& c) {
  std::vector<std::string> out;
  auto require = [&](bool ok, std::string problem) {
    if (!ok) out.push_back(std::move(problem));
  };
  const std::optional<std::string_view> arch = architectureFor(c.model_type);
  if (!arch) {
    out.push_back(fmt::format("model_type \"{}\" is not supported (supported architectures: {})", c.model_type,
                              fmt::join(supportedArchitectures(), ", ")));
    return out;
  }
  require(c.architecture == *arch, fmt::format("architecture \"{}\" does not match model_type \"{}\" (expected {})",
                                               c.architecture, c.model_type, *arch));
  for (auto [name, value] : {std::pair<const char*, int64_t>{"vocab_size", c.vocab_size},
                             {"hidden_size", c.hidden_size},
                             {"intermediate_size", c.intermediate_size},
                             {"num_hidden_layers", c.num_hidden_layers},
                             {"num_attention_heads", c.num_attention_heads},
                             {"num_key_value_heads", c.num_key_value_heads},
                             {"head_dim", c.head_dim},
                             {"max_position_embeddings", c.max_position_embeddings}}) {
    require(value > 0, fmt::format("{} must be positive, got {}", name, value));
  }
  if (c.num_attention_heads > 0 && c.num_key_value_heads > 0) {
    require(c.num_attention_heads % c.num_key_value_heads == 0,
            fmt::format("num_attention_heads {} is not a multiple of num_key_value_heads {}", c.num_attention_heads,
                        c.num_key_value_heads));
  }
  require(c.rms_norm_eps > 0, fmt::format("rms_norm_eps must be positive, got {}", c.rms_norm_eps));
  require(c.rope_theta > 0, fmt::format("rope_theta must be positive, got {}", c.rope_theta));
  const RopeScaling& rope = c.rope_scaling;
  if (rope.rope_type == "llama3") {
    require(rope.factor > 0 && rope.low_freq_factor > 0 && rope.original_max_position_embeddings > 0,
            "rope_scaling: factor, low_freq_factor and original_max_position_embeddings must be positive");
    require(rope.high_freq_factor > rope.low_freq_factor,
            fmt::format("rope_scaling: high_freq_factor {} must be greater than low_freq_factor {}",
                        rope.high_freq_factor, rope.low_freq_factor));
  } else {
    require(rope.rope_type.empty(),
            fmt::format("rope_scaling: rope type \"{}\" is not supported (supported: llama3)", rope.rope_type));
  }
  if (c.model_type == "qwen2") {
    require(c.qkv_bias && !c.o_bias, "qwen2 has biases on q, k, v and none on o (qkv_bias true, o_bias false)");
  } else {
    require(c.qkv_bias == c.o_bias,
            fmt::format("{} puts attention_bias on q, k, v and o alike (qkv_bias {} != o_bias {})", c.model_type,
                        c.qkv_bias, c.o_bias));
  }
  require(!c.mlp_bias || c.model_type == "llama", fmt::format("{} has no mlp_bias", c.model_type));
  require(c.qk_norm == (c.model_type == "qwen3"),
          fmt::format("qk_norm must be {} for {}", c.model_type == "qwen3", c.model_type));
  require(isKnownDtype(c.torch_dtype),
          fmt::format("torch_dtype \"{}\" is not one of float32, bfloat16, float16, float64", c.torch_dtype));
  require(c.bos_token_id >= -1 && c.pad_token_id >= -1, "bos_token_id and pad_token_id must be >= 0 or -1 (none)");
  for (int64_t id : c.eos_token_ids) require(id >= 0, fmt::format("eos token id {} is negative", id));
  return out;
}

std::string toHfConfigJson(const ModelConfig& c) {
  const std::vector<std::string> problems = modelConfigProblems(c);
  GRAMRL_CHECK(problems.empty(), ConfigError, "cannot write config.json: {}", fmt::join(problems, "; "));
  // Token ids are written even when absent (null): LlamaConfig would otherwise default bos/eos
  // to 1 and 2.
  auto tokenId = [](int64_t id) { return id < 0 ? json(nullptr) : json(id); };
  json j = json::object();  // std::map: sorted keys, as save_pretrained's sort_keys=True
  j["architectures"] = json::array({c.architecture});
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  if (c.rope_scaling.rope_type.empty()) {
    j["rope_scaling"] = nullptr;
  } else {
    j["rope_scaling"] = {{"rope_type", c.rope_scaling.rope_type},
                         {"factor", c.rope_scaling.factor},
                         {"low_freq_factor", c.rope_scaling.low_freq_factor},
                         {"high_freq_factor", c.rope_scaling.high_freq_factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  }
  if (c.model_type != "qwen2") j["attention_bias"] = c.qkv_bias;
  if (c.model_type == "llama") j["mlp_bias"] = c.mlp_bias;
  if (c.model_type != "llama") j["use_sliding_window"] = false;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["torch_dtype"] = c.torch_dtype;
  j["bos_token_id"] = tokenId(c.bos_token_id);
  if (c.eos_token_ids.size() == 1) {
    j["eos_token_id"] = c.eos_token_ids[0];
  } else if (c.eos_token_ids.empty()) {
    j["eos_token_id"] = nullptr;
  } else {
    j["eos_token_id"] = c.eos_token_ids;
  }
  j["pad_token_id"] = tokenId(c.pad_token_id);
  j["attention_dropout"] = 0.0;
  j["initializer_range"] = 0.02;
  j["use_cache"] = true;
  j["gramrl_value_head"] = c.value_head;
  return j.dump(2) + "\n";
}

void writeHfConfigFile(const std::string& path, const ModelConfig& config) {
  writeFileAtomically(path, toHfConfigJson(config));
}

}  // namespace gramrl::checkpoint
