// Writes the model fixtures of tests/data/model (see its README): for each family a random
// checkpoint (config.json + model.safetensors, saved by savePretrained) and a padded batch of
// inputs (inputs.safetensors). scripts/reference/model/reference_forward.py then adds the
// float64 reference outputs. Usage: model_fixture_writer <out_dir>
#include <filesystem>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "common/checkpoint/checkpoint.h"
#include "common/model/pretrained.h"
#include "tests/common/model/model_test_util.h"

namespace gramrl {
namespace {

// Tiny shapes (so the committed checkpoints stay ~150 KB) that still exercise every feature.
std::vector<std::pair<std::string, ModelConfig>> fixtureConfigs() {
  ModelConfig base = presetConfig("tiny-llama");
  base.hidden_size = 32;
  base.intermediate_size = 64;
  base.num_hidden_layers = 2;
  base.num_attention_heads = 4;
  base.num_key_value_heads = 2;
  base.head_dim = 8;
  base.max_position_embeddings = 256;

  // Llama-3: llama3 rope scaling with a short original context, so that with head_dim 8 and
  // theta 10000 the frequencies fall in all three bands (kept, smoothed, divided); untied.
  ModelConfig llama = base;
  llama.rope_theta = 10000.0;
  llama.rope_scaling = RopeScaling{"llama3", 8.0, 1.0, 4.0, 64};

  // Qwen2.5: q/k/v biases, tied embeddings.
  ModelConfig qwen2 = presetConfig("tiny-qwen2");
  qwen2.hidden_size = base.hidden_size;
  qwen2.intermediate_size = base.intermediate_size;
  qwen2.num_hidden_layers = 2;
  qwen2.num_attention_heads = 4;
  qwen2.num_key_value_heads = 2;
  qwen2.head_dim = 8;
  qwen2.max_position_embeddings = 256;

  // Qwen3: q/k norm, head_dim 16 != 32 / 4, one kv head for four query heads, untied, value head.
  ModelConfig qwen3 = presetConfig("tiny-qwen3");
  qwen3.hidden_size = base.hidden_size;
  qwen3.intermediate_size = base.intermediate_size;
  qwen3.num_hidden_layers = 2;
  qwen3.num_attention_heads = 4;
  qwen3.num_key_value_heads = 1;
  qwen3.head_dim = 16;
  qwen3.max_position_embeddings = 256;
  qwen3.tie_word_embeddings = false;
  qwen3.value_head = true;
  return {{"llama", llama}, {"qwen2", qwen2}, {"qwen3", qwen3}};
}

// Row 0 unpadded, row 1 left-padded by 3, row 2 right-padded by 4; padding holds <|pad|>.
void writeInputs(const std::string& path, int64_t vocab, uint64_t seed) {
  const int64_t batch = 3, len = 10;
  at::Tensor ids = testing::randomTokens(batch, len, vocab, seed);
  at::Tensor mask = at::ones({batch, len}, at::kLong);
  mask[1].narrow(0, 0, 3).zero_();
  mask[2].narrow(0, 6, 4).zero_();
  ids.masked_fill_(mask.eq(0), kBytePadId);
  checkpoint::saveSafetensorsFile(path, {{"input_ids", ids}, {"attention_mask", mask}});
}

int run(const std::string& out_dir) {
  uint64_t seed = 100;
  for (const auto& [name, config] : fixtureConfigs()) {
    const std::string dir = out_dir + "/" + name;
    std::filesystem::create_directories(dir);
    auto model = testing::makeModel(config, seed);
    savePretrained(*model, dir);
    writeInputs(dir + "/inputs.safetensors", config.vocab_size, seed + 1);
    std::cout << "wrote " << dir << "\n";
    seed += 10;
  }
  return 0;
}

}  // namespace
}  // namespace gramrl

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <out_dir>\n";
    return 2;
  }
  try {
    return gramrl::run(argv[1]);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
