// ZeRO-3 (NOTE [ZeRO-3 parameter sharding] in learner/engine/zero3.h) on two Gloo ranks on
// threads: updates land where stage 0's land, each rank keeps only its share, a sharded frozen
// model computes what the whole one does, and exports and loads see whole tensors.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/collectives/collective.h"
#include "common/core/errors.h"
#include "common/model/pretrained.h"
#include "learner/engine/trainer.h"
#include "learner/engine/update_step.h"
#include "learner/engine/zero3.h"
#include "tests/common/collectives/rank_threads.h"
#include "tests/learner/dpo_fixture.h"
#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {

using Params = std::map<std::string, at::Tensor>;

Params toMap(const std::vector<std::pair<std::string, at::Tensor>>& named) {
  Params out;
  for (const auto& [name, t] : named) out[name] = t.detach().clone();
  return out;
}

double maxDifference(const Params& a, const Params& b) {
  double worst = 0.0;
  for (const auto& [name, t] : a) {
    worst = std::max(worst, (t - b.at(name)).abs().max().item<double>());
  }
  return worst;
}

int64_t countDifferent(const Params& a, const Params& b) {
  int64_t different = 0;
  for (const auto& [name, t] : a) different += torch::equal(t, b.at(name)) ? 0 : 1;
  return different;
}

TrainedModuleOptions moduleOptions(int64_t zero_stage, double max_grad_norm) {
  TrainedModuleOptions o;
  o.schedule = LrScheduleOptions{1e-3, "constant", 0.0, 0.0, 10};
  o.adamw = AdamWSettings{1e-3, 0.9, 0.999, 1e-8, 0.1};  // both groups (decay and no decay) in play
  o.max_grad_norm = max_grad_norm;
  o.activation_checkpointing = true;
  o.zero_stage = zero_stage;
  return o;
}

struct RunResult {
  std::vector<Params> params;  // per rank, after the updates
  std::vector<double> norms;   // rank 0's gradient norm per update
};

// `updates` updates of the DPO fixture's policy on two ranks, each rank taking its half of 8
// pairs in micro-batches of `micro` pairs.
RunResult runUpdates(int64_t zero_stage, int updates, int64_t micro, double max_grad_norm) {
  RunResult out;
  out.params.resize(2);
  CollectiveOptions copt;
  copt.timeout = std::chrono::milliseconds(60000);
  testing::withGroup(2, copt, [&](int rank, Collective& collective) {
    auto f = testing::makeDpoFixture(32, 4);
    TrainedModule module("policy", f.policy, moduleOptions(zero_stage, max_grad_norm), rank, 2, &collective);
    for (int step = 0; step < updates; ++step) {
      std::vector<std::vector<int64_t>> micro_batches;
      for (int64_t i = 0; i < 4; i += micro) {
        std::vector<int64_t> mb;
        for (int64_t j = i; j < i + micro; ++j) mb.push_back(step * 8 + rank * 4 + j);
        micro_batches.push_back(mb);
      }
      const UpdateResult r = runUpdate(module, *f.objective, collective, micro_batches, step);
      if (rank == 0) out.norms.push_back(r.grad_norm);
    }
    out.params[rank] = toMap(module.wholeParameters());
  });
  return out;
}

TEST(ZeroThree, OneMicroBatchEqualsStageZeroBitForBit) {
  const RunResult plain = runUpdates(0, 2, 4, 0.0);
  const RunResult sharded = runUpdates(3, 2, 4, 0.0);
  const Params initial =
      toMap(TrainedModule("p", testing::makeDpoFixture(32, 4).policy, moduleOptions(0, 0.0)).wholeParameters());
  EXPECT_GT(countDifferent(initial, plain.params[0]), 20);             // the updates moved the parameters
  EXPECT_EQ(countDifferent(sharded.params[0], sharded.params[1]), 0);  // every rank gathers the same
  // One micro-batch per rank: the same sums (a + b) and the same elementwise AdamW.
  EXPECT_EQ(countDifferent(plain.params[0], sharded.params[0]), 0) << maxDifference(plain.params[0], sharded.params[0]);
  ASSERT_EQ(plain.norms.size(), sharded.norms.size());
  // clip_grad_norm_ sums in float32, ZeRO-3 in float64 over the shards.
  for (size_t i = 0; i < plain.norms.size(); ++i) EXPECT_NEAR(plain.norms[i], sharded.norms[i], 1e-5 * plain.norms[i]);
}

TEST(ZeroThree, MicroBatchesAndClippingMatchStageZero) {
  // Reducing per micro-batch and clipping with a norm summed shard by shard change the order of
  // float sums only.
  const RunResult plain = runUpdates(0, 3, 2, 0.05);
  const RunResult sharded = runUpdates(3, 3, 2, 0.05);
  ASSERT_GT(plain.norms[0], 0.05);  // clipping engaged
  EXPECT_EQ(countDifferent(sharded.params[0], sharded.params[1]), 0);
  EXPECT_LT(maxDifference(plain.params[0], sharded.params[0]), 1e-6);
  for (size_t i = 0; i < plain.norms.size(); ++i) EXPECT_NEAR(plain.norms[i], sharded.norms[i], 1e-5 * plain.norms[i]);
}

