// Checkpoint directories with LibTorch tensors: bit-exact round trips (every dtype, single file
// and sharded, mapped and read), HF's file naming, index validation, saving over a checkpoint,
// dtype conversion, and the state-dict check.
#include "common/checkpoint/checkpoint.h"

#include <cstring>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/hf_config.h"
#include "common/core/errors.h"
#include "tests/common/checkpoint/test_util.h"

namespace gramrl::checkpoint {
namespace {

using namespace gramrl::checkpoint::testing;
using nlohmann::json;

// A tensor of `type` filled with random bits (NaN payloads, infinities and denormals included
// for the float types; 0/1 for bool), so that only a bit-exact round trip compares equal.
at::Tensor randomBits(at::ScalarType type, std::vector<int64_t> shape, std::mt19937_64& rng) {
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(type));
  auto* bytes = static_cast<uint8_t*>(t.data_ptr());
  const size_t n = t.numel() * t.element_size();
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>(type == at::kBool ? rng() % 2 : rng());
  return t;
}

void expectBitIdentical(const StateDict& got, const StateDict& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, expected] : want) {
    SCOPED_TRACE(name);
    ASSERT_EQ(got.count(name), 1u);
    const at::Tensor& actual = got.at(name);
    EXPECT_EQ(actual.scalar_type(), expected.scalar_type());
    EXPECT_EQ(actual.sizes(), expected.sizes());
    EXPECT_TRUE(actual.is_contiguous());
    const at::Tensor e = expected.contiguous();
    ASSERT_EQ(actual.numel() * actual.element_size(), e.numel() * e.element_size());
    if (e.numel() > 0) {
      EXPECT_EQ(0, std::memcmp(actual.data_ptr(), e.data_ptr(), e.numel() * e.element_size()));
    }
  }
}

StateDict allDtypes(std::mt19937_64& rng) {
  StateDict s;
  const at::ScalarType types[] = {at::kFloat, at::kBFloat16, at::kHalf, at::kDouble, at::kLong,
                                  at::kInt,   at::kShort,    at::kChar, at::kByte,   at::kBool};
  int i = 0;
  for (at::ScalarType type : types) {
    s[fmt::format("model.t{}.{}", i++, c10::toString(type))] = randomBits(type, {3, 5}, rng);
  }
  s["scalar"] = randomBits(at::kFloat, {}, rng);
  s["empty"] = at::empty({0, 4}, at::kBFloat16);
  s["transposed"] = randomBits(at::kBFloat16, {4, 6}, rng).t();  // not contiguous: saved as its values
  return s;
}

ModelConfig tinyConfig() {
  ModelConfig c;
  c.model_type = "qwen3";
  c.architecture = "Qwen3ForCausalLM";
  c.vocab_size = 32;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 8;
  c.qk_norm = true;
  c.torch_dtype = "bfloat16";
  c.eos_token_ids = {3};
  return c;
}

