// The pipeline changes nothing about the arithmetic: `gramrl rlhf` with one actor, one reward
// replica, one learner rank and max_staleness 0 (separate processes, prompt leases, the reward
// service, trajectory messages, weight sync over ZeroMQ) trains the same policy as a loop in this
// process that draws the same prompts, generates with the same seeds, scores with the gold judge
// directly and runs the same update (GRPO, and PPO with its critic).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <torch/torch.h>

#include "actors/actor_worker.h"
#include "actors/prompt_source.h"
#include "common/collectives/collective.h"
#include "common/config/config_loader.h"
#include "common/config/experiment_config.h"
#include "common/model/pretrained.h"
#include "common/model/transformer.h"
#include "common/tokenizer/chat_encoder.h"
#include "common/tokenizer/tokenizer.h"
#include "common/tokenizer/tokenizer_source.h"
#include "common/tokenizer/unicode.h"
#include "common/world/gold.h"
#include "learner/rlhf/online_algorithm.h"
#include "rollout/generation_engine.h"
#include "rollout/transformer_decoder.h"
#include "tests/support/files.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {
namespace fs = std::filesystem;

constexpr int64_t kSteps = 3;

std::string stepModel(const std::string& run_dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "step-%08lld", static_cast<long long>(step));
  return (fs::path(run_dir) / "checkpoints" / name / "model").string();
}

// Largest |a - b| over the parameters of two models of the same shape.
double maxParameterDifference(const Transformer& a, const Transformer& b) {
  const auto pa = a.named_parameters();
  const auto pb = b.named_parameters();
  EXPECT_EQ(pa.size(), pb.size());
  double worst = 0.0;
  for (const auto& item : pa) {
    const at::Tensor* other = pb.find(item.key());
    EXPECT_NE(other, nullptr) << item.key();
    if (other == nullptr) continue;
    worst = std::max(worst, (item.value() - *other).abs().max().item<double>());
  }
  return worst;
}

