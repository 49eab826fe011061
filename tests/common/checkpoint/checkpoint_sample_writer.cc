// Writes sample checkpoints for the independent Python reader
// (scripts/reference/checkpoint/read_safetensors.py), which checks that what gramrl writes is what
// Hugging Face's safetensors and transformers read:
//
//   <build>/tests/common/checkpoint/checkpoint_sample_writer /tmp/ckpt-sample
//   /usr/bin/python3 scripts/reference/checkpoint/read_safetensors.py /tmp/ckpt-sample
//
// Output: <out>/single (config.json + model.safetensors), <out>/sharded (config.json, three
// shards, model.safetensors.index.json), and <out>/expected.json with, for every tensor, its dtype,
// shape and values as printed here (17 significant digits, exact for every dtype written).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "common/checkpoint/checkpoint.h"
#include "common/checkpoint/hf_config.h"

namespace {

using namespace gramrl::checkpoint;

std::string valuesJson(const at::Tensor& t) {
  const at::Tensor flat = t.to(at::kDouble).flatten().contiguous();
  const double* p = flat.data_ptr<double>();
  std::string out = "[";
  for (int64_t i = 0; i < flat.numel(); ++i) out += fmt::format("{}{:.17g}", i ? ", " : "", p[i]);
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1];
  std::filesystem::create_directories(out);
  torch::manual_seed(1234);

  StateDict tensors;
  tensors["model.embed_tokens.weight"] = torch::randn({16, 8}).to(at::kBFloat16);
  tensors["model.layers.0.self_attn.q_proj.weight"] = torch::randn({8, 8}).to(at::kHalf);
  tensors["model.layers.0.self_attn.q_norm.weight"] = torch::randn({4});
  tensors["model.norm.weight"] = torch::ones({8}, at::kDouble) * 0.125;
  tensors["lm_head.weight"] = (torch::randn({16, 8}) * 1e-3).to(at::kBFloat16);
  tensors["value_head.weight"] = torch::randn({1, 8}).to(at::kBFloat16).t();  // not contiguous
  tensors["buffers.position_ids"] = torch::arange(-3, 9, at::kLong).reshape({3, 4});
  tensors["buffers.i32"] = torch::arange(-5, 5, at::kInt);
  tensors["buffers.i16"] = torch::arange(-300, 300, 100, at::kShort);
  tensors["buffers.i8"] = torch::arange(-4, 4, at::kChar);
  tensors["buffers.u8"] = torch::arange(250, 256).to(at::kByte);
  tensors["buffers.mask"] = torch::tensor({true, false, true});
  tensors["buffers.scalar"] = torch::tensor(2.5f).reshape({});

  // The real Qwen3 config, found from this file's path (no -D next to the torch PCH).
  const auto fixtures = std::filesystem::path(__FILE__).parent_path() / "../../data/checkpoint";
  gramrl::ModelConfig config = readHfConfigFile((fixtures / "qwen3_config.json").lexically_normal().string());
  config.value_head = true;
  saveCheckpointDir(out + "/single", config, tensors);
  saveCheckpointDir(out + "/sharded", config, tensors, 300);

  std::string json = "{\n  \"config\": {\"model_type\": \"" + config.model_type + "\", \"architecture\": \"" +
                     config.architecture + "\", \"head_dim\": " + std::to_string(config.head_dim) + "},\n" +
                     "  \"tensors\": {";
  bool first = true;
  for (const auto& [name, t] : tensors) {
    json += fmt::format("{}\n    \"{}\": {{\"dtype\": \"{}\", \"shape\": [{}], \"values\": {}}}", first ? "" : ",",
                        name, dtypeName(toDType(t.scalar_type(), name)), fmt::join(t.sizes(), ", "), valuesJson(t));
    first = false;
  }
  json += "\n  }\n}\n";
  std::ofstream(out + "/expected.json") << json;
  std::printf("wrote %s/{single,sharded,expected.json}: %zu tensors\n", out.c_str(), tensors.size());
  return 0;
}
