// The arithmetic of GRAM's judgements, kept apart from the model so it can be checked by hand
// (gram-paper.md section 1.3 and 4.3).
//
// A margin is z_A - z_B: the "A" logit minus the "B" logit at the last judge-prompt position, so
// P(the response in slot A is better) = sigmoid(margin). Position debiasing runs a comparison in
// both orders: order 1 puts y1 in slot A (margin m1 = a1 - b1), order 2 puts y1 in slot B
// (m2 = a2 - b2), and P(y1 better) = (sigmoid(a1 - b1) + sigmoid(b2 - a2)) / 2
//                                  = (sigmoid(m1) + sigmoid(-m2)) / 2.
//
// Threads: pure functions. Throws ConfigError for an unknown transform name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gramrl::gram {

// 1 / (1 + exp(-x)), without overflow for large |x|.
double sigmoid(double x);

// P(y1 better than y2) from the margin with y1 in slot A (m1) and the margin with y1 in slot B
// (m2), averaged over both orders.
double combineOrders(double margin_y1_in_a, double margin_y1_in_b);

// How a preference probability p = P(response better than reference) becomes a scalar reward
// (the RLHF use, gram-paper.md section 4.3, where the paper leaves the choice open):
//   probability  p                  in (0, 1)
//   centered     p - 0.5            in (-0.5, 0.5): a response as good as the reference scores 0
//   log_odds     log(p / (1 - p))   with p clamped to [kMinProbability, 1 - kMinProbability], so
//                                   in [-13.8, 13.8]; for single-order scoring it is the raw
//                                   margin wherever the clamp does not bite (|margin| < 13.8)
enum class RewardTransform { kProbability, kCentered, kLogOdds };
inline constexpr double kMinProbability = 1e-6;

// "probability" | "centered" | "log_odds".
RewardTransform parseRewardTransform(std::string_view name);
const std::vector<std::string>& rewardTransformNames();
double transformReward(double p, RewardTransform transform);
double transformReward(double p, std::string_view name);

}  // namespace gramrl::gram
