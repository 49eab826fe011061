// The training engine in one process (single-rank collective): DPO learns, a stopped run resumes
// to the same parameters, micro-batching does not change the update, freezing holds.
#include "learner/engine/trainer.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "common/collectives/collective.h"
#include "common/core/errors.h"
#include "common/model/pretrained.h"
#include "tests/learner/dpo_fixture.h"
#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {
namespace fs = std::filesystem;

TrainerOptions baseOptions(const std::string& run_dir, int64_t steps) {
  TrainerOptions o;
  o.run_dir = run_dir;
  o.total_steps = steps;
  o.global_batch_size = 8;
  o.micro_batch_size = 4;
  o.schedule = LrScheduleOptions{1e-3, "cosine", 0.1, 0.0, steps};
  o.seed = 3;
  o.tensorboard = false;
  o.progress_log_interval_s = 1e9;
  return o;
}

std::vector<nlohmann::json> readMetrics(const std::string& run_dir) {
  std::ifstream in(fs::path(run_dir) / "metrics.jsonl");
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

double maxAbsDifference(const Transformer& a, const Transformer& b) {
  auto pa = stateDict(a);
  auto pb = stateDict(b);
  double worst = 0;
  for (const auto& [name, t] : pa) worst = std::max(worst, (t - pb.at(name)).abs().max().item<double>());
  return worst;
}

TEST(TrainerTest, DpoRaisesHeldOutImplicitRewardAccuracy) {
  testing::TempDir dir;
  auto f = testing::makeDpoFixture(1024, 256, {{"sigmoid", 0.1, 0.0}});
  auto collective = makeSingleRankCollective();
  const auto before = f.objective->evaluate(0, 1);  // policy == reference: every margin is 0
  ASSERT_EQ(before.size(), 3u);
  EXPECT_NEAR(before[0].sum / before[0].count, std::log(2.0), 1e-6);  // loss
  TrainerOptions o = baseOptions(dir.path(), 80);
  o.global_batch_size = 32;
  o.micro_batch_size = 16;
  o.schedule.peak_lr = 2e-3;
  Trainer(o, f.policy, *f.objective, *collective).run();
  const auto metrics = readMetrics(dir.path());
  ASSERT_EQ(metrics.size(), 80u);
  const double accuracy = metrics.back()["eval/rewards/accuracy"].get<double>();
  const double loss = metrics.back()["eval/loss"].get<double>();
  std::printf("held-out implicit-reward accuracy %.3f, loss %.4f (train loss first %.4f last %.4f)\n", accuracy, loss,
              metrics.front()["loss"].get<double>(), metrics.back()["loss"].get<double>());
  // Chance is 0.5; 256 pairs give a standard error of about 0.03.
  EXPECT_GT(accuracy, 0.58);
  EXPECT_LT(loss, std::log(2.0) - 0.05);
}

TEST(TrainerTest, StoppedAndResumedRunEndsWithTheSameParameters) {
  testing::TempDir straight_dir, resumed_dir;
  auto collective = makeSingleRankCollective();
  auto straight = testing::makeDpoFixture(40, 8);
  TrainerOptions o = baseOptions(straight_dir.path(), 6);
  o.checkpoint_every = 2;
  Trainer(o, straight.policy, *straight.objective, *collective).run();

  {
    auto first = testing::makeDpoFixture(40, 8);
    TrainerOptions a = baseOptions(resumed_dir.path(), 6);
    a.checkpoint_every = 2;
    a.stop_after = [](const TrainerState& s) { return s.step == 4; };
    EXPECT_EQ(Trainer(a, first.policy, *first.objective, *collective).run().step, 4);
  }
  auto second = testing::makeDpoFixture(40, 8);  // a new process: fresh initial weights
  TrainerOptions b = baseOptions(resumed_dir.path(), 6);
  b.checkpoint_every = 2;
  const TrainerState end = Trainer(b, second.policy, *second.objective, *collective).run();
  EXPECT_EQ(end.step, 6);
  EXPECT_EQ(maxAbsDifference(*straight.policy, *second.policy), 0.0);
  const auto metrics = readMetrics(resumed_dir.path());
  ASSERT_EQ(metrics.size(), 6u);
  for (size_t i = 0; i < metrics.size(); ++i) EXPECT_EQ(metrics[i]["step"].get<int64_t>(), int64_t(i + 1));
  EXPECT_EQ(readMetrics(straight_dir.path()).back()["loss"], metrics.back()["loss"]);
  EXPECT_EQ(RunCheckpoints((fs::path(resumed_dir.path()) / "checkpoints").string(), 3).list().size(), 3u);
}

// NOTE [Comparing updates across batch splits]
// Splitting a batch differently changes only the float32 summation order of the gradient, but
// Adam divides each gradient element by its own running magnitude (plus eps = 1e-8), so elements
// whose gradient is near zero turn rounding noise into updates of size lr. The comparison
// therefore runs AdamW with eps = 1, where the update is close to lr * g and stays linear in the
// gradient, and bounds the difference relative to how far the parameters moved.
TEST(TrainerTest, MicroBatchingDoesNotChangeTheUpdate) {
  testing::TempDir a_dir, b_dir;
  auto collective = makeSingleRankCollective();
  auto a = testing::makeDpoFixture(32, 4);
  auto b = testing::makeDpoFixture(32, 4);
  TrainerOptions oa = baseOptions(a_dir.path(), 3);
  oa.micro_batch_size = 8;
  oa.adam_eps = 1.0;
  oa.schedule.peak_lr = 0.5;
  TrainerOptions ob = oa;
  ob.run_dir = b_dir.path();
  ob.micro_batch_size = 1;
  Trainer(oa, a.policy, *a.objective, *collective).run();
  Trainer(ob, b.policy, *b.objective, *collective).run();
  auto untrained = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{5, false});
  const double diff = maxAbsDifference(*a.policy, *b.policy);
  const double moved = maxAbsDifference(*a.policy, *untrained);
  std::printf("max |difference| micro 8 vs micro 1: %.3g (parameters moved up to %.3g)\n", diff, moved);
  EXPECT_GT(moved, 1e-4);  // the runs did train
  EXPECT_LT(diff, 1e-4 * moved);
}

