// GRAM's stage-2 loss against hand-derived values and PyTorch's label-smoothed cross-entropy, its
// minimiser, the Bradley-Terry loss, the seeded A/B slot assignment, the stage-1 prompt mask, and
// stage 2 against the judge that serves it.
#include "learner/gram/gram_loss.h"

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/presets.h"
#include "common/model/pretrained.h"
#include "common/model/sequence_batch.h"
#include "common/tokenizer/tokenizer.h"
#include "learner/gram/gram_finetune_objective.h"
#include "learner/gram/gram_pretrain_objective.h"
#include "reward/gram/gram_judge.h"
#include "reward/gram/judge_encoder.h"
#include "tests/support/seed.h"

namespace gramrl {
namespace {

double lossAt(double d, double eps) {
  return gram::labelSmoothedPairLoss(torch::tensor({d}, torch::kFloat64), eps).item<double>();
}

std::string decode(const tokenizer::Tokenizer& tok, const std::vector<int64_t>& ids) {
  return tok.decode(std::vector<tokenizer::TokenId>(ids.begin(), ids.end()));
}

TEST(GramLossTest, LabelSmoothedLossMatchesHandValues) {
  // -log sigmoid(D) + eps D with log(1 + e^-D) evaluated by hand.
  EXPECT_NEAR(lossAt(0.0, 0.1), std::log(2.0), 1e-12);
  EXPECT_NEAR(lossAt(1.0, 0.1), 0.31326168751822286 + 0.1, 1e-12);
  EXPECT_NEAR(lossAt(-2.0, 0.05), 2.1269280110429727 - 0.1, 1e-12);
  EXPECT_NEAR(lossAt(3.0, 0.0), 0.04858735157374206, 1e-12);  // eps 0: plain Bradley-Terry
  // The paper's form -(1 - eps) log sigmoid(D) - eps log sigmoid(-D), term by term at D = 1.
  EXPECT_NEAR(lossAt(1.0, 0.1), 0.9 * 0.31326168751822286 + 0.1 * 1.3132616875182228, 1e-12);
}

TEST(GramLossTest, LabelSmoothedLossEqualsTorchCrossEntropyWithTwiceTheSmoothing) {
  const uint64_t seed = testing::testSeed();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const int64_t n = 1000;
  const at::Tensor logits = torch::randn({n, 2}, gen, torch::kFloat64) * 4;  // (z_A, z_B)
  const at::Tensor target = torch::randint(0, 2, {n}, gen, torch::kInt64);   // the winner's slot
  for (double eps : {0.0, 0.05, 0.1, 0.25}) {
    namespace F = torch::nn::functional;
    const at::Tensor reference =
        F::cross_entropy(logits, target, F::CrossEntropyFuncOptions().label_smoothing(2 * eps).reduction(torch::kNone));
    const at::Tensor winner = logits.gather(1, target.unsqueeze(1)).squeeze(1);
    const at::Tensor loser = logits.gather(1, (1 - target).unsqueeze(1)).squeeze(1);
    const at::Tensor ours = gram::labelSmoothedPairLoss(winner - loser, eps);
    EXPECT_LT((ours - reference).abs().max().item<double>(), 1e-12) << "eps " << eps;
    // And with eps itself as PyTorch's smoothing the margin term is halved: a different loss.
    if (eps > 0) {
      const at::Tensor halved =
          F::cross_entropy(logits, target, F::CrossEntropyFuncOptions().label_smoothing(eps).reduction(torch::kNone));
      EXPECT_GT((ours - halved).abs().max().item<double>(), 1e-3) << "eps " << eps;
    }
  }
}

TEST(GramLossTest, LabelSmoothedLossIsMinimisedWherePWinnerIsOneMinusEps) {
  for (double eps : {0.05, 0.1, 0.2}) {
    const double d_star = std::log((1 - eps) / eps);
    EXPECT_NEAR(1.0 / (1.0 + std::exp(-d_star)), 1 - eps, 1e-12);
    const at::Tensor d = torch::tensor({d_star - 0.5, d_star, d_star + 0.5}, torch::kFloat64).requires_grad_(true);
    gram::labelSmoothedPairLoss(d, eps).sum().backward();
    const at::Tensor g = d.grad();
    EXPECT_NEAR(g[1].item<double>(), 0.0, 1e-12) << "eps " << eps;
    EXPECT_LT(g[0].item<double>(), -1e-3);  // left of D*: the loss still falls
    EXPECT_GT(g[2].item<double>(), 1e-3);   // right of D*: a larger margin is penalised
    EXPECT_LT(lossAt(d_star, eps), lossAt(d_star - 0.5, eps));
    EXPECT_LT(lossAt(d_star, eps), lossAt(d_star + 0.5, eps));
  }
  EXPECT_THROW(lossAt(0.0, 0.5), ConfigError);
  EXPECT_THROW(lossAt(0.0, -0.1), ConfigError);
}

TEST(GramLossTest, BradleyTerryLossMatchesHandValues) {
  const at::Tensor loss = gram::bradleyTerryLoss(torch::tensor({2.0, 0.0, 0.3}, torch::kFloat64),
                                                 torch::tensor({0.5, 1.0, 0.3}, torch::kFloat64));
  EXPECT_NEAR(loss[0].item<double>(), 0.20141327798275246, 1e-12);  // log(1 + e^-1.5)
  EXPECT_NEAR(loss[1].item<double>(), 1.3132616875182228, 1e-12);   // log(1 + e^1)
  EXPECT_NEAR(loss[2].item<double>(), std::log(2.0), 1e-12);
}

TEST(GramSlotTest, AssignmentIsDeterministicBalancedAndChangesWithStepAndSeed) {
  const uint64_t seed = testing::testSeed();
  const int64_t n = 10000;
  int64_t in_a = 0, changed_step = 0, changed_seed = 0;
  for (int64_t i = 0; i < n; ++i) {
    const bool a = gram::winnerInSlotA(seed, 7, i);
    EXPECT_EQ(a, gram::winnerInSlotA(seed, 7, i));
    in_a += a;
    changed_step += a != gram::winnerInSlotA(seed, 8, i);
    changed_seed += a != gram::winnerInSlotA(seed + 1, 7, i);
  }
  // Binomial(10000, 1/2): standard deviation 50, so +-300 is 6 sigma.
  EXPECT_NEAR(static_cast<double>(in_a), n / 2.0, 300);
  EXPECT_NEAR(static_cast<double>(changed_step), n / 2.0, 300);
  EXPECT_NEAR(static_cast<double>(changed_seed), n / 2.0, 300);
  // Within one batch-sized window of one step both slots occur, for every step.
  for (int64_t step = 0; step < 200; ++step) {
    int64_t a = 0;
    for (int64_t i = 0; i < 64; ++i) a += gram::winnerInSlotA(seed, step, i);
    EXPECT_GT(a, 10);
    EXPECT_LT(a, 54);
  }
}

TEST(GramSlotTest, FinetuneObjectiveFollowsTheAssignmentOnlyWhenRandomising) {
  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{1, false});
  std::vector<JudgePromptPair> pairs(64, JudgePromptPair{{257, 65}, {257, 66}});
  GramFinetuneOptions options;
  options.seed = 42;
  GramFinetuneObjective randomised(model, pairs, {}, options);
  options.randomize_order = false;
  GramFinetuneObjective fixed(model, pairs, {}, options);
  for (int64_t step : {0, 5}) {
    randomised.startStep(step);
    fixed.startStep(step);
    for (int64_t i = 0; i < 64; ++i) {
      EXPECT_EQ(randomised.winnerInA(i), gram::winnerInSlotA(42, step, i));
      EXPECT_TRUE(fixed.winnerInA(i));
    }
  }
}

// NOTE [Stage-1 mask test]
// The loss of GramPretrainObjective is compared with log-softmax of the full logits gathered by
// hand at the positions of the target tokens (positions |prompt| - 1 .. |prompt| + |target| - 2
// predict the target), so a mask that leaked into the prompt or dropped the end-of-turn token
// changes the sum or the token count.
TEST(GramStage1Test, OnlyTheTargetIncludingEndOfTurnIsTrained) {
  auto tok = tokenizer::loadTokenizer("builtin:bytes");
  const gram::JudgeEncoder encoder(*tok, "plain", gram::judgeTemplate("compact"), 128);
  const gram::EncodedStage1 a = encoder.stage1("srt:9371", "1379", "1397");
  const gram::EncodedStage1 b = encoder.stage1("rev:12", "21", "2");
  EXPECT_EQ(decode(*tok, a.prompt), "<|bos|><|user|>Q:srt:9371\n<|end|><|assistant|>");
  EXPECT_EQ(a.target.back(), *tok->tokenToId("<|end|>"));
  const std::string target_text = decode(*tok, a.target);
  EXPECT_EQ(target_text.rfind("A:1379\nB:1397", 0), 0u) << target_text;

  const std::vector<tokenizer::PromptResponse> rows{{a.prompt, a.target}, {b.prompt, b.target}};
  const SequenceBatch batch = makeSequenceBatch({&rows[0], &rows[1]}, 256, torch::kCPU);
  for (int64_t r = 0; r < 2; ++r) {
    const auto& row = rows[static_cast<size_t>(r)];
    const auto p = static_cast<int64_t>(row.prompt.size()), t = static_cast<int64_t>(row.response.size());
    for (int64_t pos = 0; pos < batch.target_mask.size(1); ++pos) {
      const bool target = pos >= p - 1 && pos < p + t - 1;
      EXPECT_EQ(batch.target_mask[r][pos].item<bool>(), target) << "row " << r << " position " << pos;
    }
  }

  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{3, false});
  GramPretrainObjective objective(model, rows, {}, GramPretrainOptions{16, 256});
  EXPECT_EQ(objective.normaliser({0, 1}), static_cast<double>(a.target.size() + b.target.size()));
  const ObjectiveOutput out = objective.forward({0, 1});
  double expected = 0;
  {
    torch::NoGradGuard no_grad;
    const at::Tensor logp = torch::log_softmax(
        model->logits(model->forward(batch.input_ids, batch.attention_mask)).to(torch::kFloat64), -1);
    for (int64_t r = 0; r < 2; ++r) {
      const auto& row = rows[static_cast<size_t>(r)];
      const auto p = static_cast<int64_t>(row.prompt.size());
      for (size_t k = 0; k < row.response.size(); ++k) {
        expected -= logp[r][p - 1 + static_cast<int64_t>(k)][row.response[k]].item<double>();
      }
    }
  }
  EXPECT_NEAR(out.loss_sum.item<double>(), expected, 1e-3 * std::abs(expected));
  ASSERT_EQ(out.metrics.size(), 1u);
  EXPECT_EQ(out.metrics[0].count, static_cast<double>(a.target.size() + b.target.size()));
}