TEST(Checkpoint, SingleFileRoundTripsEveryDtypeBitExactly) {
  std::mt19937_64 rng(testSeed());
  TempDir dir;
  const StateDict original = allDtypes(rng);
  const auto written = saveCheckpointDir(dir.path(), tinyConfig(), original);
  EXPECT_EQ(written, (std::vector<std::string>{"config.json", "model.safetensors"}));
  EXPECT_EQ(listDir(dir.path()), (std::vector<std::string>{"config.json", "model.safetensors"}));
  for (LoadMode mode : {LoadMode::kMap, LoadMode::kRead}) {
    LoadOptions options;
    options.mode = mode;
    expectBitIdentical(loadCheckpointDir(dir.path(), options), original);
  }
  const SafetensorsHeader header = readSafetensorsHeader(dir.file("model.safetensors"));
  EXPECT_EQ(header.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  const ModelConfig config = readHfConfigFile(dir.file("config.json"));
  EXPECT_EQ(config.head_dim, 8);
  EXPECT_TRUE(config.qk_norm);
}

TEST(Checkpoint, ShardedRoundTripsBitExactlyWithHfNamesAndIndex) {
  std::mt19937_64 rng(testSeed());
  TempDir dir;
  const StateDict original = allDtypes(rng);
  // Each 3x5 tensor is at most 120 bytes: 200-byte shards hold one or two tensors.
  const auto written = saveCheckpointDir(dir.path(), tinyConfig(), original, 200);
  const size_t shards = written.size() - 2;
  ASSERT_GT(shards, 3u);
  EXPECT_EQ(written.front(), "config.json");
  EXPECT_EQ(written.back(), "model.safetensors.index.json");
  EXPECT_EQ(written[1], shardFileName(0, shards));
  EXPECT_EQ(shardFileName(1, 3), "model-00002-of-00003.safetensors");

  const json index = json::parse(readBytes(dir.file("model.safetensors.index.json")));
  uint64_t total = 0;
  for (const auto& [name, t] : original) total += t.numel() * t.element_size();
  EXPECT_EQ(index["metadata"]["total_size"], total);
  EXPECT_EQ(index["weight_map"].size(), original.size());
  for (const auto& [name, file] : index["weight_map"].items()) {
    EXPECT_NE(readSafetensorsHeader(dir.file(file.get<std::string>())).find(name), nullptr) << name;
  }
  for (LoadMode mode : {LoadMode::kMap, LoadMode::kRead}) {
    LoadOptions options;
    options.mode = mode;
    expectBitIdentical(loadCheckpointDir(dir.path(), options), original);
  }
}

TEST(Checkpoint, PlanShardsLikeTransformers) {
  StateDict s;
  s["a"] = at::zeros({10}, at::kFloat);  // 40 bytes
  s["b"] = at::zeros({10}, at::kFloat);
  s["c"] = at::zeros({50}, at::kFloat);  // 200 bytes: larger than a shard, alone
  s["d"] = at::zeros({5}, at::kFloat);   // 20
  s["e"] = at::zeros({5}, at::kFloat);
  using Plan = std::vector<std::vector<std::string>>;
  EXPECT_EQ(planShards(s, 100), (Plan{{"a", "b"}, {"c"}, {"d", "e"}}));
  EXPECT_EQ(planShards(s, 80), (Plan{{"a", "b"}, {"c"}, {"d", "e"}}));
  EXPECT_EQ(planShards(s, 79), (Plan{{"a"}, {"b"}, {"c"}, {"d", "e"}}));
  EXPECT_EQ(planShards(s, 1000), (Plan{{"a", "b", "c", "d", "e"}}));
  EXPECT_EQ(planShards({}, 10), (Plan{{}}));
  // In the model's parameter order (save_pretrained walks the state dict in module order:
  // "layers.2" before "layers.10"), not by name.
  EXPECT_EQ(planShards(s, 100, {"d", "a", "c", "e", "b"}), (Plan{{"d", "a"}, {"c"}, {"e", "b"}}));
  EXPECT_THROW(planShards(s, 100, {"a", "b"}), ConfigError);
  EXPECT_THROW(planShards(s, 100, {"a", "b", "c", "d", "d"}), ConfigError);
  EXPECT_THROW(planShards(s, 100, {"a", "b", "c", "d", "x"}), ConfigError);
}

TEST(Checkpoint, SavingOverACheckpointReplacesItCompletely) {
  std::mt19937_64 rng(testSeed());
  TempDir dir;
  StateDict big;
  for (int i = 0; i < 6; ++i) big[fmt::format("w{}", i)] = randomBits(at::kFloat, {25}, rng);  // 100 bytes each
  ASSERT_EQ(saveCheckpointDir(dir.path(), tinyConfig(), big, 200).size(), 5u);                 // 3 shards
  StateDict small = {{"only", randomBits(at::kHalf, {4}, rng)}};
  saveCheckpointDir(dir.path(), tinyConfig(), small);
  EXPECT_EQ(listDir(dir.path()), (std::vector<std::string>{"config.json", "model.safetensors"}));
  expectBitIdentical(loadCheckpointDir(dir.path()), small);
  saveCheckpointDir(dir.path(), tinyConfig(), big, 300);  // 2 shards
  EXPECT_EQ(listDir(dir.path()),
            (std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                      "model-00002-of-00002.safetensors", "model.safetensors.index.json"}));
  expectBitIdentical(loadCheckpointDir(dir.path()), big);
}

TEST(Checkpoint, ShardsWithoutTheirIndexAreNotACheckpoint) {
  // What an interrupted sharded save leaves (NOTE [Saving over a checkpoint]).
  TempDir dir;
  StateDict s = {{"a", at::ones({30})}, {"b", at::ones({30})}};
  saveCheckpointDir(dir.path(), tinyConfig(), s, 150);
  std::filesystem::remove(dir.file("model.safetensors.index.json"));
  EXPECT_THROW_WITH(loadCheckpointDir(dir.path()), DataError, "holds neither model.safetensors nor",
                    "interrupted save");
  EXPECT_THROW_WITH(loadCheckpointDir(dir.file("missing")), DataError, "does not exist");
}

