// The memory features of the training engine: ZeRO-1 sharding of the AdamW state over two Gloo
// ranks on threads (NOTE [ZeRO-1 optimizer sharding] in learner/engine/update_step.h) and
// activation recomputation (NOTE [Activation recomputation] in common/model/layer_recompute.h)
// change nothing in the run: the parameters end bit for bit where the plain run ends them, and
// a sharded run stopped and resumed ends where an uninterrupted one does.
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/collectives/collective.h"
#include "common/core/errors.h"
#include "common/model/pretrained.h"
#include "learner/engine/trainer.h"
#include "learner/engine/update_step.h"
#include "tests/common/collectives/rank_threads.h"
#include "tests/learner/dpo_fixture.h"
#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {
namespace fs = std::filesystem;

using Params = std::map<std::string, at::Tensor>;

TrainerOptions zeroOptions(const std::string& run_dir, int64_t steps, int64_t zero_stage) {
  TrainerOptions o;
  o.run_dir = run_dir;
  o.total_steps = steps;
  o.global_batch_size = 8;
  o.micro_batch_size = 2;
  o.schedule = LrScheduleOptions{1e-3, "cosine", 0.1, 0.0, steps};
  o.weight_decay = 0.1;  // both parameter groups (decay and no decay) are in play
  o.seed = 3;
  o.tensorboard = false;
  o.progress_log_interval_s = 1e9;
  o.zero_stage = zero_stage;
  return o;
}

Params cloneParameters(const Transformer& model) {
  Params out;
  for (const auto& [name, t] : stateDict(model)) out[name] = t.clone();
  return out;
}

// Runs `options` on two Gloo ranks (threads) and returns each rank's final parameters.
std::vector<Params> runOnTwoRanks(const TrainerOptions& options) {
  std::vector<Params> out(2);
  CollectiveOptions copt;
  copt.timeout = std::chrono::milliseconds(60000);
  testing::withGroup(2, copt, [&](int rank, Collective& collective) {
    auto f = testing::makeDpoFixture(40, 8);
    Trainer(options, f.policy, *f.objective, collective).run();
    out[rank] = cloneParameters(*f.policy);
  });
  return out;
}

int64_t countDifferent(const Params& a, const Params& b) {
  int64_t different = 0;
  for (const auto& [name, t] : a) different += torch::equal(t, b.at(name)) ? 0 : 1;
  return different;
}

