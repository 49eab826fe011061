// GRAM stage 2 (gram-paper.md section 3) as a training Objective: the judge learns to predict
// the label token of the preferred response, with label smoothing (NOTE [GRAM label smoothing]
// in gram_loss.h).
//
// Each labeled pair carries two precomputed judge prompts (reward/gram/judge_encoder.h), one per
// slot order; at every step the order of each example is chosen by winnerInSlotA (NOTE [Seeded
// slot assignment]) when randomize_order is set, else the winner is always in slot A. A
// micro-batch is one forward pass over the m chosen prompts; only the logits of the label tokens
// "A" and "B" at each row's last position are computed, by the function the judge scores with
// (reward/gram/label_logits.h, NOTE [One label-logit function]). The loss unit is a pair.
// Metrics per step: "accuracy" (D > 0), "margin" (mean D), "p_winner" (mean sigmoid(D)).
// evaluate() scores every evaluation pair in both orders in one batch and reports "loss" (mean
// over both orders), "accuracy" (position-debiased as gram_eval.py: the chosen response wins
// when (sigmoid(a1 - b1) + sigmoid(b2 - a2)) / 2 > 0.5, with (a1, b1) the logits with the chosen
// response in A and (a2, b2) with it in B), "accuracy/single" (share of single-order judgements
// that are right, over both orders) and "accuracy/winner_a", "accuracy/winner_b" (per order: their
// difference is the judge's position bias).
//
// Threads: the trainer's thread only. Throws ConfigError for label_smoothing outside [0, 0.5),
// DataError (constructor) for an empty judge prompt.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "learner/engine/objective.h"

namespace gramrl {

class Transformer;

// The judge prompts of one labeled pair, each ending at the generation prompt.
struct JudgePromptPair {
  std::vector<int64_t> winner_a;  // judgePrompt(x, chosen, rejected): the right label is "A"
  std::vector<int64_t> winner_b;  // judgePrompt(x, rejected, chosen): the right label is "B"
};

struct GramFinetuneOptions {
  int64_t label_a = 0;  // token ids of the labels "A" and "B"
  int64_t label_b = 0;
  double label_smoothing = 0.05;  // eps, the paper's convention
  bool randomize_order = true;
  uint64_t seed = 0;  // of the slot assignment
  int64_t eval_batch_size = 16;
  int64_t pad_id = 0;
};

class GramFinetuneObjective : public Objective {
 public:
  GramFinetuneObjective(std::shared_ptr<Transformer> model, std::vector<JudgePromptPair> train,
                        std::vector<JudgePromptPair> eval, GramFinetuneOptions options);

  std::string name() const override { return "gram_finetune"; }
  int64_t size() const override { return static_cast<int64_t>(train_.size()); }
  void startStep(int64_t step) override { step_ = step; }
  double normaliser(const std::vector<int64_t>& indices) override { return static_cast<double>(indices.size()); }
  ObjectiveOutput forward(const std::vector<int64_t>& indices) override;
  std::vector<MetricSum> evaluate(int rank, int world_size) override;

  // Whether example `index` has its winner in slot A at the current step.
  bool winnerInA(int64_t index) const;

 private:
  // [rows, 2] float32 logits of ("A", "B") at the last position of each prompt.
  at::Tensor labelLogits(const std::vector<const std::vector<int64_t>*>& prompts, int64_t* tokens) const;

  std::shared_ptr<Transformer> model_;
  std::vector<JudgePromptPair> train_;
  std::vector<JudgePromptPair> eval_;
  GramFinetuneOptions options_;
  int64_t step_ = 0;
};

}  // namespace gramrl
