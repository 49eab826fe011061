// gramrl plan (common/plan/run_plan.h, NOTE [Run plan]) against hand computation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>

#include "common/config/config_loader.h"
#include "common/core/errors.h"
#include "common/plan/run_plan.h"

namespace gramrl::plan {
namespace {

using ::testing::HasSubstr;

// meta-llama/Llama-3.1-8B-Instruct's config.json.
ModelConfig llama31_8b() {
  ModelConfig m;
  m.model_type = "llama";
  m.vocab_size = 128256;
  m.hidden_size = 4096;
  m.intermediate_size = 14336;
  m.num_hidden_layers = 32;
  m.num_attention_heads = 32;
  m.num_key_value_heads = 8;
  m.head_dim = 128;
  return m;
}

// Qwen/Qwen3-0.6B's config.json: tied embeddings, q/k norms.
ModelConfig qwen3_06b() {
  ModelConfig m;
  m.model_type = "qwen3";
  m.vocab_size = 151936;
  m.hidden_size = 1024;
  m.intermediate_size = 3072;
  m.num_hidden_layers = 28;
  m.num_attention_heads = 16;
  m.num_key_value_heads = 8;
  m.head_dim = 128;
  m.qk_norm = true;
  m.tie_word_embeddings = true;
  return m;
}

TEST(RunPlan, ParameterCountsOfRealModels) {
  // Llama-3.1-8B: embeddings 128256 x 4096 = 525,336,576 (twice: untied head); per layer
  // q 4096x4096 + k, v 2 x 4096x1024 + o 4096x4096 + MLP 3 x 4096x14336 + 2 norms x 4096
  // = 16,777,216 + 8,388,608 + 16,777,216 + 176,160,768 + 8,192 = 218,112,000; x 32 = 6,979,584,000;
  // + final norm 4,096: 8,030,261,248 (the published 8.03B).
  EXPECT_EQ(parameterCount(llama31_8b()), 8030261248);
  // Qwen3-0.6B: per layer 3 x 2,097,152 + 9,437,184 + 2,048 + q/k norms 256 = 15,730,944; x 28 =
  // 440,466,432; + tied embeddings 155,582,464 + 1,024 = 596,049,920 (the published 0.6B / 596M).
  EXPECT_EQ(parameterCount(qwen3_06b()), 596049920);
}

ExperimentConfig gramStage2() {
  ExperimentConfig c;
  c.learner.algorithm = "gram_finetune";
  c.learner.ranks = 8;
  c.learner.micro_batch_size = 4;
  c.learner.global_batch_size = 128;
  c.learner.total_steps = 625;
  c.learner.precision = "bf16";
  c.reward.model = "/checkpoints/Llama-3.1-8B-Instruct";
  c.reward.max_tokens = 2048;
  return c;
}

constexpr double kGiB = 1024.0 * 1024 * 1024;

TEST(RunPlan, GramStage2OnLlama8BByHand) {
  const RunPlan plan = planRun(gramStage2(), [](const std::string&) { return llama31_8b(); });
  ASSERT_EQ(plan.processes.size(), 1u);
  const ProcessPlan& rank = plan.processes[0];
  ASSERT_EQ(rank.items.size(), 3u);
  // States: 16 x 8,030,261,248 = 128,484,179,968 bytes (119.66 GiB).
  EXPECT_DOUBLE_EQ(rank.items[0].bytes, 128484179968.0);
  // Activations, b = 4, s = 2048 (8192 tokens), bf16, no logits (stage 2 reads two rows):
  //   per token 8 x 4096 + 2 x (4096 + (32 + 16) x 128 + 32 x 128 + 4096 + 4 x 14336)
  //           = 32,768 + 2 x 75,776 = 184,320 bytes; x 8192 tokens = 1,509,949,440
  //   attention 4 x 32 x 2048^2 x (4 + 2) = 3,221,225,472
  //   per layer 4,731,174,912; x 32 layers = 151,397,597,184 bytes (141.00 GiB)
  EXPECT_DOUBLE_EQ(rank.items[1].bytes, 151397597184.0);
  // Total with 1 GiB of slack: 280,955,518,976 bytes = 261.66 GiB > 80: does not fit, and the
  // largest part (activations) names learner.micro_batch_size.
  EXPECT_DOUBLE_EQ(rank.total(), 280955518976.0);
  EXPECT_FALSE(plan.fits);
  ASSERT_EQ(plan.advice.size(), 1u);
  EXPECT_THAT(plan.advice[0], HasSubstr("lower learner.micro_batch_size"));
  // Time: 625 steps x 128 x 2048 = 163,840,000 tokens; 6 x P x tokens = 7.894e18 FLOPs; on 8 GPUs
  // at 989 TFLOP/s x 0.4 = 3.1648e15 FLOP/s: 2494.3 s.
  EXPECT_NEAR(plan.train_flops, 6.0 * 8030261248.0 * 163840000.0, 1e6);
  EXPECT_NEAR(plan.train_seconds, 2494.3, 0.1);
  EXPECT_EQ(plan.gpus, 8);
}

TEST(RunPlan, MicroBatchOneStillDoesNotFitAn8BWithoutSharding) {
  ExperimentConfig c = gramStage2();
  c.learner.micro_batch_size = 1;
  const RunPlan plan = planRun(c, [](const std::string&) { return llama31_8b(); });
  // Activations 32 x (2048 x 184,320 + 32 x 2048^2 x 6) = 32 x 1,182,793,728 = 37,849,399,296;
  // total 128,484,179,968 + 37,849,399,296 + 1 GiB = 167,407,321,088 bytes (155.9 GiB): the
  // optimizer states alone exceed 80 GiB, which no batch size changes.
  EXPECT_DOUBLE_EQ(plan.processes[0].total(), 167407321088.0);
  EXPECT_FALSE(plan.fits);
  EXPECT_THAT(plan.advice[0], HasSubstr("does not depend on a batch size"));
  // The same on a 0.6B model fits.
  const RunPlan small = planRun(c, [](const std::string&) { return qwen3_06b(); });
  EXPECT_TRUE(small.fits);
  EXPECT_THAT(planMarkdown(small), HasSubstr("The run fits."));
}

TEST(RunPlan, OnlineRunPlansActorsAndReplicas) {
  ExperimentConfig c;
  c.learner.algorithm = "grpo";
  c.learner.micro_batch_size = 2;
  c.learner.grpo.kl_coef = 0.05;
  c.policy.model = "/checkpoints/Qwen3-0.6B";
  c.policy.max_prompt_tokens = 512;
  c.policy.max_new_tokens = 512;
  c.rollout.actors = 2;
  c.rollout.batch_size = 8;
  c.rollout.samples_per_prompt = 4;
  c.reward.backend = "gram";
  c.reward.model = "/checkpoints/GRAM-Qwen3-0.6B";
  c.reward.replicas = 1;
  c.reward.batch_size = 16;
  c.reward.max_tokens = 1024;
  const RunPlan plan = planRun(c, [](const std::string&) { return qwen3_06b(); });
  ASSERT_EQ(plan.processes.size(), 3u);
  // The rank keeps a fp32 KL reference: 4 x 596,049,920.
  EXPECT_EQ(plan.processes[0].items[2].what, "KL reference model (fp32)");
  EXPECT_DOUBLE_EQ(plan.processes[0].items[2].bytes, 4 * 596049920.0);
  // Actor KV cache: 8 x 4 sequences x 1024 tokens x (2 x 28 layers x 8 heads x 128 x 2 bytes =
  // 114,688 bytes per token) = 3,758,096,384 bytes.
  EXPECT_EQ(plan.processes[1].role, "rollout actor");
  EXPECT_DOUBLE_EQ(plan.processes[1].items[1].bytes, 3758096384.0);
  // Reward replica: bf16 weights; debiasing doubles the rows to 32.
  EXPECT_DOUBLE_EQ(plan.processes[2].items[0].bytes, 2 * 596049920.0);
  EXPECT_THAT(plan.processes[2].items[1].what, HasSubstr("32 x 1024"));
  EXPECT_EQ(plan.gpus, 1 + 2 + 1);
}

// Qwen/Qwen3-4B's config.json.
ModelConfig qwen3_4b() {
  ModelConfig m = qwen3_06b();
  m.hidden_size = 2560;
  m.intermediate_size = 9728;
  m.num_hidden_layers = 36;
  m.num_attention_heads = 32;
  return m;
}

// meta-llama/Llama-3.2-3B-Instruct's config.json: tied embeddings, 24 query heads of 128.
ModelConfig llama32_3b() {
  ModelConfig m = llama31_8b();
  m.hidden_size = 3072;
  m.intermediate_size = 8192;
  m.num_hidden_layers = 28;
  m.num_attention_heads = 24;
  m.tie_word_embeddings = true;
  return m;
}

// Every shipped recipe plans (with the published config.json of the model its path names). What
// they need is printed for docs/recipes.md; the 8B and 4B GRAM recipes do not fit an 80 GiB GPU
// with today's trainer (full fp32 replicas per rank, no activation recomputation), the 3B ones do.
TEST(RunPlan, ShippedRecipesPlan) {
  int planned = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(GRAMRL_SOURCE_DIR) + "/configs/recipes")) {
    SCOPED_TRACE(entry.path().string());
    const std::string name = entry.path().filename().string();
    const ExperimentConfig config = loadExperimentConfig(entry.path().string());
    const RunPlan plan = planRun(config, [](const std::string& model) {
      auto has = [&](const char* what) { return model.find(what) != std::string::npos; };
      if (has("qwen3-4b") || has("Qwen3-4B")) return qwen3_4b();
      if (has("llama3.2-3b") || has("Llama-3.2-3B")) return llama32_3b();
      return llama31_8b();
    });
    std::cout << name << ": " << plan.processes[0].total() / kGiB << " GiB per rank, " << plan.train_seconds / 3600
              << " h\n";
    EXPECT_GT(plan.train_seconds, 0);
    if (name.find("llama3.2-3b") != std::string::npos) {
      EXPECT_TRUE(plan.fits) << "the 3B recipes are sized to fit an 80 GiB H100 at micro-batch 1";
      EXPECT_LT(plan.processes[0].total() / kGiB, 80);
    }
    ++planned;
  }
  EXPECT_EQ(planned, 8);
  EXPECT_EQ(parameterCount(qwen3_4b()), 4022468096);
  // Llama-3.2-3B: embeddings 128256 x 3072 = 394,002,432 (tied: once); per layer q, o 2 x 3072^2
  // + k, v 2 x 3072 x 1024 + MLP 3 x 3072 x 8192 + 2 norms x 3072 = 18,874,368 + 6,291,456 +
  // 75,497,472 + 6,144 = 100,669,440; x 28 = 2,818,744,320; + final norm 3,072: 3,212,749,824
  // (the published 3.21B).
  EXPECT_EQ(parameterCount(llama32_3b()), 3212749824);
}

TEST(RunPlan, BuiltinModelsAreNotPlanned) {
  ExperimentConfig c;  // policy.model builtin:tiny
  EXPECT_THROW(planRun(c, [](const std::string&) { return ModelConfig{}; }), ConfigError);
}

}  // namespace
}  // namespace gramrl::plan