TEST(TrainerTest, FrozenParametersStayFixed) {
  testing::TempDir dir;
  auto collective = makeSingleRankCollective();
  auto f = testing::makeDpoFixture(16, 4);
  auto initial = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{5, false});
  TrainerOptions o = baseOptions(dir.path(), 2);
  o.freeze = {"model.embed_tokens.*", "model.layers.0.*"};
  Trainer trainer(o, f.policy, *f.objective, *collective);
  trainer.run();
  auto now = stateDict(*f.policy);
  auto before = stateDict(*initial);
  int frozen = 0, moved = 0;
  for (const auto& [name, t] : now) {
    const bool is_frozen = name.rfind("model.embed_tokens.", 0) == 0 || name.rfind("model.layers.0.", 0) == 0;
    if (is_frozen) {
      EXPECT_TRUE(torch::equal(t, before.at(name))) << name;
      ++frozen;
    } else if (!torch::equal(t, before.at(name))) {
      ++moved;
    }
  }
  EXPECT_GT(frozen, 5);
  EXPECT_GT(moved, 10);
  for (const auto& name : trainer.trainableParameterNames())
    EXPECT_EQ(name.rfind("model.layers.0.", 0), std::string::npos);
}

TEST(TrainerTest, BadOptionsAreConfigErrors) {
  testing::TempDir dir;
  auto collective = makeSingleRankCollective();
  auto f = testing::makeDpoFixture(16, 4);
  TrainerOptions typo = baseOptions(dir.path(), 1);
  typo.freeze = {"model.layer.*"};
  EXPECT_THROW(Trainer(typo, f.policy, *f.objective, *collective).run(), ConfigError);
  TrainerOptions batch = baseOptions(dir.path(), 1);
  batch.micro_batch_size = 3;
  EXPECT_THROW(Trainer(batch, f.policy, *f.objective, *collective).run(), ConfigError);
}

TEST(TrainerTest, ResumeNeverRefusesToOverwriteAnEarlierRun) {
  testing::TempDir dir;
  auto collective = makeSingleRankCollective();
  auto f = testing::makeDpoFixture(16, 4);
  Trainer(baseOptions(dir.path(), 1), f.policy, *f.objective, *collective).run();
  auto g = testing::makeDpoFixture(16, 4);
  TrainerOptions o = baseOptions(dir.path(), 1);
  o.resume = "never";
  EXPECT_THROW(Trainer(o, g.policy, *g.objective, *collective).run(), ConfigError);
}

}  // namespace
}  // namespace gramrl
