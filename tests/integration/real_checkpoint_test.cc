// Real checkpoint shapes (issue 14, item 6): a checkpoint of Qwen3-0.6B's published config.json
// (tests/data/checkpoint/qwen3_config.json: 596 M parameters, tied embeddings, q/k norms) with
// random bf16 weights, sharded with model.safetensors.index.json, loaded memory-mapped by the one
// loader (loadModelWithTokenizer) with the real Qwen3 tokenizer next to it, and generating.
//
// - RealCheckpoint.GramrlSavedQwen3LoadsMappedAndGenerates (no Python; ctest label integration):
//   gramrl writes the checkpoint (savePretrained, 500 MB shards: 3 shards, 1.19 GB) under a
//   temporary directory, which is removed at the end. Checks: the index as save_pretrained writes
//   it; every loaded tensor lies inside a read-only-file mapping of its shard (/proc/self/maps) and
//   equals the saved parameter bit for bit; the chat prompt's ids are the ones Hugging Face gives;
//   greedy generation with the KV cache equals the argmax of a full forward without it.
// - RealCheckpoint.TransformersSavedQwen3MatchesTransformers (ctest reference.real_qwen3_checkpoint):
//   the checkpoint transformers' save_pretrained wrote (scripts/reference/hf/make_real_qwen3.py,
//   in GRAMRL_REAL_QWEN3_REFERENCE): the chat prompt ids, the fp32 logits of every position, the
//   greedy tokens of generate(), and gramrl's own sharding of the same model against
//   transformers' index. Skipped without that directory.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/checkpoint.h"
#include "common/checkpoint/hf_config.h"
#include "common/model/model_loader.h"
#include "common/model/presets.h"
#include "common/model/pretrained.h"
#include "common/tokenizer/chat_encoder.h"
#include "rollout/generation_engine.h"
#include "rollout/transformer_decoder.h"
#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const std::string kSource = GRAMRL_SOURCE_DIR;
constexpr uint64_t kShardBytes = 500'000'000;  // save_pretrained(max_shard_size="500MB")
// fp32 against fp32 (the same bf16 weights upcast) through 28 layers, different kernels and
// summation orders; measured and printed by the reference test.
constexpr double kLogitTol = 1e-3;

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

nlohmann::json readJson(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return nlohmann::json::parse(in);
}

// The address ranges of this process's mappings of `file` (from /proc/self/maps).
struct Range {
  uintptr_t begin, end;
};
std::vector<Range> mappingsOf(const std::string& file) {
  const std::string want = fs::canonical(file).string();
  std::vector<Range> out;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos || line.substr(slash) != want) continue;
    std::istringstream fields(line);
    std::string range;
    fields >> range;
    const size_t dash = range.find('-');
    out.push_back({std::stoull(range.substr(0, dash), nullptr, 16), std::stoull(range.substr(dash + 1), nullptr, 16)});
  }
  return out;
}

// Loads `dir` with checkpoint::loadCheckpointDir (the loader loadPretrained uses) and checks that
// every tensor wraps the mapping of the shard the index names, without a copy.
void expectMappedLoad(const std::string& dir) {
  const nlohmann::json index = readJson(dir + "/" + checkpoint::kIndexFile);
  const checkpoint::StateDict tensors = checkpoint::loadCheckpointDir(dir);
  ASSERT_EQ(tensors.size(), index.at("weight_map").size());
  size_t mapped = 0;
  for (const auto& [name, tensor] : tensors) {
    const std::string shard = dir + "/" + index.at("weight_map").at(name).get<std::string>();
    const auto begin = reinterpret_cast<uintptr_t>(tensor.data_ptr());
    const uintptr_t end = begin + tensor.numel() * tensor.element_size();
    bool inside = false;
    for (const Range& r : mappingsOf(shard)) inside = inside || (begin >= r.begin && end <= r.end);
    EXPECT_TRUE(inside) << name << " is not inside a mapping of " << shard;
    mapped += inside;
  }
  std::cout << "[measured] " << mapped << " of " << tensors.size() << " tensors of " << dir
            << " wrap their shard's mapping\n";
}

// Greedy generation through the KV-cached engine, as `gramrl generate` runs it.
std::vector<int64_t> greedy(const std::shared_ptr<Transformer>& model, const std::vector<int64_t>& prompt,
                            int64_t max_new_tokens, int64_t vocab_limit, std::vector<int64_t> stop_ids) {
  GenerationOptions opts;
  opts.sampling.temperature = 0;
  opts.max_new_tokens = max_new_tokens;
  opts.stop_token_ids = std::move(stop_ids);
  opts.vocab_limit = vocab_limit;
  TransformerDecoder decoder(model, 1, static_cast<int64_t>(prompt.size()) + max_new_tokens);
  GenerationEngine engine(decoder);
  const std::vector<Completion> got = engine.generate({prompt}, opts);
  return got.at(0).tokens;
}

