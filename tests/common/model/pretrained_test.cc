// savePretrained / loadPretrained: bit-exact round trips, dtype conversion, sharding, presets, the
// value head added to a policy checkpoint, and errors that name every tensor that does not fit.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/checkpoint/checkpoint.h"
#include "common/core/errors.h"
#include "common/model/pretrained.h"
#include "tests/common/model/model_test_util.h"

namespace gramrl {
namespace {

using testing::kFamilies;
using testing::makeModel;
using testing::smallConfig;
using testing::TempDir;

void expectSameParameters(const Transformer& a, const Transformer& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.keys(), pb.keys());
  for (const auto& item : pa) {
    EXPECT_EQ(item.value().scalar_type(), pb[item.key()].scalar_type()) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  }
}

TEST(Pretrained, SaveThenLoadRoundTripsBitExactly) {
  torch::NoGradGuard no_grad;
  for (const char* family : kFamilies) {
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      SCOPED_TRACE(std::string(family) + " " + c10::toString(dtype));
      TempDir dir;
      auto model = makeModel(smallConfig(family, /*value_head=*/true), 31, dtype);
      const std::vector<std::string> files = savePretrained(*model, dir.path());
      EXPECT_EQ(files.back(), checkpoint::kSingleFile);
      auto loaded = loadPretrained(dir.path(), dtype, at::kCPU);
      EXPECT_EQ(loaded->config().torch_dtype, dtype == at::kFloat ? "float32" : "bfloat16");
      EXPECT_TRUE(loaded->hasValueHead());
      expectSameParameters(*model, *loaded);
      const at::Tensor ids = testing::randomTokens(2, 6, model->config().vocab_size, 1);
      EXPECT_TRUE(torch::equal(model->forward(ids, at::ones_like(ids)), loaded->forward(ids, at::ones_like(ids))));
    }
  }
}

// Issue 15: a checkpoint with a NaN or infinite weight is refused at load, naming the tensor.
TEST(Pretrained, NonFiniteWeightsAreRefusedAtLoad) {
  torch::NoGradGuard no_grad;
  // Every saved dtype (the check reads the raw exponent bits: NOTE [Finite check of loaded
  // weights]), a bad value first in a small tensor and last in the largest one.
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf, at::kDouble}) {
    for (const float bad : {std::nanf(""), -INFINITY, INFINITY}) {
      for (const char* name : {"model.norm.weight", "model.embed_tokens.weight"}) {
        SCOPED_TRACE(fmt::format("{} {} in {}", c10::toString(dtype), bad, name));
        TempDir dir;
        auto model = makeModel(smallConfig("qwen2"), 33, dtype);
        at::Tensor param = model->named_parameters()[name];
        param.view(-1)[std::string(name) == "model.norm.weight" ? 1 : param.numel() - 1] = bad;
        savePretrained(*model, dir.path());
        try {
          loadPretrained(dir.path(), at::kFloat, at::kCPU);
          FAIL() << "expected a DataError";
        } catch (const DataError& e) {
          EXPECT_NE(std::string(e.what()).find(fmt::format("tensor {} holds NaN or infinite values", name)),
                    std::string::npos)
              << e.what();
        }
      }
    }
  }
  // The largest finite values are finite.
  TempDir dir;
  auto model = makeModel(smallConfig("qwen2"), 33, at::kBFloat16);
  model->named_parameters()["model.norm.weight"][0] = -3.3895313892515355e38;  // bf16's lowest
  model->named_parameters()["model.norm.weight"][1] = 3.3895313892515355e38;   // and largest
  savePretrained(*model, dir.path());
  EXPECT_NO_THROW(loadPretrained(dir.path(), at::kBFloat16, at::kCPU));
}

TEST(Pretrained, ShardedSaveAndDtypeConversion) {
  torch::NoGradGuard no_grad;
  TempDir dir;
  auto model = makeModel(smallConfig("llama"), 32, at::kBFloat16);
  const std::vector<std::string> files = savePretrained(*model, dir.path(), /*max_shard_bytes=*/100000);
  EXPECT_GT(files.size(), 3u);  // config, shards, index
  EXPECT_EQ(files.back(), checkpoint::kIndexFile);
  auto as_float = loadPretrained(dir.path(), at::kFloat, at::kCPU);
  EXPECT_EQ(as_float->dtype(), at::kFloat);
  const auto pm = model->named_parameters();
  for (const auto& item : as_float->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), pm[item.key()].to(at::kFloat))) << item.key();
  }
}

