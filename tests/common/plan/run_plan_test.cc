// gramrl plan (common/plan/run_plan.h, NOTE [Run plan]) against hand computation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>

#include <fmt/core.h>

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
  ASSERT_EQ(rank.items.size(), 4u);
  // States: weights + gradients 8 x 8,030,261,248 = 64,242,089,984 bytes (59.83 GiB), and the
  // same again for AdamW's two moments (zero_stage 0: whole on every rank).
  EXPECT_DOUBLE_EQ(rank.items[0].bytes, 64242089984.0);
  EXPECT_DOUBLE_EQ(rank.items[1].bytes, 64242089984.0);
  EXPECT_EQ(rank.items[1].key, "learner.zero_stage");
  // Activations, b = 4, s = 2048 (8192 tokens), bf16, no logits (stage 2 reads two rows):
  //   per token 8 x 4096 + 2 x (4096 + (32 + 16) x 128 + 32 x 128 + 4096 + 4 x 14336)
  //           = 32,768 + 2 x 75,776 = 184,320 bytes; x 8192 tokens = 1,509,949,440
  //   attention 4 x 32 x 2048^2 x (4 + 2) = 3,221,225,472
  //   per layer 4,731,174,912; x 32 layers = 151,397,597,184 bytes (141.00 GiB)
  EXPECT_DOUBLE_EQ(rank.items[2].bytes, 151397597184.0);
  // Total with 1 GiB of slack: 280,955,518,976 bytes = 261.66 GiB > 80: does not fit, and the
  // largest part (activations, kept whole) names learner.activation_checkpointing.
  EXPECT_DOUBLE_EQ(rank.total(), 280955518976.0);
  EXPECT_FALSE(plan.fits);
  ASSERT_EQ(plan.advice.size(), 1u);
  EXPECT_THAT(plan.advice[0], HasSubstr("set learner.activation_checkpointing=true"));
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
  // states alone exceed 80 GiB, which no batch size changes; the largest part, weights and
  // gradients (59.8 GiB), has no batch key.
  EXPECT_DOUBLE_EQ(plan.processes[0].total(), 167407321088.0);
  EXPECT_FALSE(plan.fits);
  EXPECT_THAT(plan.advice[0], HasSubstr("does not depend on a batch size"));
  EXPECT_THAT(plan.advice[0], HasSubstr("learner.zero_stage=1"));
  // With ZeRO-1 on, a PPO rank that holds two trained 8B models and a reference (at 4 ranks) is
  // told that ZeRO-1 shards only the moments and that ZeRO-3 shards the rest.
  c.learner.zero_stage = 1;
  c.learner.ranks = 4;
  c.learner.global_batch_size = 128;
  c.learner.algorithm = "ppo";
  c.policy.model = "/checkpoints/Llama-3.1-8B-Instruct";
  const RunPlan ppo = planRun(c, [](const std::string&) { return llama31_8b(); });
  EXPECT_FALSE(ppo.fits);
  EXPECT_THAT(ppo.advice[0], HasSubstr("set learner.zero_stage=3"));
  // The same on a 0.6B model fits.
  const RunPlan small = planRun(c, [](const std::string&) { return qwen3_06b(); });
  EXPECT_TRUE(small.fits);
  EXPECT_THAT(planMarkdown(small), HasSubstr("The run fits."));
}

