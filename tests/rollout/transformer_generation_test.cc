// The generation engine on the real tiny transformer and its KV cache.
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/model/presets.h"
#include "common/model/transformer.h"
#include "rollout/generation_engine.h"
#include "rollout/transformer_decoder.h"

namespace gramrl {
namespace {

std::shared_ptr<Transformer> tinyModel(const std::string& preset) {
  auto model = std::make_shared<Transformer>(presetConfig(preset), torch::kFloat, torch::kCPU);
  initRandom(*model, 5, 0.5);  // a larger init than 0.02 so that logits are peaked and varied
  return model;
}

std::vector<std::vector<int64_t>> prompts() {
  return {{72, 101, 108}, {1, 2, 3, 4, 5, 6, 7}, {200}, {65, 66, 67, 68}, {10, 20, 30, 40, 50}};
}

class TransformerGeneration : public ::testing::TestWithParam<std::string> {};

TEST_P(TransformerGeneration, ContinuousBatchingEqualsOneAtATime) {
  auto model = tinyModel(GetParam());
  GenerationOptions opts;
  opts.sampling = {1.0, 0, 0.9};
  opts.max_new_tokens = 10;
  opts.samples_per_prompt = 2;
  opts.seed = 77;
  opts.stop_token_ids = {kByteEosId};

  TransformerDecoder batched_decoder(model, 3, 32);  // fewer slots than sequences: slots are refilled
  GenerationEngine batched(batched_decoder);
  const auto all = batched.generate(prompts(), opts);
  ASSERT_EQ(all.size(), 10u);
  for (size_t i = 0; i < prompts().size(); ++i) {
    TransformerDecoder alone_decoder(model, 2, 32);
    GenerationEngine alone(alone_decoder);
    GenerationOptions one = opts;
    one.prompt_ids = {i};
    const auto got = alone.generate({prompts()[i]}, one);
    for (size_t k = 0; k < 2; ++k) {
      const auto& b = all[i * 2 + k];
      EXPECT_EQ(b.tokens, got[k].tokens) << "prompt " << i << " sample " << k;
      ASSERT_EQ(b.policy_logprobs.size(), got[k].policy_logprobs.size());
      for (size_t t = 0; t < b.policy_logprobs.size(); ++t) {
        EXPECT_NEAR(b.policy_logprobs[t], got[k].policy_logprobs[t], 1e-4);
      }
    }
  }
}

TEST_P(TransformerGeneration, GreedyMatchesArgmaxOfFullRecomputation) {
  auto model = tinyModel(GetParam());
  GenerationOptions opts;
  opts.sampling = {0.0, 0, 1.0};
  opts.max_new_tokens = 6;
  TransformerDecoder decoder(model, 4, 32);
  GenerationEngine engine(decoder);
  const auto out = engine.generate(prompts(), opts);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < out.size(); ++i) {
    std::vector<int64_t> seq = prompts()[i];
    for (size_t t = 0; t < out[i].tokens.size(); ++t) {
      at::Tensor ids = torch::tensor(seq, torch::kLong).reshape({1, -1});
      at::Tensor logits = model->logits(model->forward(ids, torch::ones_like(ids)).select(1, ids.size(1) - 1));
      EXPECT_EQ(out[i].tokens[t], logits.argmax(1).item<int64_t>()) << "prompt " << i << " token " << t;
      EXPECT_NEAR(out[i].policy_logprobs[t], torch::log_softmax(logits, 1)[0][out[i].tokens[t]].item<float>(), 1e-4);
      seq.push_back(out[i].tokens[t]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Families, TransformerGeneration, ::testing::Values("tiny-llama", "tiny-qwen2", "tiny-qwen3"));

}  // namespace
}  // namespace gramrl
