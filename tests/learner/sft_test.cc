// Supervised fine-tuning (learner/sft) on the built-in models and the world's noisy `sft`
// demonstrations: the loss against a hand computation (prompt tokens carry no loss, the
// normaliser counts target tokens), a short run lowers the held-out loss and its checkpoint loads
// back, a stopped run resumes to the same parameters, and bad configs are ConfigErrors.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/collectives/collective.h"
#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/data/jsonl_data.h"
#include "common/model/pretrained.h"
#include "common/model/transformer.h"
#include "common/tokenizer/tokenizer_source.h"
#include "common/world/generators.h"
#include "learner/engine/trainer.h"
#include "learner/sft/sft_objective.h"
#include "learner/sft/sft_setup.h"
#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {

std::string writeDemos(const std::string& dir, const std::string& name, int64_t n, uint64_t seed) {
  world::WorldOptions options;
  options.seed = seed;
  const std::string path = (std::filesystem::path(dir) / (name + ".jsonl")).string();
  data::writeJsonl(path, world::generate("sft", n, options));
  return path;
}

ExperimentConfig sftConfig(const std::string& train, const std::string& eval, const std::string& model) {
  ExperimentConfig c;
  c.experiment.seed = 5;
  c.policy.model = model;
  c.policy.chat_template = "plain";
  c.policy.max_prompt_tokens = 64;
  c.policy.max_new_tokens = 32;
  c.learner.algorithm = "sft";
  c.learner.data.train = train;
  c.learner.data.eval = eval;
  c.learner.eval_batch_size = 64;
  return c;
}

TrainerOptions sftTrainerOptions(const std::string& run_dir, int64_t steps, double lr) {
  TrainerOptions o;
  o.run_dir = run_dir;
  o.label = "sft";
  o.total_steps = steps;
  o.global_batch_size = 32;
  o.micro_batch_size = 16;
  o.schedule = LrScheduleOptions{lr, "cosine", 0.1, 0.0, steps};
  o.seed = 3;
  o.tensorboard = false;
  o.progress_log_interval_s = 1e9;
  o.tokenizer_spec = "builtin:bytes";
  return o;
}

std::vector<nlohmann::json> readRunMetrics(const std::string& run_dir) {
  std::ifstream in(std::filesystem::path(run_dir) / "metrics.jsonl");
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::string checkpointModelDir(const std::string& run_dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  return (std::filesystem::path(run_dir) / "checkpoints" / name / "model").string();
}

double maxAbsDifference(const Transformer& a, const Transformer& b) {
  const auto pb = stateDict(b);
  double worst = 0;
  for (const auto& [name, t] : stateDict(a)) worst = std::max(worst, (t - pb.at(name)).abs().max().item<double>());
  return worst;
}

// -log p of tokens[k] for k >= from, each given tokens[0..k), in float64 from full logits.
double handNll(const Transformer& model, const std::vector<int64_t>& tokens, size_t from) {
  torch::NoGradGuard no_grad;
  const at::Tensor x = torch::tensor(tokens, torch::kInt64).unsqueeze(0);
  const at::Tensor logp =
      torch::log_softmax(model.logits(model.forward(x, torch::ones_like(x))).to(torch::kFloat64)[0], -1);
  double nll = 0;
  for (size_t k = from; k < tokens.size(); ++k) nll -= logp[static_cast<int64_t>(k) - 1][tokens[k]].item<double>();
  return nll;
}

TEST(SftObjectiveTest, LossIsTheTokenMeanOfTheResponseNllOnly) {
  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{11, false});
  // Two examples of different prompt and response lengths (byte ids; 262 = <|end|>).
  const tokenizer::PromptResponse a{{257, 260, 's', 'r', 't', 262, 261}, {'1', '2', '3', 262}};
  const tokenizer::PromptResponse b{{257, 260, 'x', 262, 261}, {'9', 262}};
  SftObjective objective(model, {a, b}, {a}, SftOptions{16, 0});

  // The normaliser counts response tokens only: 4 + 2, not the 12 prompt tokens.
  EXPECT_EQ(objective.normaliser({0, 1}), 6.0);
  EXPECT_EQ(objective.normaliser({1}), 2.0);

  auto concat = [](const tokenizer::PromptResponse& r) {
    std::vector<int64_t> t = r.prompt;
    t.insert(t.end(), r.response.begin(), r.response.end());
    return t;
  };
  const double nll_a = handNll(*model, concat(a), a.prompt.size());
  const double nll_b = handNll(*model, concat(b), b.prompt.size());
  const ObjectiveOutput out = objective.forward({0, 1});
  EXPECT_NEAR(out.loss_sum.item<double>(), nll_a + nll_b, 1e-4 * (nll_a + nll_b));
  // The step loss the trainer back-propagates: loss_sum / normaliser = mean NLL per target token.
  EXPECT_NEAR(out.loss_sum.item<double>() / objective.normaliser({0, 1}), (nll_a + nll_b) / 6.0, 1e-4);
  ASSERT_EQ(out.metrics.size(), 1u);
  EXPECT_EQ(out.metrics[0].name, "nll");
  EXPECT_EQ(out.metrics[0].count, 6.0);
  EXPECT_EQ(out.tokens, 11 + 7);

  // Prompt tokens carry no loss: the equality above would fail if they did, since scoring the
  // prompt positions too adds a lot to the NLL of this untrained model.
  EXPECT_GT(handNll(*model, concat(a), 1), nll_a + 1.0);

  const auto eval = objective.evaluate(0, 1);
  ASSERT_EQ(eval.size(), 1u);
  EXPECT_EQ(eval[0].name, "loss");
  EXPECT_EQ(eval[0].count, 4.0);
  EXPECT_NEAR(eval[0].sum, nll_a, 1e-4 * nll_a);

  // The loss has a gradient (the trainer's backward), and an empty response is a DataError.
  out.loss_sum.backward();
  EXPECT_TRUE(model->parameters()[0].grad().defined());
  EXPECT_THROW(SftObjective(model, {tokenizer::PromptResponse{{257}, {}}}, {}, SftOptions{}), DataError);
}