TEST(ZeroStage, PartitionIsContiguousAndBalanced) {
  EXPECT_EQ(partitionParameters({10, 10, 10, 10}, 2), (std::vector<size_t>{0, 2, 4}));
  EXPECT_EQ(partitionParameters({100, 1, 1, 1}, 2), (std::vector<size_t>{0, 1, 4}));
  EXPECT_EQ(partitionParameters({1, 1, 100}, 3), (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_EQ(partitionParameters({4, 4, 4, 4, 4, 4}, 3), (std::vector<size_t>{0, 2, 4, 6}));
  EXPECT_EQ(partitionParameters({7}, 1), (std::vector<size_t>{0, 1}));
  EXPECT_THROW(partitionParameters({1, 1}, 3), ConfigError);
}

TEST(ZeroStage, EachRankHoldsMomentsOfItsShardOnly) {
  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{5, false});
  TrainedModuleOptions o;
  o.zero_stage = 1;
  int64_t total = 0, covered = 0;
  for (const auto& p : model->parameters()) total += p.numel();
  for (int rank = 0; rank < 2; ++rank) {
    TrainedModule module("policy", model, o, rank, 2);
    ASSERT_TRUE(module.isSharded());
    int64_t mine = 0;
    for (const auto& group : module.optimizer().param_groups()) {
      for (const auto& p : group.params()) mine += p.numel();
    }
    const auto& b = module.shardBounds();
    int64_t expected = 0;
    for (size_t i = b[rank]; i < b[rank + 1]; ++i) expected += module.parameters().tensors[i].numel();
    EXPECT_EQ(mine, expected);
    EXPECT_NEAR(static_cast<double>(mine), total / 2.0, total * 0.15) << "rank " << rank;  // balanced
    covered += mine;
    EXPECT_EQ(module.optimizerFileName("optimizer.pt", rank),
              rank == 0 ? "optimizer.rank-00000-of-00002.pt" : "optimizer.rank-00001-of-00002.pt");
  }
  EXPECT_EQ(covered, total);
  TrainedModule single("policy", model, o, 0, 1);  // ZeRO-1 on one rank: the whole state
  EXPECT_FALSE(single.isSharded());
  EXPECT_EQ(single.optimizerFileName("optimizer.pt", 0), "optimizer.pt");
  o.zero_stage = 2;
  EXPECT_THROW(TrainedModule("policy", model, o, 0, 2), ConfigError);
}

TEST(ZeroStage, OneEqualsZeroOnTwoRanks) {
  testing::TempDir zero_dir, one_dir;
  const auto plain = runOnTwoRanks(zeroOptions(zero_dir.path(), 4, 0));
  const auto sharded = runOnTwoRanks(zeroOptions(one_dir.path(), 4, 1));
  const Params initial = cloneParameters(*testing::makeDpoFixture(40, 8).policy);
  EXPECT_GT(countDifferent(initial, plain[0]), 20);  // the run moved the parameters
  EXPECT_EQ(countDifferent(plain[0], plain[1]), 0);
  EXPECT_EQ(countDifferent(sharded[0], sharded[1]), 0);  // the broadcast reached every rank
  EXPECT_EQ(countDifferent(plain[0], sharded[0]), 0);    // bit for bit
  const fs::path last = fs::path(one_dir.path()) / "checkpoints" / RunCheckpoints::stepDirName(4);
  EXPECT_TRUE(fs::exists(last / "optimizer.rank-00000-of-00002.pt"));
  EXPECT_TRUE(fs::exists(last / "optimizer.rank-00001-of-00002.pt"));
  EXPECT_FALSE(fs::exists(last / kOptimizerFile));
  for (const auto& entry : fs::directory_iterator(fs::path(one_dir.path()) / "checkpoints")) {
    EXPECT_EQ(entry.path().filename().string().rfind(".staging", 0), std::string::npos) << entry.path();
  }
}

TEST(ZeroStage, ShardedRunStoppedAndResumedEndsTheSame) {
  testing::TempDir straight_dir, resumed_dir;
  TrainerOptions o = zeroOptions(straight_dir.path(), 5, 1);
  o.checkpoint_every = 2;
  const auto straight = runOnTwoRanks(o);
  TrainerOptions first = zeroOptions(resumed_dir.path(), 5, 1);
  first.checkpoint_every = 2;
  first.stop_after = [](const TrainerState& s) { return s.step == 2; };
  runOnTwoRanks(first);
  TrainerOptions second = zeroOptions(resumed_dir.path(), 5, 1);
  second.checkpoint_every = 2;
  const auto resumed = runOnTwoRanks(second);  // fresh models: everything comes from the checkpoint
  EXPECT_EQ(countDifferent(straight[0], resumed[0]), 0);
  EXPECT_EQ(countDifferent(straight[1], resumed[1]), 0);

  // The step-4 checkpoint holds shards for two ranks: one rank, or stage 0, cannot resume it.
  auto collective = makeSingleRankCollective();
  auto f = testing::makeDpoFixture(40, 8);
  TrainerOptions one_rank = zeroOptions(resumed_dir.path(), 6, 1);
  one_rank.resume = (fs::path(resumed_dir.path()) / "checkpoints" / RunCheckpoints::stepDirName(4)).string();
  try {
    Trainer(one_rank, f.policy, *f.objective, *collective).run();
    ADD_FAILURE() << "resumed a 2-rank ZeRO-1 checkpoint on one rank";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("learner.ranks=2 and learner.zero_stage=1"), std::string::npos) << e.what();
  }
}

TEST(ActivationCheckpointingTraining, RunEndsWithTheSameParameters) {
  testing::TempDir plain_dir, recompute_dir;
  auto collective = makeSingleRankCollective();
  auto plain = testing::makeDpoFixture(40, 8);
  auto recompute = testing::makeDpoFixture(40, 8);
  Trainer(zeroOptions(plain_dir.path(), 3, 0), plain.policy, *plain.objective, *collective).run();
  TrainerOptions o = zeroOptions(recompute_dir.path(), 3, 0);
  o.activation_checkpointing = true;
  Trainer(o, recompute.policy, *recompute.objective, *collective).run();
  EXPECT_TRUE(recompute.policy->activationCheckpointing());
  const Params a = cloneParameters(*plain.policy), b = cloneParameters(*recompute.policy);
  EXPECT_EQ(countDifferent(a, b), 0);
}

}  // namespace
}  // namespace gramrl