// Logits [T, V] of one sequence, full forward (no cache).
at::Tensor logitsOf(const Transformer& model, const std::vector<int64_t>& ids) {
  torch::NoGradGuard no_grad;
  const at::Tensor input = torch::tensor(ids, torch::kInt64).unsqueeze(0);
  return model.logits(model.forward(input, torch::ones_like(input)))[0].to(at::kFloat);
}

TEST(RealCheckpoint, GramrlSavedQwen3LoadsMappedAndGenerates) {
  torch::NoGradGuard no_grad;
  const ModelConfig config = checkpoint::readHfConfigFile(kSource + "/tests/data/checkpoint/qwen3_config.json");
  ASSERT_EQ(config.num_hidden_layers, 28);
  ASSERT_EQ(config.vocab_size, 151936);
  testing::TempDir tmp("grl-real-qwen3");
  const std::string dir = tmp.file("Qwen3-0.6B-random");

  auto start = Clock::now();
  Transformer model(config, at::kBFloat16, at::kCPU);
  initRandom(model, /*seed=*/7);
  const double init_s = secondsSince(start);
  start = Clock::now();
  const std::vector<std::string> written = savePretrained(model, dir, kShardBytes);
  const double save_s = secondsSince(start);
  for (const char* file : {"tokenizer.json.gz", "tokenizer_config.json", "generation_config.json"}) {
    fs::copy_file(kSource + "/tests/data/tokenizers/qwen3/" + file, dir + "/" + file);
  }

  // The index as save_pretrained writes it: metadata.total_size = the shards' tensor bytes, every
  // parameter in weight_map, shards named model-0000i-of-0000n.safetensors.
  const nlohmann::json index = readJson(dir + "/" + checkpoint::kIndexFile);
  const checkpoint::StateDict params = stateDict(model);
  int64_t tensor_bytes = 0;
  for (const auto& [name, t] : params) tensor_bytes += t.numel() * t.element_size();
  EXPECT_EQ(index.at("metadata").at("total_size").get<int64_t>(), tensor_bytes);
  EXPECT_EQ(tensor_bytes, 596049920 * 2);  // Qwen3-0.6B's parameter count, bf16
  EXPECT_EQ(index.at("weight_map").size(), params.size());
  EXPECT_EQ(index.at("weight_map").at("model.embed_tokens.weight"), "model-00001-of-00003.safetensors");
  EXPECT_FALSE(index.at("weight_map").contains("lm_head.weight"));  // tied
  ASSERT_TRUE(fs::exists(dir + "/model-00003-of-00003.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/model-00004-of-00004.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/" + checkpoint::kSingleFile));
  EXPECT_EQ(written.size(), 5u) << "config.json, 3 shards, the index";

  expectMappedLoad(dir);
  // Bit for bit what was saved.
  {
    const checkpoint::StateDict loaded = checkpoint::loadCheckpointDir(dir);
    for (const auto& [name, t] : params) ASSERT_TRUE(torch::equal(loaded.at(name), t)) << name;
  }

  // The one loader, the tokenizer found next to the weights, the chat template from its
  // tokenizer_config.json.
  ModelLoadSpec spec;
  spec.model = dir;
  spec.where = "real_checkpoint_test";
  start = Clock::now();
  LoadedModel loaded = loadModelWithTokenizer(spec, at::kCPU);
  const double load_s = secondsSince(start);
  EXPECT_EQ(loaded.chat_template, "qwen3");
  EXPECT_EQ(loaded.model->dtype(), at::kFloat);
  EXPECT_TRUE(torch::equal(loaded.model->outputEmbedding(), model.outputEmbedding().to(at::kFloat)));
  const tokenizer::ChatEncoder encoder(*loaded.tokenizer, loaded.chat_template, 512, 64);
  const std::vector<int64_t> prompt = encoder.prompt(std::nullopt, "What is 2+2?");
  // apply_chat_template(enable_thinking=False) of Qwen3's tokenizer (cli.tokenize_qwen3_chat).
  const std::vector<int64_t> hf_prompt = {151644, 872, 198,    3838,  374, 220,    17,  10,     17, 30,
                                          151645, 198, 151644, 77091, 198, 151667, 271, 151668, 271};
  EXPECT_EQ(prompt, hf_prompt);

  // Greedy with the KV cache against the argmax of full forwards without it.
  constexpr int64_t kNewTokens = 4;
  start = Clock::now();
  const std::vector<int64_t> tokens =
      greedy(loaded.model, prompt, kNewTokens, loaded.tokenizer->vocabSize(), {151645, 151643});
  const double generate_s = secondsSince(start);
  ASSERT_FALSE(tokens.empty());
  std::vector<int64_t> ids = prompt;
  for (const int64_t token : tokens) {
    const at::Tensor last = logitsOf(*loaded.model, ids)[-1].slice(0, 0, loaded.tokenizer->vocabSize());
    const auto top2 = last.topk(2);
    EXPECT_EQ(token, std::get<1>(top2)[0].item<int64_t>())
        << "after " << ids.size() << " tokens (top-2 gap "
        << (std::get<0>(top2)[0] - std::get<0>(top2)[1]).item<float>() << ")";
    ids.push_back(token);
  }
  std::cout
      << "[measured] Qwen3-0.6B shapes, " << params.size() << " tensors, " << tensor_bytes / 1e9
      << " GB bf16 in 3 shards: init " << init_s << " s, save " << save_s << " s, load (mapped, to fp32) " << load_s
      << " s, " << tokens.size() << " greedy tokens " << generate_s << " s: "
      << nlohmann::json(loaded.tokenizer->decode(std::vector<tokenizer::TokenId>(tokens.begin(), tokens.end()))).dump()
      << "\n";
}