TEST(Pretrained, BuiltinPresetsAreSeeded) {
  auto a = loadPretrained("builtin:tiny-qwen3", at::kFloat, at::kCPU, {/*seed=*/5});
  auto b = loadPretrained("builtin:tiny-qwen3", at::kFloat, at::kCPU, {/*seed=*/5});
  auto c = loadPretrained("builtin:tiny-qwen3", at::kFloat, at::kCPU, {/*seed=*/6});
  expectSameParameters(*a, *b);
  EXPECT_FALSE(torch::equal(a->outputEmbedding(), c->outputEmbedding()));
  EXPECT_EQ(a->config().num_hidden_layers, 4);
  EXPECT_THROW(loadPretrained("builtin:nope", at::kFloat, at::kCPU), ConfigError);
}

TEST(Pretrained, ValueHeadAddedToAPolicyCheckpoint) {
  torch::NoGradGuard no_grad;
  TempDir dir;
  auto policy = makeModel(smallConfig("qwen2"), 33);
  savePretrained(*policy, dir.path());
  PretrainedOptions options;
  options.seed = 9;
  options.value_head = true;
  auto critic = loadPretrained(dir.path(), at::kFloat, at::kCPU, options);
  ASSERT_TRUE(critic->hasValueHead());
  const auto pc = critic->named_parameters(), pp = policy->named_parameters();
  for (const auto& item : pp) EXPECT_TRUE(torch::equal(item.value(), pc[item.key()])) << item.key();
  EXPECT_TRUE(torch::equal(pc["value_head.weight"],
                           seededNormal({1, 128}, initStreamKey(9, "value_head.weight"), kInitializerRange)));
  EXPECT_TRUE(torch::equal(pc["value_head.bias"], at::zeros({1})));
  // Without the option, the same checkpoint gives a model without a value head.
  EXPECT_FALSE(loadPretrained(dir.path(), at::kFloat, at::kCPU)->hasValueHead());
}

TEST(Pretrained, ToleratesTheExtrasTransformersIgnores) {
  torch::NoGradGuard no_grad;
  TempDir dir;
  auto model = makeModel(smallConfig("qwen2"), 34);  // tied
  checkpoint::StateDict tensors = stateDict(*model);
  tensors.emplace("lm_head.weight", model->outputEmbedding().clone());
  tensors.emplace("model.layers.0.self_attn.rotary_emb.inv_freq", at::ones({16}));
  checkpoint::saveCheckpointDir(dir.path(), model->config(), tensors);
  expectSameParameters(*model, *loadPretrained(dir.path(), at::kFloat, at::kCPU));
}

TEST(Pretrained, ErrorsNameMissingUnexpectedAndMisshapenTensors) {
  torch::NoGradGuard no_grad;
  TempDir dir;
  auto model = makeModel(smallConfig("llama"), 35);
  checkpoint::StateDict tensors = stateDict(*model);
  tensors.erase("model.layers.1.mlp.up_proj.weight");
  tensors.emplace("model.layers.7.mlp.up_proj.weight", at::zeros({2}));
  tensors["model.layers.0.self_attn.k_proj.weight"] = at::zeros({128, 64});
  checkpoint::saveCheckpointDir(dir.path(), model->config(), tensors);
  try {
    loadPretrained(dir.path(), at::kFloat, at::kCPU);
    ADD_FAILURE() << "expected DataError";
  } catch (const DataError& e) {
    const std::string message = e.what();
    for (const char* part : {"model.layers.1.mlp.up_proj.weight", "model.layers.7.mlp.up_proj.weight",
                             "model.layers.0.self_attn.k_proj.weight", dir.path().c_str()}) {
      EXPECT_NE(message.find(part), std::string::npos) << part << " not in: " << message;
    }
  }
  EXPECT_THROW(loadPretrained(dir.path() + "/missing", at::kFloat, at::kCPU), DataError);
}

}  // namespace
}  // namespace gramrl