// The same stage-2 run on 8 ranks at micro-batch 1 with both memory features (NOTE [Run plan],
// NOTE [ZeRO-1 optimizer sharding], NOTE [Activation recomputation]), by hand.
TEST(RunPlan, ZeroOneAndRecomputationFitLlama8B) {
  ExperimentConfig c = gramStage2();
  c.learner.micro_batch_size = 1;
  c.learner.zero_stage = 1;
  c.learner.activation_checkpointing = true;
  const RunPlan plan = planRun(c, [](const std::string&) { return llama31_8b(); });
  const ProcessPlan& rank = plan.processes[0];
  ASSERT_EQ(rank.items.size(), 4u);
  // Weights + gradients stay whole: 8 x 8,030,261,248 = 64,242,089,984 bytes.
  EXPECT_DOUBLE_EQ(rank.items[0].bytes, 64242089984.0);
  // AdamW moments of the largest of 8 shards. The 291 tensors in order: embeddings 525,336,576,
  // then per layer q 16,777,216, k and v 4,194,304 each, o 16,777,216, gate, up and down
  // 58,720,256 each, two norms 4,096 each (218,112,000 per layer), then the final norm and lm_head.
  // Each boundary r sits at the tensor edge nearest to r x P / 8 (P / 8 = 1,003,782,656):
  //   1: after layer 2's o: 525,336,576 + 2 x 218,112,000 + 41,943,040 = 1,003,503,616 (279,040
  //      short; with gate 58.4 M over)
  //   2: after layer 6's up: 525,336,576 + 6 x 218,112,000 + 159,383,552 = 1,993,392,128 (14.2 M
  //      short of 2,007,565,312; with down 44.5 M over)
  //   3: after layer 11's gate: 525,336,576 + 11 x 218,112,000 + 100,663,296 = 3,025,231,872
  //      (13.9 M over 3,011,347,968; without gate 44.8 M short)
  // Shard 2 = layer 6's down and norms 58,728,448 + layers 7-10 872,448,000 + layer 11's q, k, v,
  // o, gate 100,663,296 = 1,031,839,744, the largest (a Python transcription of the partition
  // gives the shards 1,003,503,616, 989,888,512, 1,031,839,744, 989,896,704, 1,031,831,552,
  // 973,119,488, 989,888,512, 1,020,293,120; their sum is P).
  EXPECT_DOUBLE_EQ(rank.items[1].bytes, 8 * 1031839744.0);
  EXPECT_EQ(rank.items[1].key, "learner.ranks");
  // Activations, 1 x 2048 tokens, recomputed: fp32 layer inputs 32 x 2048 x 4 x 4096 =
  // 1,073,741,824, plus one layer rebuilt: 2048 x 184,320 + 32 x 2048^2 x 6 = 1,182,793,728; no
  // logits (stage 2): 2,256,535,552 bytes.
  EXPECT_DOUBLE_EQ(rank.items[2].bytes, 2256535552.0);
  // 64,242,089,984 + 8,254,717,952 + 2,256,535,552 + 1 GiB = 75,827,085,312 bytes (70.62 GiB):
  // fits 80 GiB.
  EXPECT_DOUBLE_EQ(rank.total(), 75827085312.0);
  EXPECT_TRUE(plan.fits);
  // Time: each layer's forward runs twice, 8 x P x 163,840,000 tokens.
  EXPECT_NEAR(plan.train_flops, 8.0 * 8030261248.0 * 163840000.0, 1e6);
  EXPECT_THAT(planMarkdown(plan), HasSubstr("(8 x parameters x tokens, padded, with every layer's forward recomputed"));
  // ZeRO-1 on one rank shards nothing.
  c.learner.ranks = 1;
  c.learner.global_batch_size = 16;
  EXPECT_DOUBLE_EQ(planRun(c, [](const std::string&) { return llama31_8b(); }).processes[0].items[1].bytes,
                   64242089984.0);
}