TEST(RealCheckpoint, TransformersSavedQwen3MatchesTransformers) {
  const char* env = std::getenv("GRAMRL_REAL_QWEN3_REFERENCE");
  if (env == nullptr) {
    GTEST_SKIP() << "GRAMRL_REAL_QWEN3_REFERENCE is not set (ctest -R reference.real_qwen3_checkpoint sets it)";
  }
  const std::string ref = env;  // set but without the reference: a failure, not a skip
  ASSERT_TRUE(fs::exists(fs::path(ref) / "reference.json")) << ref << " has no reference.json";
  torch::NoGradGuard no_grad;
  const std::string dir = ref + "/model";
  const nlohmann::json info = readJson(ref + "/reference.json");
  const checkpoint::StateDict r = checkpoint::loadSafetensorsFile(ref + "/reference.safetensors");
  const at::Tensor ref_prompt = r.at("prompt_ids"), ref_generated = r.at("generated");
  const std::vector<int64_t> want_prompt(ref_prompt.data_ptr<int64_t>(),
                                         ref_prompt.data_ptr<int64_t>() + ref_prompt.numel());
  const std::vector<int64_t> want_generated(ref_generated.data_ptr<int64_t>(),
                                            ref_generated.data_ptr<int64_t>() + ref_generated.numel());

  expectMappedLoad(dir);
  ModelLoadSpec spec;
  spec.model = dir;
  spec.where = "real_checkpoint_test";
  auto start = Clock::now();
  LoadedModel loaded = loadModelWithTokenizer(spec, at::kCPU);
  const double load_s = secondsSince(start);
  EXPECT_EQ(loaded.chat_template, "qwen3");
  const tokenizer::ChatEncoder encoder(*loaded.tokenizer, loaded.chat_template, 512, 64);
  const std::vector<int64_t> prompt = encoder.prompt(std::nullopt, info.at("prompt").get<std::string>());
  EXPECT_EQ(prompt, want_prompt);

  std::vector<int64_t> ids = want_prompt;
  ids.insert(ids.end(), want_generated.begin(), want_generated.end() - 1);
  const at::Tensor logits = logitsOf(*loaded.model, ids);
  const double diff = (logits.to(at::kDouble) - r.at("logits").to(at::kDouble)).abs().max().item<double>();
  std::cout << "[measured] transformers-saved Qwen3-0.6B shapes: load " << load_s << " s; max |gramrl fp32 - "
            << "transformers fp32| logits over " << ids.size() << " positions " << diff << " (max |logit| "
            << r.at("logits").abs().max().item<double>() << ")\n";
  EXPECT_LT(diff, kLogitTol);

  const std::vector<int64_t> tokens =
      greedy(loaded.model, want_prompt, info.at("max_new_tokens").get<int64_t>(), loaded.tokenizer->vocabSize(),
             info.at("eos_token_ids").get<std::vector<int64_t>>());
  EXPECT_EQ(tokens, want_generated) << "greedy min top-2 gap in generate(): " << info.at("min_top2_gap");

  // gramrl shards the same model as save_pretrained did: the same tensors in the same shards.
  const auto bf16 = loadPretrained(dir, at::kBFloat16, at::kCPU);
  testing::TempDir tmp("grl-real-qwen3-resave");
  savePretrained(*bf16, tmp.path(), kShardBytes);
  const nlohmann::json ours = readJson(tmp.file(checkpoint::kIndexFile));
  const nlohmann::json theirs = readJson(dir + "/" + checkpoint::kIndexFile);
  EXPECT_EQ(ours.at("metadata").at("total_size"), theirs.at("metadata").at("total_size"));
  EXPECT_EQ(ours.at("weight_map"), theirs.at("weight_map"));
}

}  // namespace
}  // namespace gramrl
