// The baseline scorers on the built-in tiny model against direct recomputation.
#include <algorithm>
#include <cmath>
#include <memory>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/pretrained.h"
#include "common/model/sequence_batch.h"
#include "common/model/transformer.h"
#include "common/tokenizer/byte_tokenizer.h"
#include "reward/gram/scalar_scorers.h"

namespace gramrl::gram {
namespace {

std::vector<ScalarQuery> someQueries() {
  return {{std::nullopt, "sort 3 1 2", "1 2 3"},
          {std::nullopt, "reverse abc", "cba and then some more text"},
          {std::string("be brief"), "add 12 30", "42"}};
}

at::Tensor forwardOne(const Transformer& model, const std::vector<int64_t>& ids) {
  const auto t = static_cast<int64_t>(ids.size());
  return model.forward(torch::tensor(ids, torch::kInt64).view({1, t}), torch::ones({1, t}, torch::kInt64));
}

TEST(BradleyTerryScorer, EqualsTheValueHeadAtTheLastTokenOfEachSequenceAlone) {
  tokenizer::ByteTokenizer tok;
  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{3, true});
  tokenizer::ChatEncoder chat(tok, "plain", 512, 512);
  BradleyTerryScorer scorer(model, chat, /*batch_size=*/2);
  const auto queries = someQueries();
  const std::vector<double> s = scorer.scores(queries);
  ASSERT_EQ(s.size(), queries.size());
  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < queries.size(); ++k) {
    std::vector<int64_t> ids = chat.prompt(queries[k].system, queries[k].prompt);
    const auto response = chat.response(queries[k].response);
    EXPECT_EQ(response.back(), 262);  // <|end|>
    ids.insert(ids.end(), response.begin(), response.end());
    const double direct =
        model->values(forwardOne(*model, ids))[0][static_cast<int64_t>(ids.size()) - 1].item<double>();
    EXPECT_NEAR(s[k], direct, 1e-5) << k;
  }
  EXPECT_GT(std::abs(s[0] - s[1]), 1e-5);
}

TEST(BradleyTerryScorer, ModelWithoutValueHeadIsConfigError) {
  tokenizer::ByteTokenizer tok;
  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{3, false});
  EXPECT_THROW(BradleyTerryScorer(model, tokenizer::ChatEncoder(tok, "plain", 64, 64), 2), ConfigError);
}

TEST(LikelihoodJudge, ScoresTheAnswerATokensOfTheStage1Example) {
  tokenizer::ByteTokenizer tok;
  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{5, false});
  JudgeEncoder enc(tok, "plain", judgeTemplate("compact"), 512);
  LikelihoodJudge judge(model, tok, enc, /*batch_size=*/2);
  const auto queries = someQueries();
  const std::vector<double> s = judge.scores(queries);
  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < queries.size(); ++k) {
    const auto& q = queries[k];
    const tokenizer::PromptResponse pr = judge.encode(q);
    // The A part of the stage-1 example: "A:" + y + "\n", the first tokens of the stage-1 target.
    const std::string a_text = "A:" + q.response + "\n";
    ASSERT_EQ(pr.response.size(), a_text.size());
    const EncodedStage1 full = enc.stage1(q.prompt, q.response, q.response, q.system);
    EXPECT_EQ(pr.prompt, full.prompt);
    EXPECT_TRUE(std::equal(pr.response.begin(), pr.response.end(), full.target.begin()));
    // Direct: sum of log softmax over the full vocabulary at each A-part position.
    std::vector<int64_t> ids = pr.prompt;
    ids.insert(ids.end(), pr.response.begin(), pr.response.end());
    const at::Tensor logp = torch::log_softmax(model->logits(forwardOne(*model, ids))[0].to(torch::kDouble), -1);
    double direct = 0;
    for (size_t t = pr.prompt.size(); t < ids.size(); ++t) {
      direct += logp[static_cast<int64_t>(t) - 1][ids[t]].item<double>();
    }
    EXPECT_NEAR(s[k], direct, 1e-3 * std::max(1.0, std::abs(direct))) << k;
  }
}

TEST(LikelihoodJudge, CutsALongResponseToFit) {
  tokenizer::ByteTokenizer tok;
  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{5, false});
  // Stage-1 prompt: <|bos|><|user|>Q:q\n<|end|><|assistant|> = 8 tokens; "A:" y "\n" must fit 40 - 8 = 32,
  // so |y'| <= 29: 100 * 0.9^k first <= 29 at k = 12 (28.2 -> 28).
  LikelihoodJudge judge(model, tok, JudgeEncoder(tok, "plain", judgeTemplate("compact"), 40), 1);
  const tokenizer::PromptResponse pr = judge.encode({std::nullopt, "q", std::string(100, 'y')});
  EXPECT_EQ(pr.prompt.size(), 8u);
  EXPECT_EQ(pr.response.size(), 3u + 28u);
  EXPECT_EQ(judge.scores({{std::nullopt, "q", std::string(100, 'y')}}).size(), 1u);
}

}  // namespace
}  // namespace gramrl::gram
