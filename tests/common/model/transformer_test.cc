// The transformer's paths agree with each other: cached steps with full forwards, padded batches
// with single sequences, mixed slot lengths with separate calls, copied slots with fresh prefills.
// (Agreement with an independent float64 implementation: reference_test.cc.)
#include <iostream>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/kv_cache.h"
#include "common/model/transformer.h"
#include "tests/common/model/model_test_util.h"

namespace gramrl {
namespace {

using testing::kFamilies;
using testing::makeModel;
using testing::maxAbsDiff;
using testing::randomTokens;
using testing::smallConfig;

// Float32 paths that compute the same function with different matmul shapes agree to ~1e-6 on
// logits of magnitude ~5 (measured values are printed); the bound leaves room for other BLAS.
constexpr double kTol = 1e-4;

// Logits of every position of one unpadded sequence [1, T] -> [T, V].
at::Tensor fullLogits(const Transformer& model, const at::Tensor& ids) {
  return model.logits(model.forward(ids, at::ones_like(ids)))[0];
}

TEST(TransformerStep, PrefillThenDecodeMatchesFullForward) {
  torch::NoGradGuard no_grad;
  for (const char* family : kFamilies) {
    SCOPED_TRACE(family);
    auto model = makeModel(smallConfig(family), 11);
    const int64_t len = 14, prefill = 5;
    const at::Tensor ids = randomTokens(1, len, model->config().vocab_size, 3);
    const at::Tensor full = fullLogits(*model, ids);
    KvCache cache(model->config(), 3, 32, at::kFloat, at::kCPU);
    StepOutput out = model->step(cache, {1}, ids.narrow(1, 0, prefill), {prefill});
    ASSERT_EQ(out.logits.sizes(), (std::vector<int64_t>{1, model->config().vocab_size}));
    ASSERT_EQ(out.last_hidden.sizes(), (std::vector<int64_t>{1, model->config().hidden_size}));
    double diff = maxAbsDiff(out.logits[0], full[prefill - 1]);
    for (int64_t t = prefill; t < len; ++t) {
      out = model->step(cache, {1}, ids.narrow(1, t, 1), {1});
      diff = std::max(diff, maxAbsDiff(out.logits[0], full[t]));
    }
    std::cout << "[measured] " << family << " prefill+decode vs forward: max |diff| " << diff << "\n";
    EXPECT_LT(diff, kTol);
    EXPECT_EQ(cache.length(1), len);
    EXPECT_EQ(cache.length(0), 0);
    EXPECT_EQ(cache.length(2), 0);
  }
}

TEST(TransformerForward, LeftAndRightPaddingMatchUnbatched) {
  torch::NoGradGuard no_grad;
  for (const char* family : kFamilies) {
    SCOPED_TRACE(family);
    auto model = makeModel(smallConfig(family), 12);
    const std::vector<int64_t> lens{9, 5, 2};
    const int64_t batch = 3, len = 9, vocab = model->config().vocab_size;
    std::vector<at::Tensor> seqs;
    for (int64_t b = 0; b < batch; ++b) seqs.push_back(randomTokens(1, lens[b], vocab, 20 + b));
    // Padding ids are random too: they must not matter.
    at::Tensor left = randomTokens(batch, len, vocab, 30), right = randomTokens(batch, len, vocab, 31);
    at::Tensor left_mask = at::zeros({batch, len}, at::kLong), right_mask = at::zeros({batch, len}, at::kLong);
    for (int64_t b = 0; b < batch; ++b) {
      left[b].narrow(0, len - lens[b], lens[b]).copy_(seqs[b][0]);
      left_mask[b].narrow(0, len - lens[b], lens[b]).fill_(1);
      right[b].narrow(0, 0, lens[b]).copy_(seqs[b][0]);
      right_mask[b].narrow(0, 0, lens[b]).fill_(1);
    }
    const at::Tensor left_logits = model->logits(model->forward(left, left_mask));
    const at::Tensor right_logits = model->logits(model->forward(right, right_mask));
    EXPECT_FALSE(left_logits.isnan().any().item<bool>());
    double diff = 0;
    for (int64_t b = 0; b < batch; ++b) {
      const at::Tensor alone = fullLogits(*model, seqs[b]);
      diff = std::max(diff, maxAbsDiff(left_logits[b].narrow(0, len - lens[b], lens[b]), alone));
      diff = std::max(diff, maxAbsDiff(right_logits[b].narrow(0, 0, lens[b]), alone));
    }
    std::cout << "[measured] " << family << " padded batch vs unbatched: max |diff| " << diff << "\n";
    EXPECT_LT(diff, kTol);
  }
}

TEST(TransformerForward, ExplicitPositionIdsAreUsed) {
  // Explicit positions equal to the mask-derived ones change nothing; a gap in them changes the
  // relative distances RoPE encodes (a constant offset would not).
  torch::NoGradGuard no_grad;
  auto model = makeModel(smallConfig("llama"), 13);
  const at::Tensor ids = randomTokens(1, 6, model->config().vocab_size, 5);
  const at::Tensor mask = at::ones_like(ids);
  const at::Tensor positions = at::arange(6, at::kLong).unsqueeze(0);
  EXPECT_TRUE(torch::equal(model->forward(ids, mask), model->forward(ids, mask, positions)));
  const at::Tensor shifted = model->forward(ids, mask, positions + 100);
  EXPECT_LT(maxAbsDiff(model->forward(ids, mask), shifted), 1e-4);
  const at::Tensor gap = positions + (positions >= 3).to(at::kLong) * 100;
  EXPECT_GT(maxAbsDiff(model->forward(ids, mask), model->forward(ids, mask, gap)), 1e-3);
}

TEST(TransformerStep, RowsOfDifferentSlotLengthsMatchSeparateCalls) {
  torch::NoGradGuard no_grad;
  for (const char* family : kFamilies) {
    SCOPED_TRACE(family);
    auto model = makeModel(smallConfig(family), 14);
    const int64_t vocab = model->config().vocab_size;
    const std::vector<int64_t> slots{4, 1, 2};
    const std::vector<int64_t> history{6, 2, 0};  // slot 2 starts a new sequence in the batch
    const std::vector<int64_t> appended{1, 3, 4};
    std::vector<at::Tensor> seqs;
    for (size_t i = 0; i < slots.size(); ++i) {
      seqs.push_back(randomTokens(1, history[i] + appended[i] + 1, vocab, 40 + i));
    }
    KvCache together(model->config(), 5, 16, at::kFloat, at::kCPU), apart(model->config(), 5, 16, at::kFloat, at::kCPU);
    for (size_t i = 0; i < slots.size(); ++i) {
      if (history[i] == 0) continue;
      for (KvCache* cache : {&together, &apart}) {
        model->step(*cache, {slots[i]}, seqs[i].narrow(1, 0, history[i]), {history[i]});
      }
    }
    at::Tensor batch = randomTokens(3, 4, vocab, 50);  // right-padded with random ids
    for (size_t i = 0; i < slots.size(); ++i)
      batch[i].narrow(0, 0, appended[i]).copy_(seqs[i][0].narrow(0, history[i], appended[i]));
    const StepOutput joint = model->step(together, slots, batch, appended);
    double diff = 0;
    for (size_t i = 0; i < slots.size(); ++i) {
      const StepOutput single =
          model->step(apart, {slots[i]}, seqs[i].narrow(1, history[i], appended[i]), {appended[i]});
      diff = std::max(diff, maxAbsDiff(joint.logits[i], single.logits[0]));
      diff = std::max(diff, maxAbsDiff(joint.last_hidden[i], single.last_hidden[0]));
      // And both equal the full forward at the last appended token.
      const at::Tensor full = fullLogits(*model, seqs[i]);
      diff = std::max(diff, maxAbsDiff(joint.logits[i], full[history[i] + appended[i] - 1]));
      EXPECT_EQ(together.length(slots[i]), history[i] + appended[i]);
    }
    // One more decode token per slot: the caches must hold the same keys and values.
    at::Tensor next = at::zeros({3, 1}, at::kLong);
    for (size_t i = 0; i < slots.size(); ++i) next[i][0] = seqs[i][0][history[i] + appended[i]];
    const StepOutput a = model->step(together, slots, next, {1, 1, 1});
    const StepOutput b = model->step(apart, slots, next, {1, 1, 1});
    diff = std::max(diff, maxAbsDiff(a.logits, b.logits));
    for (size_t i = 0; i < slots.size(); ++i) {
      diff = std::max(diff, maxAbsDiff(a.logits[i], fullLogits(*model, seqs[i])[history[i] + appended[i]]));
    }
    std::cout << "[measured] " << family << " mixed slot lengths vs separate calls: max |diff| " << diff << "\n";
    EXPECT_LT(diff, kTol);
  }
}

TEST(TransformerStep, CopiedSlotsContinueLikeFreshPrefills) {
  torch::NoGradGuard no_grad;
  auto model = makeModel(smallConfig("qwen3"), 15);
  const int64_t vocab = model->config().vocab_size, prompt_len = 7, steps = 4;
  const at::Tensor prompt = randomTokens(1, prompt_len, vocab, 60);
  KvCache cache(model->config(), 4, 32, at::kFloat, at::kCPU);
  // Slot 2 first holds a longer, unrelated sequence: the copy must replace it.
  model->step(cache, {2}, randomTokens(1, 12, vocab, 61), {12});
  model->step(cache, {0}, prompt, {prompt_len});
  cache.copySlot(0, 1);
  cache.copySlot(0, 2);
  cache.copySlot(0, 0);  // no-op
  EXPECT_EQ(cache.length(1), prompt_len);
  EXPECT_EQ(cache.length(2), prompt_len);
  const at::Tensor continuations = randomTokens(3, steps, vocab, 62);
  double diff = 0;
  for (int64_t t = 0; t < steps; ++t) {
    const StepOutput out = model->step(cache, {0, 1, 2}, continuations.narrow(1, t, 1), {1, 1, 1});
    for (int64_t s = 0; s < 3; ++s) {
      const at::Tensor seq = at::cat({prompt, continuations[s].narrow(0, 0, t + 1).unsqueeze(0)}, 1);
      diff = std::max(diff, maxAbsDiff(out.logits[s], fullLogits(*model, seq)[prompt_len + t]));
    }
  }
  // A cleared slot starts over.
  cache.clear(1);
  EXPECT_EQ(cache.length(1), 0);
  const at::Tensor fresh = randomTokens(1, 5, vocab, 63);
  const StepOutput out = model->step(cache, {1}, fresh, {5});
  diff = std::max(diff, maxAbsDiff(out.logits[0], fullLogits(*model, fresh)[4]));
  // truncate() rolls back: re-appending the same tokens gives the same logits.
  cache.truncate(1, 3);
  const StepOutput again = model->step(cache, {1}, fresh.narrow(1, 3, 2), {2});
  diff = std::max(diff, maxAbsDiff(again.logits[0], out.logits[0]));
  std::cout << "[measured] copySlot/clear/truncate vs forward: max |diff| " << diff << "\n";
  EXPECT_LT(diff, kTol);
}

TEST(TransformerStep, RejectsBadCallsWithoutMovingLengths) {
  torch::NoGradGuard no_grad;
  auto model = makeModel(smallConfig("qwen2"), 16);
  KvCache cache(model->config(), 2, 8, at::kFloat, at::kCPU);
  const at::Tensor ids = randomTokens(1, 6, model->config().vocab_size, 70);
  model->step(cache, {0}, ids, {6});
  EXPECT_THROW(model->step(cache, {0}, ids, {3}), DataError);  // 6 + 3 > 8
  EXPECT_EQ(cache.length(0), 6);
  EXPECT_THROW(model->step(cache, {0, 0}, randomTokens(2, 1, 10, 1), {1, 1}), InternalError);  // same slot twice
  EXPECT_THROW(model->step(cache, {2}, ids, {1}), InternalError);                              // no slot 2
  EXPECT_THROW(model->step(cache, {1}, ids, {0}), InternalError);                              // empty row
  EXPECT_THROW(model->step(cache, {1}, ids + model->config().vocab_size, {6}), DataError);     // id >= vocab
  EXPECT_EQ(cache.length(1), 0);
  KvCache other_dtype(model->config(), 1, 8, at::kDouble, at::kCPU);
  EXPECT_THROW(model->step(other_dtype, {0}, ids, {1}), InternalError);
  EXPECT_THROW(KvCache(model->config(), 0, 8, at::kFloat, at::kCPU), ConfigError);
  at::Tensor negative = ids.clone();
  negative[0][2] = -1;
  EXPECT_THROW(model->forward(negative, at::ones_like(ids)), DataError);
}

TEST(TransformerForward, Bfloat16TracksFloat32) {
  // The GPU dtype, run on the CPU: same seeded weights rounded to bf16; cached and full paths.
  torch::NoGradGuard no_grad;
  const ModelConfig config = smallConfig("qwen3");
  auto f32 = makeModel(config, 17);
  auto bf16 = makeModel(config, 17, at::kBFloat16);
  EXPECT_EQ(bf16->outputEmbedding().scalar_type(), at::kBFloat16);
  const at::Tensor ids = randomTokens(2, 10, config.vocab_size, 80);
  const at::Tensor mask = at::ones_like(ids);
  const at::Tensor ref = f32->logits(f32->forward(ids, mask));
  const at::Tensor low = bf16->logits(bf16->forward(ids, mask));
  EXPECT_EQ(low.scalar_type(), at::kFloat);
  KvCache cache(config, 2, 16, at::kBFloat16, at::kCPU);
  const StepOutput step = bf16->step(cache, {0, 1}, ids, {10, 10});
  const double diff = maxAbsDiff(low, ref), step_diff = maxAbsDiff(step.logits, low.select(1, 9));
  const double scale = ref.abs().max().item<double>();
  std::cout << "[measured] bf16 vs fp32 logits: max |diff| " << diff << " (max |logit| " << scale
            << "); bf16 step vs bf16 forward: " << step_diff << "\n";
  EXPECT_LT(diff, 0.05 * scale);
  EXPECT_LT(step_diff, 0.05 * scale);
}

}  // namespace
}  // namespace gramrl
