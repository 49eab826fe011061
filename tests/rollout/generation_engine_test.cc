#include <algorithm>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "rollout/generation_engine.h"
#include "tests/rollout/fake_decoder.h"

namespace gramrl {
namespace {

using testing::FakeDecoder;

std::vector<std::vector<int64_t>> somePrompts(int count) {
  std::vector<std::vector<int64_t>> prompts;
  for (int i = 0; i < count; ++i) {
    std::vector<int64_t> p;
    for (int t = 0; t < 2 + (i * 3) % 5; ++t) p.push_back((i * 7 + t * 3) % 16);
    prompts.push_back(p);
  }
  return prompts;
}

GenerationOptions sampled(int64_t n) {
  GenerationOptions o;
  o.sampling = {0.8, 0, 0.95};
  o.max_new_tokens = 12;
  o.stop_token_ids = {0};
  o.samples_per_prompt = n;
  o.seed = 1234;
  return o;
}

TEST(GenerationEngine, ContinuousBatchingEqualsOneAtATime) {
  const auto prompts = somePrompts(7);
  const GenerationOptions opts = sampled(2);

  FakeDecoder small(3, 64, 16);  // 3 slots: a prompt with 2 samples leaves one slot for refills
  GenerationEngine engine(small);
  const auto batched = engine.generate(prompts, opts);
  ASSERT_EQ(batched.size(), 14u);

  for (size_t i = 0; i < prompts.size(); ++i) {
    FakeDecoder alone(2, 64, 16);
    GenerationEngine solo(alone);
    GenerationOptions one = opts;
    one.prompt_ids = {i};
    const auto got = solo.generate({prompts[i]}, one);
    for (int64_t k = 0; k < 2; ++k) {
      const Completion& b = batched[i * 2 + static_cast<size_t>(k)];
      EXPECT_EQ(b.prompt_index, static_cast<int64_t>(i));
      EXPECT_EQ(b.sample_index, k);
      EXPECT_EQ(b.tokens, got[static_cast<size_t>(k)].tokens) << "prompt " << i << " sample " << k;
      EXPECT_EQ(b.logprobs, got[static_cast<size_t>(k)].logprobs);
      EXPECT_EQ(b.finish_reason, got[static_cast<size_t>(k)].finish_reason);
    }
  }
}

TEST(GenerationEngine, RefillsSlotsInsteadOfWaitingForTheBatch) {
  FakeDecoder decoder(2, 64, 16);
  GenerationEngine engine(decoder);
  GenerationOptions opts = sampled(1);
  opts.stop_token_ids = {1, 2};  // sequences end at different lengths
  opts.max_new_tokens = 20;
  const auto out = engine.generate(somePrompts(9), opts);
  std::set<size_t> lengths;
  for (const auto& c : out) lengths.insert(c.tokens.size());
  ASSERT_GT(lengths.size(), 2u) << "the test needs sequences of different lengths";
  // Prompts (all >= 2 tokens) are prefilled with T > 1; decode steps have T == 1. While prompts
  // are still waiting, every decode step must run with both slots busy.
  size_t last_prefill = 0;
  for (size_t i = 0; i < decoder.calls.size(); ++i) {
    if (decoder.calls[i].second > 1) last_prefill = i;
  }
  int checked = 0;
  for (size_t i = 0; i < last_prefill; ++i) {
    if (decoder.calls[i].second == 1) {
      EXPECT_EQ(decoder.calls[i].first, 2) << "decode step " << i << " ran with a free slot while prompts waited";
      ++checked;
    }
  }
  EXPECT_GT(checked, 5);
}

TEST(GenerationEngine, SamplesOfAPromptSharePrefill) {
  FakeDecoder decoder(8, 64, 16);
  GenerationEngine engine(decoder);
  const auto prompts = somePrompts(3);
  const auto out = engine.generate(prompts, sampled(4));
  int64_t prompt_tokens = 0;
  for (const auto& p : prompts) prompt_tokens += static_cast<int64_t>(p.size());
  EXPECT_EQ(engine.stats().prefill_tokens, prompt_tokens);
  EXPECT_EQ(engine.stats().slot_copies, 3 * 3);
  // Different samples of one prompt draw different random streams.
  bool differ = false;
  for (int k = 1; k < 4; ++k) differ = differ || out[static_cast<size_t>(k)].tokens != out[0].tokens;
  EXPECT_TRUE(differ);
}

TEST(GenerationEngine, StopsAtStopTokensAndMaxNewTokens) {
  FakeDecoder decoder(4, 64, 16);
  GenerationEngine engine(decoder);
  GenerationOptions opts = sampled(1);
  opts.sampling = {1.0, 0, 1.0};
  opts.max_new_tokens = 30;
  opts.stop_token_ids = {3, 5};
  const auto out = engine.generate(somePrompts(8), opts);
  int stopped = 0;
  for (const auto& c : out) {
    ASSERT_FALSE(c.tokens.empty());
    EXPECT_LE(c.tokens.size(), 30u);
    EXPECT_EQ(c.tokens.size(), c.logprobs.size());
    EXPECT_EQ(c.tokens.size(), c.policy_logprobs.size());
    for (size_t t = 0; t + 1 < c.tokens.size(); ++t) EXPECT_TRUE(c.tokens[t] != 3 && c.tokens[t] != 5);
    if (c.finish_reason == FinishReason::kStopToken) {
      ++stopped;
      EXPECT_TRUE(c.tokens.back() == 3 || c.tokens.back() == 5);
    } else {
      EXPECT_EQ(c.tokens.size(), 30u);
    }
  }
  EXPECT_GT(stopped, 0);
}

TEST(GenerationEngine, GreedyIsDeterministicAndSeedsReproduce) {
  const auto prompts = somePrompts(4);
  GenerationOptions greedy = sampled(1);
  greedy.sampling = {0.0, 0, 1.0};
  FakeDecoder d1(4, 64, 16), d2(4, 64, 16);
  GenerationEngine e1(d1), e2(d2);
  const auto a = e1.generate(prompts, greedy);
  const auto b = e2.generate(prompts, greedy);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].tokens, b[i].tokens);

