// The learner's time per PPO phase (experience making, policy update, critic update), each as a
// ratio to a floor measured in the same run on the same samples and micro-batches:
//   experience  floor = 2 plain no-grad forward passes of the model (the reference's log-probs and
//               the critic's values are two forwards; the rest is bookkeeping: KL, GAE, whitening)
//   policy      floor = epochs x one plain forward + backward of the next-token log-likelihood
//               (no optimiser), the work of the clipped surrogate without its bookkeeping and AdamW
//   critic      floor = epochs x one plain forward + backward of the values' sum
// ratio = phase time / floor (1.0: the phase costs only its model passes). The samples are random
// token ids with on-policy behaviour log-probs of -5; rewards are uniform in [0, 1). Correctness
// in the same run: every phase reports finite losses and the step makes `epochs x mini_batches`
// updates of each module.
//
// Usage: ppo_phase_bench [--preset toy] [--prompts 16] [--samples 4] [--prompt-len 32]
//                        [--response-len 32] [--micro 16] [--epochs 2] [--mini-batches 2]
//                        [--steps 3] [--threads 1]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/collectives/collective.h"
#include "common/config/experiment_config.h"
#include "common/model/pretrained.h"
#include "common/model/sequence_batch.h"
#include "common/model/transformer.h"
#include "learner/rlhf/experience.h"
#include "learner/rlhf/online_algorithm.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::string preset = "toy";
  int64_t prompts = 16, samples = 4, prompt_len = 32, response_len = 32, micro = 16, epochs = 2, mini = 2, steps = 3,
          threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--preset")
      preset = v;
    else if (k == "--prompts")
      prompts = std::stoll(v);
    else if (k == "--samples")
      samples = std::stoll(v);
    else if (k == "--prompt-len")
      prompt_len = std::stoll(v);
    else if (k == "--response-len")
      response_len = std::stoll(v);
    else if (k == "--micro")
      micro = std::stoll(v);
    else if (k == "--epochs")
      epochs = std::stoll(v);
    else if (k == "--mini-batches")
      mini = std::stoll(v);
    else if (k == "--steps")
      steps = std::stoll(v);
    else if (k == "--threads")
      threads = std::stoll(v);
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  at::set_num_threads(static_cast<int>(threads));
  using namespace gramrl;
  ExperimentConfig config;
  config.experiment.seed = 3;
  config.policy.model = "builtin:" + preset;
  config.policy.max_new_tokens = response_len;
  config.rollout.samples_per_prompt = samples;
  config.learner.algorithm = "ppo";
  config.learner.global_batch_size = prompts * samples;
  config.learner.micro_batch_size = micro;
  config.learner.lr = 1e-4;
  config.learner.schedule = "constant";
  config.learner.warmup_ratio = 0.0;
  config.learner.precision = "fp32";
  config.learner.ppo.epochs = epochs;
  config.learner.ppo.mini_batches = mini;
  config.learner.ppo.kl_coef = 0.05;

  auto policy = loadPretrained(config.policy.model, torch::kFloat, torch::kCPU, PretrainedOptions{3, false});
  rlhf::OnlineAlgorithm online(config, policy, 0, torch::kCPU);
  auto collective = makeSingleRankCollective();
  const int64_t vocab = policy->config().vocab_size;

  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> token(4, static_cast<int32_t>(std::min<int64_t>(vocab, 250)) - 1);
  std::uniform_real_distribution<float> reward(0.0f, 1.0f);
  auto makeSamples = [&](int64_t version) {
    std::vector<Trajectory> out;
    for (int64_t p = 0; p < prompts; ++p) {
      std::vector<int32_t> prompt(static_cast<size_t>(prompt_len));
      for (auto& t : prompt) t = token(rng);
      for (int64_t k = 0; k < samples; ++k) {
        Trajectory t;
        t.prompt_id = static_cast<uint64_t>(p);
        t.sample_index = static_cast<uint32_t>(k);
        t.policy_version = version;
        t.prompt = prompt;
        t.response.resize(static_cast<size_t>(response_len));
        for (auto& id : t.response) id = token(rng);
        t.behaviour_logprobs.assign(t.response.size(), -5.0f);
        t.reward = reward(rng);
        t.gold = t.reward;
        out.push_back(std::move(t));
      }
    }
    return out;
  };

  // The floors, on the step's samples in the same micro-batches.
  const std::vector<Trajectory> floor_samples = makeSamples(0);
  std::vector<std::vector<int64_t>> chunks;
  for (int64_t i = 0; i < prompts * samples; i += micro) {
    std::vector<int64_t> c;
    for (int64_t j = i; j < std::min(prompts * samples, i + micro); ++j) c.push_back(j);
    chunks.push_back(c);
  }
  auto critic = loadPretrained(config.policy.model, torch::kFloat, torch::kCPU, PretrainedOptions{3, true});
  auto forwardFloor = [&] {
    torch::NoGradGuard no_grad;
    const auto t0 = Clock::now();
    for (const auto& c : chunks) {
      const SequenceBatch b = rlhf::sampleBatch(floor_samples, c, 0, torch::kCPU);
      rlhf::nextTokenLogProbs(*policy, b, 1.0);
    }
    return seconds(t0);
  };
  auto trainFloor = [&](bool values) {
    const auto t0 = Clock::now();
    for (const auto& c : chunks) {
      const SequenceBatch b = rlhf::sampleBatch(floor_samples, c, 0, torch::kCPU);
      if (values) {
        critic->values(critic->forward(b.input_ids, b.attention_mask)).sum().backward();
      } else {
        rlhf::nextTokenLogProbs(*policy, b, 1.0).sum().backward();
      }
    }
    const double s = seconds(t0);
    for (auto& p : (values ? critic : policy)->parameters()) p.mutable_grad() = at::Tensor();
    return s;
  };
  double fwd = 1e30, train = 1e30, train_critic = 1e30;
  for (int r = 0; r < 3; ++r) {
    fwd = std::min(fwd, forwardFloor());
    train = std::min(train, trainFloor(false));
    train_critic = std::min(train_critic, trainFloor(true));
  }

  std::printf(
      "# ppo_phase_bench: builtin:%s, %lld prompts x %lld samples, prompt %lld + response %lld tokens, "
      "micro-batch %lld, %lld epochs x %lld mini-batches, %lld thread(s)\n",
      preset.c_str(), static_cast<long long>(prompts), static_cast<long long>(samples),
      static_cast<long long>(prompt_len), static_cast<long long>(response_len), static_cast<long long>(micro),
      static_cast<long long>(epochs), static_cast<long long>(mini), static_cast<long long>(threads));
  std::printf("# floors (best of 3): forward %.3f s, policy forward+backward %.3f s, critic forward+backward %.3f s\n",
              fwd, train, train_critic);
  std::printf("| step | experience s | ratio | policy update s | ratio | critic update s | ratio | updates |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  bool ok = true;
  for (int64_t s = 0; s < steps; ++s) {
    const std::vector<Trajectory> batch = makeSamples(s);
    const rlhf::StepReport r = online.step(batch, s, *collective);
    ok = ok && std::isfinite(r.policy.loss) && r.updates == epochs * mini;
    std::printf("| %lld | %.3f | %.2f | %.3f | %.2f | %.3f | %.2f | %lld |\n", static_cast<long long>(s + 1),
                r.experience_s, r.experience_s / (2 * fwd), r.policy_update_s, r.policy_update_s / (epochs * train),
                r.critic_update_s, r.critic_update_s / (epochs * train_critic), static_cast<long long>(r.updates));
  }
  if (!ok) {
    std::fprintf(stderr, "ppo_phase_bench: a step reported a non-finite loss or the wrong number of updates\n");
    return 1;
  }
  return 0;
}