TEST(Checkpoint, IndexInconsistenciesAreAllReported) {
  TempDir dir;
  StateDict s = {{"a", at::ones({30})}, {"b", at::ones({30})}, {"c", at::ones({30})}};
  saveCheckpointDir(dir.path(), tinyConfig(), s, 150);  // a | b | c
  const std::string index_path = dir.file("model.safetensors.index.json");
  const std::string f1 = shardFileName(0, 3), f2 = shardFileName(1, 3), f3 = shardFileName(2, 3);
  auto withWeightMap = [&](const json& weight_map) {
    writeBytes(index_path, json{{"metadata", {{"total_size", 360}}}, {"weight_map", weight_map}}.dump());
  };
  // "b" listed in the wrong shard, "c" unlisted, "ghost" listed but nowhere. (f2 is not listed,
  // so it is not opened.)
  withWeightMap({{"a", f1}, {"b", f1}, {"ghost", f3}});
  EXPECT_THROW_WITH(loadCheckpointDir(dir.path()), DataError, "the index and its shards disagree (3 problems)",
                    "tensor 'b' is listed in shard " + f1 + ", which does not hold it",
                    "shard " + f3 + " holds tensor 'c', which the index does not list",
                    "tensor 'ghost' is listed in shard " + f3 + ", which does not hold it");
  // Two tensors swapped between shards.
  withWeightMap({{"a", f2}, {"b", f1}, {"c", f3}});
  EXPECT_THROW_WITH(loadCheckpointDir(dir.path()), DataError,
                    "tensor 'a' is in shard " + f1 + ", but the index puts it in " + f2,
                    "tensor 'b' is in shard " + f2 + ", but the index puts it in " + f1);
  // The same tensor in two shards.
  saveSafetensorsFile(dir.file(f3), {{"a", at::ones({30})}});
  withWeightMap({{"a", f1}, {"b", f2}, {"c", f3}});
  EXPECT_THROW_WITH(loadCheckpointDir(dir.path()), DataError, "tensor 'a' is in two shards, " + f1 + " and " + f3,
                    "tensor 'c' is listed in shard " + f3);
  withWeightMap({{"a", "../escape.safetensors"}});
  EXPECT_THROW_WITH(loadCheckpointDir(dir.path()), DataError, "weight_map[\"a\"]: expected a file name");
  withWeightMap({{"a", "model-00009-of-00009.safetensors"}});
  EXPECT_THROW_WITH(loadCheckpointDir(dir.path()), DataError, "cannot open", "model-00009-of-00009.safetensors");
  writeBytes(index_path, R"({"metadata": {}})");
  EXPECT_THROW_WITH(loadCheckpointDir(dir.path()), DataError, "expected an object with \"weight_map\"");
}

TEST(Checkpoint, TruncatedFileNamesTheFile) {
  TempDir dir;
  saveCheckpointDir(dir.path(), tinyConfig(), {{"w", at::ones({100})}});
  const std::string bytes = readBytes(dir.file("model.safetensors"));
  writeBytes(dir.file("model.safetensors"), bytes.substr(0, bytes.size() - 10));
  EXPECT_THROW_WITH(loadCheckpointDir(dir.path()), DataError, dir.file("model.safetensors"), "tensor 'w'", "truncated");
}

TEST(Checkpoint, LoadConvertsFloatingPointTensorsOnly) {
  std::mt19937_64 rng(testSeed());
  TempDir dir;
  StateDict s = {
      {"w", at::randn({4, 4}).to(at::kBFloat16)}, {"ids", at::arange(5)}, {"mask", at::ones({3}, at::kBool)}};
  saveCheckpointDir(dir.path(), tinyConfig(), s);
  LoadOptions options;
  options.dtype = at::kFloat;
  const StateDict loaded = loadCheckpointDir(dir.path(), options);
  EXPECT_EQ(loaded.at("w").scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(loaded.at("w"), s.at("w").to(at::kFloat)));
  EXPECT_EQ(loaded.at("ids").scalar_type(), at::kLong);
  EXPECT_EQ(loaded.at("mask").scalar_type(), at::kBool);
}

TEST(Checkpoint, MappedTensorsAreCopyOnWriteAndOutliveTheirFile) {
  TempDir dir;
  const StateDict s = {{"w", at::arange(1024, at::kFloat)}};
  saveCheckpointDir(dir.path(), tinyConfig(), s);
  at::Tensor kept;
  {
    StateDict loaded = loadCheckpointDir(dir.path());
    kept = loaded.at("w");
  }
  std::filesystem::remove(dir.file("model.safetensors"));  // the mapping keeps the inode
  EXPECT_TRUE(at::equal(kept, s.at("w")));
  saveCheckpointDir(dir.path(), tinyConfig(), s);
  at::Tensor mapped = loadCheckpointDir(dir.path()).at("w");
  mapped.add_(1);  // private pages: the file does not change
  EXPECT_TRUE(at::equal(loadCheckpointDir(dir.path()).at("w"), s.at("w")));
  EXPECT_TRUE(at::equal(mapped, s.at("w") + 1));
}