// NOTE [One label-logit function]: stage 2 trains the quantity the judge serves. On the same judge
// prompts (winner in A, no slot randomisation) the objective's "margin" metric, z_A - z_B, equals
// GramJudge's margin, one pair at a time and for a padded batch of prompts of different lengths.
TEST(GramStage2Test, ObjectiveMarginEqualsTheJudgesMargin) {
  auto tok = tokenizer::loadTokenizer("builtin:bytes");
  const gram::JudgeEncoder encoder(*tok, "plain", gram::judgeTemplate("compact"), 256);
  auto model = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{3, false});
  initRandom(*model, 3, 0.15);  // wider than the default so that margins are O(1), not O(1e-3)
  std::vector<JudgePromptPair> pairs;
  for (const auto& [x, chosen, rejected] : std::vector<std::array<std::string, 3>>{
           {"srt:9371", "1379", "1397"}, {"rev:12", "21", "2"}, {"add:4+58", "62", "the answer is 63"}}) {
    pairs.push_back({encoder.judgePrompt(x, chosen, rejected), encoder.judgePrompt(x, rejected, chosen)});
  }
  GramFinetuneOptions options;
  options.label_a = encoder.labelA();
  options.label_b = encoder.labelB();
  options.randomize_order = false;
  options.pad_id = 256;
  GramFinetuneObjective objective(model, pairs, {}, options);
  objective.startStep(0);
  gram::GramJudge judge(model, encoder, /*batch_size=*/2);
  auto margin = [](const ObjectiveOutput& out) {
    for (const MetricSum& m : out.metrics) {
      if (m.name == "margin") return m.sum;
    }
    ADD_FAILURE() << "no margin metric";
    return 0.0;
  };
  double sum = 0;
  for (int64_t i = 0; i < 3; ++i) {
    const double served = judge.marginsOfPrompts({pairs[static_cast<size_t>(i)].winner_a})[0];
    EXPECT_GT(std::abs(served), 1e-3) << "pair " << i;  // a margin worth comparing
    EXPECT_NEAR(margin(objective.forward({i})), served, 1e-5) << "pair " << i;
    sum += served;
  }
  // Three rows of different lengths in one padded forward pass (the judge ran them one at a time).
  EXPECT_NEAR(margin(objective.forward({0, 1, 2})), sum, 3e-5);
}

}  // namespace
}  // namespace gramrl