// Runs the pipeline with `extra` overrides, then the in-process loop from its resolved config,
// and compares the policies (and PPO's critics) after every step.
void expectPipelineEqualsReference(const std::vector<std::string>& extra) {
  testing::TempDir dir;
  const std::string run_dir = dir.path() + "/pipeline";
  std::vector<std::string> args{"rlhf",
                                std::string(GRAMRL_SOURCE_DIR) + "/configs/rlhf-toy.yaml",
                                "experiment.output_dir=" + dir.path(),
                                "experiment.name=pipeline",
                                "rollout.actors=1",
                                "reward.replicas=1",
                                "learner.ranks=1",
                                "rollout.max_staleness=0",
                                "rollout.batch_size=4",
                                "learner.global_batch_size=16",
                                "learner.micro_batch_size=8",
                                "learner.total_steps=" + std::to_string(kSteps),
                                "learner.checkpoint.every_steps=1",
                                "learner.checkpoint.keep_last=" + std::to_string(kSteps)};
  args.insert(args.end(), extra.begin(), extra.end());
  const std::string log = dir.file("rlhf.log");
  ASSERT_EQ(testing::run(testing::binaryPath("GRAMRL_BIN", GRAMRL_BIN), args, log, std::chrono::seconds(300)), 0)
      << testing::slurp(log);

  // The reference: the run's own resolved config, everything in this process and thread.
  const ExperimentConfig config = loadExperimentConfig(run_dir + "/config.yaml");
  at::set_num_threads(1);
  const auto seed = static_cast<uint64_t>(config.experiment.seed);
  auto tok = tokenizer::loadTokenizer(tokenizer::resolveTokenizerSpec(config.policy.model, config.policy.tokenizer));
  auto policy = loadPretrained(config.policy.model, torch::kFloat, torch::kCPU, PretrainedOptions{seed, false});
  auto reference = loadPretrained(config.policy.model, torch::kFloat, torch::kCPU, PretrainedOptions{seed, false});
  rlhf::OnlineAlgorithm online(config, policy, tok->specialTokens().pad.value_or(0), torch::kCPU);
  auto collective = makeSingleRankCollective();

  const tokenizer::ChatEncoder encoder(*tok, config.policy.chat_template, config.policy.max_prompt_tokens,
                                       config.policy.max_new_tokens);
  PromptSource prompts(config);
  const int64_t n = config.rollout.samples_per_prompt;
  const int64_t per_step = config.learner.global_batch_size / n;
  GenerationOptions gen = rolloutGenerationOptions(config, *tok, encoder.endOfTurnId());

  for (int64_t step = 0; step < kSteps; ++step) {
    // Generate and score the step's prompts with the policy as it is now.
    std::vector<std::vector<int64_t>> prompt_tokens;
    std::vector<std::string> prompt_texts;
    gen.prompt_ids.clear();
    for (int64_t i = 0; i < per_step; ++i) {
      const auto id = static_cast<uint64_t>(step * per_step + i);
      const auto example = prompts.at(id);
      prompt_texts.push_back(example.prompt);
      prompt_tokens.push_back(encoder.prompt(example.system, example.prompt));
      gen.prompt_ids.push_back(id);
    }
    std::vector<Trajectory> samples;
    {
      torch::NoGradGuard no_grad;
      policy->eval();
      TransformerDecoder decoder(policy, per_step * n,
                                 config.policy.max_prompt_tokens + config.policy.max_new_tokens + 1);
      GenerationEngine engine(decoder);
      std::map<std::pair<int64_t, int64_t>, Completion> by_sample;
      for (auto& c : engine.generate(prompt_tokens, gen)) {
        by_sample[{c.prompt_index, c.sample_index}] = std::move(c);
      }
      ASSERT_EQ(static_cast<int64_t>(by_sample.size()), per_step * n);
      for (const auto& [key, c] : by_sample) {
        const auto p = static_cast<size_t>(key.first);
        Trajectory t;
        t.prompt_id = gen.prompt_ids[p];
        t.sample_index = static_cast<uint32_t>(key.second);
        t.policy_version = step;
        t.prompt.assign(prompt_tokens[p].begin(), prompt_tokens[p].end());
        t.response.assign(c.tokens.begin(), c.tokens.end());
        t.behaviour_logprobs = c.policy_logprobs;
        const std::string text = tokenizer::toValidUtf8(
            tok->decode(std::vector<tokenizer::TokenId>(c.tokens.begin(), c.tokens.end()), true));
        t.reward = static_cast<float>(world::goldScore(prompt_texts[p], text));
        t.gold = t.reward;
        t.stopped = c.finish_reason == FinishReason::kStopToken;
        samples.push_back(std::move(t));
      }
    }
    online.step(samples, step, *collective);

    // The pipeline's policy after the same step.
    const auto piped = loadPretrained(stepModel(run_dir, step + 1), torch::kFloat, torch::kCPU);
    const double diff = maxParameterDifference(*policy, *piped);
    EXPECT_LT(diff, 1e-5) << "after step " << step + 1;
    std::printf("step %lld: largest parameter difference pipeline vs reference %.3g\n",
                static_cast<long long>(step + 1), diff);
    // The update moved the policy by much more than that, so the comparison can fail.
    EXPECT_GT(maxParameterDifference(*piped, *reference), 1e-3) << "after step " << step + 1;
    if (online.criticModule() != nullptr) {
      const std::string critic_dir = fs::path(stepModel(run_dir, step + 1)).parent_path().string() + "/critic";
      const auto piped_critic = loadPretrained(critic_dir, torch::kFloat, torch::kCPU);
      const double critic_diff = maxParameterDifference(online.criticModule()->model(), *piped_critic);
      EXPECT_LT(critic_diff, 1e-5) << "critic after step " << step + 1;
      std::printf("step %lld: largest critic parameter difference %.3g\n", static_cast<long long>(step + 1),
                  critic_diff);
    }
  }
}

TEST(RlhfReferenceTest, APipelineRunTrainsTheSamePolicyAsASingleProcessLoop) {
  expectPipelineEqualsReference({"learner.algorithm=grpo"});
}

TEST(RlhfReferenceTest, PpoWithACriticTrainsTheSamePolicyAndCriticAsASingleProcessLoop) {
  // Two epochs of two mini-batches: four policy and four critic updates per step.
  expectPipelineEqualsReference(
      {"learner.algorithm=ppo", "learner.ppo.epochs=2", "learner.ppo.mini_batches=2", "learner.ppo.kl_target=1.0"});
}

}  // namespace
}  // namespace gramrl