TEST(ZeroThree, EachRankKeepsItsShareAndNoLayerWeights) {
  CollectiveOptions copt;
  copt.timeout = std::chrono::milliseconds(60000);
  testing::withGroup(2, copt, [&](int rank, Collective& collective) {
    auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{5, false});
    int64_t total = 0;
    for (const auto& p : model->parameters()) total += p.numel();
    TrainedModule module("policy", model, moduleOptions(3, 1.0), rank, 2, &collective);
    ASSERT_NE(module.zeroShards(), nullptr);
    int64_t stepped = 0;
    for (const auto& group : module.optimizer().param_groups()) {
      for (const auto& p : group.params()) stepped += p.numel();
    }
    EXPECT_EQ(stepped, module.zeroShards()->shardElements());
    EXPECT_GE(stepped, total / 2);
    EXPECT_LE(stepped, total / 2 + 16);  // at most one padding element per unit
    for (int64_t layer = 0; layer < model->numLayers(); ++layer) {
      for (const auto& [name, p] : model->layerParameters(layer)) EXPECT_EQ(p.numel(), 0) << name;
    }
    EXPECT_GT(model->outputEmbedding().numel(), 0);  // the rest stays whole
  });
}

TEST(ZeroThree, ShardedFrozenModelComputesTheSame) {
  auto whole = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{7, false});
  const at::Tensor ids = torch::randint(0, 200, {3, 9}, torch::kLong);
  const at::Tensor mask = torch::ones({3, 9}, torch::kLong);
  at::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = whole->forward(ids, mask);
  }
  const Params expected_params = toMap(TrainedModule("p", whole, moduleOptions(0, 0.0)).wholeParameters());
  CollectiveOptions copt;
  copt.timeout = std::chrono::milliseconds(60000);
  testing::withGroup(2, copt, [&](int rank, Collective& collective) {
    auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{7, false});
    for (auto& p : model->parameters()) p.set_requires_grad(false);
    shardFrozenModel(*model, 3, collective);
    ASSERT_NE(model->layerShards(), nullptr);
    EXPECT_EQ(model->layerParameters(0).front().second.numel(), 0) << "rank " << rank;
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(model->forward(ids, mask), expected));
    auto shards = std::static_pointer_cast<ZeroShards>(model->layerShards());
    EXPECT_EQ(countDifferent(toMap(shards->wholeParameters(true)), expected_params), 0);
  });
}

TEST(ZeroThree, LoadSetsShardsAndExportReturnsThem) {
  auto source = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{9, false});
  checkpoint::StateDict wanted;
  for (const auto& [name, t] : stateDict(*source)) wanted[name] = t.clone();
  CollectiveOptions copt;
  copt.timeout = std::chrono::milliseconds(60000);
  testing::withGroup(2, copt, [&](int rank, Collective& collective) {
    auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{5, false});
    TrainedModule module("policy", model, moduleOptions(3, 1.0), rank, 2, &collective);
    module.loadWeights(wanted, "the source");
    const auto exported = module.wholeParameters(rank == 0);
    if (rank == 0) {
      Params want(wanted.begin(), wanted.end());
      EXPECT_EQ(countDifferent(toMap(exported), want), 0);
    } else {
      for (const auto& [name, t] : exported) EXPECT_FALSE(t.defined()) << name;
    }
    checkpoint::StateDict broken = wanted;
    broken.erase("model.layers.1.mlp.up_proj.weight");
    try {
      module.loadWeights(broken, "the source");
      ADD_FAILURE() << "loaded a state dict without a layer tensor";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("the source: no tensor model.layers.1.mlp.up_proj.weight"),
                std::string::npos)
          << e.what();
    }
  });
}

TEST(ZeroThree, OfflineTrainersRefuseIt) {
  testing::TempDir dir;
  TrainerOptions o;
  o.run_dir = dir.path();
  o.total_steps = 1;
  o.global_batch_size = 4;
  o.micro_batch_size = 2;
  o.tensorboard = false;
  o.zero_stage = 3;
  o.activation_checkpointing = true;
  auto f = testing::makeDpoFixture(8, 4);
  auto collective = makeSingleRankCollective();
  try {
    Trainer(o, f.policy, *f.objective, *collective).run();
    ADD_FAILURE() << "an offline trainer ran with ZeRO-3";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("learner.zero_stage 3 is for gramrl rlhf"), std::string::npos) << e.what();
  }
}

TEST(ZeroThree, NeedsActivationCheckpointing) {
  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{5, false});
  TrainedModuleOptions o = moduleOptions(3, 1.0);
  o.activation_checkpointing = false;
  try {
    TrainedModule("policy", model, o, 0, 2);
    ADD_FAILURE() << "ZeRO-3 without activation checkpointing";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("activation_checkpointing: true"), std::string::npos) << e.what();
  }
  o = moduleOptions(2, 1.0);
  EXPECT_THROW(TrainedModule("policy", model, o, 0, 2), ConfigError);
}

}  // namespace
}  // namespace gramrl