TEST(Checkpoint, MisalignedDataIsCopiedAndReadCorrectly) {
  // A header of odd length (writers before safetensors 0.3 did not pad): the F32 data starts at
  // an odd file offset, so it cannot be wrapped in place.
  TempDir dir;
  const std::vector<float> values = {1.5f, -2.25f, 3e-8f};
  std::string data(12, '\0');
  std::memcpy(data.data(), values.data(), 12);
  const std::string header = R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  ASSERT_EQ((8 + header.size()) % 2, 1u);
  writeBytes(dir.file("model.safetensors"), rawFile(header, data));
  for (LoadMode mode : {LoadMode::kMap, LoadMode::kRead}) {
    LoadOptions options;
    options.mode = mode;
    const at::Tensor w = loadCheckpointDir(dir.path(), options).at("w");
    EXPECT_EQ(reinterpret_cast<uintptr_t>(w.data_ptr()) % 4, 0u);
    EXPECT_TRUE(at::equal(w, torch::tensor(values)));
  }
}

TEST(Checkpoint, BoolTensorsMustHoldZeroOrOne) {
  TempDir dir;
  writeBytes(dir.file("b.safetensors"),
             rawFile(R"({"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", std::string("\x01\x00\x02", 3)));
  EXPECT_THROW_WITH(loadSafetensorsFile(dir.file("b.safetensors")), DataError, "tensor 'mask'",
                    "BOOL byte 2 at file offset", "neither 0 nor 1");
}

TEST(Checkpoint, SaveRejectsBadInputBeforeWritingAnything) {
  TempDir dir;
  EXPECT_THROW_WITH(saveCheckpointDir(dir.path(), tinyConfig(), {{"z", at::zeros({2}, at::kComplexFloat)}}), DataError,
                    "tensor 'z': dtype ComplexFloat cannot be stored in safetensors");
  ModelConfig bad = tinyConfig();
  bad.num_key_value_heads = 3;
  EXPECT_THROW_WITH(saveCheckpointDir(dir.path(), bad, {{"w", at::zeros({2})}}), ConfigError,
                    "num_attention_heads 2 is not a multiple of num_key_value_heads 3");
  EXPECT_THROW_WITH(saveCheckpointDir(dir.path(), tinyConfig(), {{"w", at::zeros({2})}}, 0), ConfigError,
                    "max_shard_bytes");
  EXPECT_TRUE(listDir(dir.path()).empty());
}

TEST(StateDictCheck, ReportsEveryMissingUnexpectedAndMismatchedTensorAtOnce) {
  const StateDict tensors = {
      {"embed.weight", at::zeros({10, 4}, at::kBFloat16)},
      {"layer.0.q.weight", at::zeros({8, 4}, at::kBFloat16)},  // transposed
      {"layer.0.k.weight", at::zeros({4, 4}, at::kFloat)},     // wrong dtype
      {"rotary.inv_freq", at::zeros({2})},                     // unexpected
  };
  const StateDictSpec spec = {
      {"embed.weight", {{10, 4}, at::kBFloat16}},    {"layer.0.q.weight", {{4, 8}, at::kBFloat16}},
      {"layer.0.k.weight", {{4, 4}, at::kBFloat16}}, {"layer.0.q.bias", {{4}, at::kBFloat16}},  // missing
      {"lm_head.weight", {{10, 4}, std::nullopt}},                                              // missing
  };
  const StateDictDiff diff = diffStateDict(tensors, spec);
  EXPECT_EQ(diff.missing, (std::vector<std::string>{"layer.0.q.bias", "lm_head.weight"}));
  EXPECT_EQ(diff.unexpected, std::vector<std::string>{"rotary.inv_freq"});
  EXPECT_EQ(diff.mismatched.size(), 2u);
  EXPECT_THROW_WITH(checkStateDict(tensors, spec, "ckpt/dir"), DataError,
                    "ckpt/dir does not match the model (2 missing, 1 unexpected, 2 mismatched tensors):",
                    "\n  missing: layer.0.q.bias", "\n  missing: lm_head.weight", "\n  unexpected: rotary.inv_freq",
                    "\n  mismatched: layer.0.k.weight: expected [4, 4] BFloat16, got [4, 4] Float",
                    "\n  mismatched: layer.0.q.weight: expected [4, 8] BFloat16, got [8, 4] BFloat16");
  StateDictSpec exact;
  for (const auto& [name, t] : tensors) exact[name] = {t.sizes().vec(), std::nullopt};
  EXPECT_NO_THROW(checkStateDict(tensors, exact, "x"));
  EXPECT_TRUE(diffStateDict(tensors, exact).isEmpty());
}

}  // namespace
}  // namespace gramrl::checkpoint