  GenerationOptions s1 = sampled(1), s2 = sampled(1);
  s2.seed = 99;
  const auto x = e1.generate(prompts, s1);
  const auto y = e1.generate(prompts, s1);
  const auto z = e2.generate(prompts, s2);
  bool any_diff = false;
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i].tokens, y[i].tokens);
    any_diff = any_diff || x[i].tokens != z[i].tokens;
  }
  EXPECT_TRUE(any_diff);
}

TEST(GenerationEngine, StreamsEveryTokenAndFinish) {
  FakeDecoder decoder(4, 64, 16);
  GenerationEngine engine(decoder);
  std::vector<std::vector<int64_t>> streamed(3);
  int finished = 0;
  GenerationCallbacks cb;
  cb.on_token = [&](int64_t p, int64_t, int64_t tok) { streamed[static_cast<size_t>(p)].push_back(tok); };
  cb.on_finish = [&](const Completion&) { ++finished; };
  const auto out = engine.generate(somePrompts(3), sampled(1), cb);
  EXPECT_EQ(finished, 3);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(streamed[i], out[i].tokens);
}

TEST(GenerationEngine, VocabLimitKeepsSamplesInsideTheTokenizer) {
  FakeDecoder decoder(4, 64, 16);
  GenerationEngine engine(decoder);
  GenerationOptions opts = sampled(2);
  opts.sampling = {2.0, 0, 1.0};  // flat: every id would appear without the limit
  opts.stop_token_ids = {};
  opts.max_new_tokens = 30;
  opts.vocab_limit = 5;
  for (const auto& c : engine.generate(somePrompts(4), opts)) {
    for (int64_t t : c.tokens) EXPECT_LT(t, 5);
  }
  opts.vocab_limit = 0;
  int64_t largest = 0;
  for (const auto& c : engine.generate(somePrompts(4), opts)) {
    for (int64_t t : c.tokens) largest = std::max(largest, t);
  }
  EXPECT_GE(largest, 5);  // the check above could fail
}

TEST(GenerationEngine, RejectsWhatCannotFit) {
  FakeDecoder decoder(2, 10, 16);
  GenerationEngine engine(decoder);
  GenerationOptions opts = sampled(1);
  opts.max_new_tokens = 5;
  EXPECT_THROW(engine.generate({{1, 2, 3, 4, 5, 6}}, opts), ConfigError);  // 6 + 5 > 10
  EXPECT_THROW(engine.generate({{}}, opts), ConfigError);
  EXPECT_THROW(engine.generate({{1, 99}}, opts), ConfigError);  // token outside the vocabulary
  opts.samples_per_prompt = 3;
  EXPECT_THROW(engine.generate({{1}}, opts), ConfigError);  // more samples than slots
}

}  // namespace
}  // namespace gramrl
