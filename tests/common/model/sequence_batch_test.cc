// Response log-probs against a float64 recomputation from full logits, and the padding layout.
#include "common/model/sequence_batch.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/model/pretrained.h"

namespace gramrl {
namespace {

TEST(SequenceBatchTest, MasksExactlyTheResponseTargets) {
  tokenizer::PromptResponse a{{257, 10, 11}, {20, 21}};
  tokenizer::PromptResponse b{{257, 12}, {22}};
  const SequenceBatch batch = makeSequenceBatch({&a, &b}, 256, torch::kCPU);
  ASSERT_EQ(batch.input_ids.sizes(), (std::vector<int64_t>{2, 5}));
  EXPECT_TRUE(torch::equal(batch.input_ids[1], torch::tensor({257, 12, 22, 256, 256}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(batch.attention_mask[1], torch::tensor({1, 1, 1, 0, 0}, torch::kInt64)));
  // Row 0: positions 2 and 3 predict the response tokens at 3 and 4.
  EXPECT_TRUE(torch::equal(batch.target_mask[0], torch::tensor({false, false, true, true})));
  EXPECT_TRUE(torch::equal(batch.target_mask[1], torch::tensor({false, true, false, false})));
  EXPECT_EQ(batch.tokens, 8);
}

TEST(SequenceBatchTest, ResponseLogProbsMatchFloat64FullSoftmax) {
  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{9, false});
  tokenizer::PromptResponse a{{257, 260, 50, 51, 262, 261}, {52, 53, 54, 262}};
  tokenizer::PromptResponse b{{257, 260, 60, 262, 261}, {61, 262}};
  const SequenceBatch batch = makeSequenceBatch({&a, &b}, 256, torch::kCPU);
  const ResponseLogProbs lp = responseLogProbs(*model, batch);

  torch::NoGradGuard no_grad;
  for (int row = 0; row < 2; ++row) {
    const tokenizer::PromptResponse& r = row == 0 ? a : b;
    std::vector<int64_t> ids = r.prompt;
    ids.insert(ids.end(), r.response.begin(), r.response.end());
    const auto t = static_cast<int64_t>(ids.size());
    const at::Tensor x = torch::tensor(ids, torch::kInt64).unsqueeze(0);
    const at::Tensor logits = model->logits(model->forward(x, torch::ones_like(x))).to(torch::kFloat64)[0];
    const at::Tensor logp = torch::log_softmax(logits, -1);
    double expected = 0;
    for (auto k = static_cast<int64_t>(r.prompt.size()); k < t; ++k) expected += logp[k - 1][ids[k]].item<double>();
    EXPECT_NEAR(lp.sum[row].item<double>(), expected, 2e-4 * std::abs(expected));
    EXPECT_EQ(lp.count[row].item<double>(), static_cast<double>(r.response.size()));
  }
}

}  // namespace
}  // namespace gramrl