// The PPO recipe's learner rank with ZeRO-3 (NOTE [ZeRO-3 parameter sharding]) on 8 ranks, by
// hand: Llama-3.1-8B, micro-batch 2, 1024 + 1024 tokens, bf16 autocast, recomputation, KL reference.
TEST(RunPlan, ZeroThreeFitsThePpoRecipeByHand) {
  const ExperimentConfig c =
      loadExperimentConfig(std::string(GRAMRL_SOURCE_DIR) + "/configs/recipes/ppo-llama3.1-8b-alpacaeval.yaml");
  ASSERT_EQ(c.learner.zero_stage, 3);
  ASSERT_EQ(c.learner.ranks, 8);
  const RunPlan plan = planRun(c, [](const std::string&) { return llama31_8b(); });
  const ProcessPlan& rank = plan.processes[0];
  ASSERT_EQ(rank.items.size(), 10u);
  // Per layer, matrices q 16,777,216 + k, v 4,194,304 each + o 16,777,216 + gate, up, down
  // 58,720,256 each = 218,103,808 (/ 8 = 27,262,976 per rank) and two norms 8,192 (1,024 per
  // rank): 27,264,000 per layer, 872,448,000 for 32 layers.
  // Policy rest: embeddings and lm_head 2 x 525,336,576 = 1,050,673,152 (131,334,144 per rank),
  // the final norm 4,096 (512): shards 872,448,000 + 131,334,144 + 512 = 1,003,782,656 elements,
  // x 16 bytes = 16,060,522,496; the rest whole, 1,050,677,248 x 8 = 8,405,417,984.
  EXPECT_DOUBLE_EQ(rank.items[0].bytes, 8405417984.0);
  EXPECT_DOUBLE_EQ(rank.items[1].bytes, 16060522496.0);
  // Activations (2 x 2048 tokens, recomputed): layer inputs 32 x 4096 x 16,384 = 2,147,483,648
  // + one layer 4096 x 184,320 = 754,974,720 + attention 2 x 32 x 2048^2 x 6 = 1,610,612,736,
  // + logits 4096 x 128,256 x 10 = 5,253,365,760: 9,766,436,864.
  EXPECT_DOUBLE_EQ(rank.items[2].bytes, 9766436864.0);
  // KL reference: its layers' shards 872,448,000 + its whole rest 1,050,677,248, x 4 bytes.
  EXPECT_DOUBLE_EQ(rank.items[3].bytes, 7692500992.0);
  // Critic: the policy's shape plus a value head, its lm_head frozen (it reads the value head):
  // 525,336,576 x 4 = 2,101,346,304. Trained rest = embeddings 525,336,576 + value_head.weight
  // 4,096 matrix elements (65,667,584 per rank) and the final norm 4,096 + value_head.bias 1
  // (ceil(4,097 / 8) = 513): shards 872,448,000 + 65,667,584 + 513 = 938,116,097 x 16 =
  // 15,009,857,552; the trained rest whole 525,344,769 x 8 = 4,202,758,152; its activations
  // without logits 4,513,071,104.
  EXPECT_DOUBLE_EQ(rank.items[4].bytes, 2101346304.0);
  EXPECT_DOUBLE_EQ(rank.items[5].bytes, 4202758152.0);
  EXPECT_DOUBLE_EQ(rank.items[6].bytes, 15009857552.0);
  EXPECT_DOUBLE_EQ(rank.items[7].bytes, 4513071104.0);
  // One gathered layer: 218,112,000 x 12 = 2,617,344,000.
  EXPECT_DOUBLE_EQ(rank.items[8].bytes, 2617344000.0);
  // Sum with 1 GiB of context: 71,442,997,272 bytes, 66.54 GiB: fits 80 GiB.
  EXPECT_DOUBLE_EQ(rank.total(), 71442997272.0);
  EXPECT_TRUE(plan.fits) << planMarkdown(plan);
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
  EXPECT_EQ(plan.processes[0].items[3].what, "KL reference model (fp32)");
  EXPECT_DOUBLE_EQ(plan.processes[0].items[3].bytes, 4 * 596049920.0);
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

// Every shipped recipe plans (with the published config.json of the model its path names). The
// markdown rows it prints are docs/recipes.md's table. With ZeRO-1 and activation recomputation
// every GRAM recipe fits an 80 GiB GPU; the PPO recipe (policy, critic and KL reference on each
// learner rank) does not (docs/recipes.md says why).
TEST(RunPlan, ShippedRecipesPlan) {
  int planned = 0;
  auto shapes = [](const std::string& model) {
    auto has = [&](const char* what) { return model.find(what) != std::string::npos; };
    if (has("qwen3-4b") || has("Qwen3-4B")) return qwen3_4b();
    if (has("llama3.2-3b") || has("Llama-3.2-3B")) return llama32_3b();
    return llama31_8b();
  };
  std::cout << "| recipe | parameters | weights + grads | AdamW moments | ZeRO-3 shards | activations | other | per "
               "rank | fits 80 GiB | time |\n";
  for (const auto& entry : std::filesystem::directory_iterator(std::string(GRAMRL_SOURCE_DIR) + "/configs/recipes")) {
    SCOPED_TRACE(entry.path().string());
    const std::string name = entry.path().filename().string();
    const ExperimentConfig config = loadExperimentConfig(entry.path().string());
    const RunPlan plan = planRun(config, shapes);
    const ProcessPlan& rank = plan.processes[0];
    double states = 0, moments = 0, shards = 0, activations = 0, other = 0;
    for (const MemoryItem& item : rank.items) {
      const bool is_shards = item.what.find("ZeRO-3 shards") != std::string::npos;
      const bool is_states = item.what.find("weights + gradients") != std::string::npos;
      const bool is_moments = item.what.find("AdamW moments") != std::string::npos;
      const bool is_activations = item.what.find("activations") != std::string::npos;
      (is_shards        ? shards
       : is_states      ? states
       : is_moments     ? moments
       : is_activations ? activations
                        : other) += item.bytes;
    }
    EXPECT_DOUBLE_EQ(states + moments + shards + activations + other, rank.total());
    const std::string model = name.find("ppo") == 0 ? config.policy.model : config.reward.model;
    std::cout << fmt::format(
        "| {} | {:.2f} B | {:.1f} GiB | {:.1f} GiB | {:.1f} GiB | {:.1f} GiB | {:.1f} GiB | {:.1f} GiB | {} | "
        "{:.1f} h |\n",
        name.substr(0, name.size() - 5), parameterCount(shapes(model)) / 1e9, states / kGiB, moments / kGiB,
        shards / kGiB, activations / kGiB, other / kGiB, rank.total() / kGiB, plan.fits ? "yes" : "no",
        plan.train_seconds / 3600);
    EXPECT_GT(plan.train_seconds, 0);
    EXPECT_TRUE(plan.fits) << "every recipe is sized to fit an 80 GiB H100";
    EXPECT_LT(rank.total() / kGiB, 80);
    if (name == "gram-llama3.2-3b-stage1.yaml") {  // the recipe's comment: micro-batch 2
      ExperimentConfig two = config;
      two.learner.micro_batch_size = 2;
      std::cout << fmt::format("{} at micro-batch 2: {:.1f} GiB per rank\n", name,
                               planRun(two, shapes).processes[0].total() / kGiB);
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