TEST(SftTrainingTest, ShortRunLowersHeldOutLossAndItsCheckpointLoadsBack) {
  const int64_t kSteps = 40;
  testing::TempDir dir;
  auto collective = makeSingleRankCollective();
  SftSetup setup =
      buildSft(sftConfig(writeDemos(dir.path(), "d", 2000, 21), writeDemos(dir.path(), "e", 128, 22), "builtin:toy"),
               torch::kCPU);
  EXPECT_EQ(setup.objective->name(), "sft");
  EXPECT_EQ(setup.objective->size(), 2000);
  EXPECT_EQ(setup.tokenizer_spec, "builtin:bytes");
  const auto before_metrics = setup.objective->evaluate(0, 1);
  const double before = before_metrics[0].sum / before_metrics[0].count;
  const std::string run = dir.file("sft");
  TrainerOptions o = sftTrainerOptions(run, kSteps, 3e-3);
  o.eval_every = kSteps;
  Trainer(o, setup.policy, *setup.objective, *collective).run();
  const auto metrics = readRunMetrics(run);
  ASSERT_EQ(metrics.size(), static_cast<size_t>(kSteps));
  const double after = metrics.back()["eval/loss"].get<double>();
  std::printf("held-out SFT NLL per response token: %.3f -> %.3f (train nll last %.3f)\n", before, after,
              metrics.back()["nll"].get<double>());
  // A random byte model starts near log(264) = 5.6 nats per token; digits and <|end|> are learnable.
  EXPECT_GT(before, 4.5);
  EXPECT_LT(after, before - 2.0);

  auto loaded = loadPretrained(checkpointModelDir(run, kSteps), torch::kFloat, torch::kCPU);
  EXPECT_EQ(maxAbsDifference(*loaded, *setup.policy), 0.0);
  EXPECT_EQ(tokenizer::resolveTokenizerSpec(checkpointModelDir(run, kSteps), ""), "builtin:bytes");
}

TEST(SftTrainingTest, StoppedAndResumedRunEndsWithTheSameParameters) {
  testing::TempDir dir;
  auto collective = makeSingleRankCollective();
  const ExperimentConfig config = sftConfig(writeDemos(dir.path(), "d", 64, 31), "", "builtin:tiny");
  SftSetup straight = buildSft(config, torch::kCPU);
  TrainerOptions o = sftTrainerOptions(dir.file("straight"), 6, 1e-3);
  o.checkpoint_every = 2;
  Trainer(o, straight.policy, *straight.objective, *collective).run();
  {
    SftSetup first = buildSft(config, torch::kCPU);
    TrainerOptions a = sftTrainerOptions(dir.file("resumed"), 6, 1e-3);
    a.checkpoint_every = 2;
    a.stop_after = [](const TrainerState& s) { return s.step == 4; };
    EXPECT_EQ(Trainer(a, first.policy, *first.objective, *collective).run().step, 4);
  }
  SftSetup second = buildSft(config, torch::kCPU);  // a new process: fresh initial weights
  TrainerOptions b = sftTrainerOptions(dir.file("resumed"), 6, 1e-3);
  b.checkpoint_every = 2;
  EXPECT_EQ(Trainer(b, second.policy, *second.objective, *collective).run().step, 6);
  EXPECT_GT(maxAbsDifference(*straight.policy, *buildSft(config, torch::kCPU).policy), 0.0);  // it trained
  EXPECT_EQ(maxAbsDifference(*straight.policy, *second.policy), 0.0);
  EXPECT_EQ(readRunMetrics(dir.file("straight")).back()["loss"], readRunMetrics(dir.file("resumed")).back()["loss"]);
}

TEST(SftSetupTest, HoldsOutASeededSplitAndRejectsBadConfigs) {
  testing::TempDir dir;
  ExperimentConfig config = sftConfig(writeDemos(dir.path(), "d", 100, 41), "", "builtin:tiny");
  config.learner.data.eval_holdout = 0.1;
  SftSetup setup = buildSft(config, torch::kCPU);
  EXPECT_EQ(setup.objective->size(), 90);
  EXPECT_GT(setup.objective->evaluate(0, 1)[0].count, 10.0);  // 10 demonstrations, several tokens each
  config.learner.algorithm = "dpo";
  EXPECT_THROW(buildSft(config, torch::kCPU), ConfigError);
  config.learner.algorithm = "sft";
  config.learner.data.train = "";
  EXPECT_THROW(buildSft(config, torch::kCPU), ConfigError);
  config.learner.data.train = dir.file("missing.jsonl");
  EXPECT_THROW(buildSft(config, torch::kCPU), DataError);
}

}  // namespace
}  // namespace gramrl
