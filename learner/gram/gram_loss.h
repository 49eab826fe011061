// GRAM's stage-2 loss, the Bradley-Terry loss, and the seeded A/B slot assignment.
//
// NOTE [GRAM label smoothing]
// Stage 2 (gram-paper.md section 3) reads the judge's logits z_A, z_B of the label tokens at the
// last prompt position and renormalises over just those two: p(A) = sigmoid(z_A - z_B). With
// D = z(winner's label) - z(loser's label) the paper's label-smoothed loss is
//   L(D) = -(1 - eps) log sigmoid(D) - eps log sigmoid(-D) = -log sigmoid(D) + eps D,
// a Bradley-Terry loss on the label logits plus a linear penalty on the margin. Its gradient
// dL/dD = sigmoid(D) - (1 - eps) vanishes at sigmoid(D*) = 1 - eps, D* = log((1 - eps) / eps):
// the margin is capped instead of growing without bound. eps is in the paper's convention;
// PyTorch's CrossEntropyLoss(label_smoothing = s) over the two logits spreads s over both
// classes (targets 1 - s/2, s/2), so the official code's gram_label_smoothing 0.1 is eps = 0.05
// here (s = 2 eps). eps = 0 is the plain Bradley-Terry loss.
//
// Threads: pure functions; safe from any thread. Throws ConfigError for eps outside [0, 0.5).
#pragma once

#include <cstdint>

#include <ATen/Tensor.h>

namespace gramrl::gram {

// Per-example L(D) of the NOTE above: margin [B] float32 (with autograd) -> [B].
at::Tensor labelSmoothedPairLoss(const at::Tensor& margin, double eps);

// Per-pair Bradley-Terry loss -log sigmoid(r_w - r_l): rewards [B] -> [B].
at::Tensor bradleyTerryLoss(const at::Tensor& chosen_reward, const at::Tensor& rejected_reward);

// NOTE [Seeded slot assignment]
// Whether example `index` puts its preferred response in slot A at training step `step`: a hash
// of (seed, step, index), so each example is seen in both orders across epochs, about half the
// examples of every batch have the winner in A (the labels stay balanced, so the judge cannot
// learn a position prior), and a resumed or data-parallel run assigns the same slots without
// any shared state.
bool winnerInSlotA(uint64_t seed, int64_t step, int64_t index);

}  // namespace gramrl::gram
