// How the online algorithms turn rewards into advantages, as pure functions on plain vectors
// (checked against hand computation in tests/learner/advantages_test.cc).
//
// NOTE [Advantage estimators]
// learner.algorithm picks one; "r" is a sample's shaped reward (NOTE [Reward shaping]) minus,
// when the KL is in the reward, kl_coef times its summed KL estimate to the reference.
//   grpo          (r_i - mean(r)) / (std(r) + eps) over the n samples of a prompt, std with
//                 Bessel's correction (DeepSeekMath, TRL); scale_by_std false: r_i - mean(r)
//                 (Dr. GRPO). Every token of a response gets its sample's advantage.
//   rloo          r_i - (sum_{j != i} r_j) / (n - 1): the leave-one-out baseline (Ahmadian et
//                 al. 2024), unbiased because the baseline does not depend on sample i.
//   remax         r_i - r_greedy: the reward of the prompt's greedy response is the baseline
//                 (Li et al. 2023). With a GRAM reward the greedy response is also the judge's
//                 reference, so the actor generates it once for both.
//   reinforce_pp  per-token rewards (below) with the KL always in the reward, returns
//                 G_t = sum_{s >= t} gamma^(s-t) r_s, then whitened over the whole global batch
//                 (every response token of every rank: REINFORCE++, Hu 2025).
//   ppo           per-token rewards, a critic's values V_t, GAE (Schulman et al. 2016):
//                   delta_t = r_t + gamma V_{t+1} - V_t  (V_T = 0 after the last token)
//                   A_t = delta_t + gamma lambda A_{t+1},  returns R_t = A_t + V_t,
//                 advantages whitened over the global batch (learner.ppo.whiten_advantages).
// Per-token rewards (ppo, reinforce_pp): r_t = -kl_coef * k_t for every response token t, plus
// the sequence's reward at its last token, k_t the KL estimate (k1 unless configured) of the
// behaviour policy against the reference at token t (Ziegler et al. 2019; OpenRLHF, TRL).
//
// NOTE [Adaptive KL]
// Ziegler et al.'s controller keeps the measured KL near a target: after each step with n
// samples and mean KL per sequence k, error = clip(k / target - 1, -0.2, 0.2) and
// coef <- coef * (1 + error * n / horizon). With target 0 the coefficient is fixed.
//
// NOTE [Reward shaping]
// Before advantages, each reward may be clipped to [-clip, clip] and then normalised by the
// running mean and standard deviation of every reward the learner has seen, including this
// step's (learner.reward_shaping). The running moments are float64 sums over the global batch
// in its fixed order, identical on every rank, and saved with each checkpoint, so a resumed run
// shapes exactly as an uninterrupted one.
//
// Threads: pure functions and value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gramrl::rlhf {

// NOTE [Advantage estimators], grpo. Groups are consecutive runs of `group_size`; a group of one
// has advantage 0. Throws InternalError when the size is not a multiple of group_size.
std::vector<double> groupAdvantages(const std::vector<double>& rewards, int64_t group_size, bool scale_by_std = true,
                                    double eps = 1e-6);
// rloo: the leave-one-out baseline within each group (0 for a group of one).
std::vector<double> leaveOneOutAdvantages(const std::vector<double>& rewards, int64_t group_size);
// remax: rewards[i] - baselines[i].
std::vector<double> baselineAdvantages(const std::vector<double>& rewards, const std::vector<double>& baselines);

// Per-token rewards of one response: -kl_coef * kl[t], plus `reward` at the last token. An empty
// response has none.
std::vector<float> tokenRewards(double reward, const std::vector<float>& kl, double kl_coef);
// sum_{s >= t} gamma^(s-t) rewards[s], in float64 then rounded.
std::vector<float> discountedReturns(const std::vector<float>& rewards, double gamma);

struct Gae {
  std::vector<float> advantages;
  std::vector<float> returns;  // advantages + values
};
// GAE over one response (NOTE [Advantage estimators], ppo); values[t] is V before token t.
Gae generalizedAdvantages(const std::vector<float>& rewards, const std::vector<float>& values, double gamma,
                          double lambda);

// Sums over every element of `rows` (float64), to be summed over ranks before whitening.
struct Moments {
  double sum = 0.0;
  double sum_sq = 0.0;
  double count = 0.0;
  double mean() const;
  double variance() const;  // population variance (divide by count), 0 when count < 1
};
Moments momentsOf(const std::vector<std::vector<float>>& rows);
// (x - mean) / (sqrt(variance) + eps) in place, with the global moments.
void whiten(std::vector<std::vector<float>>& rows, const Moments& global, double eps = 1e-8);

// NOTE [Adaptive KL]
class KlController {
 public:
  KlController(double initial, double target, int64_t horizon);
  double coef() const { return coef_; }
  // After a step of `samples` sequences whose mean summed KL was `kl`.
  void update(double kl, int64_t samples);
  void setCoef(double coef) { coef_ = coef; }

 private:
  double coef_;
  double target_;
  int64_t horizon_;
};

// NOTE [Reward shaping]: running moments of every reward seen.
class RunningMoments {
 public:
  void add(const std::vector<double>& values);
  double mean() const;
  double stddev() const;  // population standard deviation; 1 before two values are seen
  double count() const { return count_; }
  std::string toJson() const;
  // `source` names the file in errors (DataError for malformed text).
  static RunningMoments fromJson(const std::string& text, const std::string& source);

 private:
  double count_ = 0.0;
  double mean_ = 0.0;
  double m2_ = 0.0;  // sum of squared deviations from the mean (Chan et al.'s parallel update)
};

struct ShapingSettings {
  double clip = 0.0;       // 0: no clipping
  bool normalize = false;  // divide by the running standard deviation after subtracting the mean
};
// Clips `rewards` and, with normalize, adds them to `moments` first and normalises with the
// updated moments. Returns the shaped rewards.
std::vector<double> shapeRewards(const std::vector<double>& rewards, const ShapingSettings& settings,
                                 RunningMoments& moments);
// The same transformation for values that must not move the moments (ReMax's baselines).
std::vector<double> shapeWithoutUpdate(const std::vector<double>& rewards, const ShapingSettings& settings,
                                       const RunningMoments& moments);

// NOTE [Online DPO pairs]
// From the n samples of a prompt: chosen = the highest reward, rejected = the lowest, the lower
// index winning ties on both ends; no pair when every reward is equal (no preference to learn).
struct ResponsePair {
  int64_t chosen = 0;  // index into the rewards
  int64_t rejected = 0;
};
std::vector<std::optional<ResponsePair>> selectPairs(const std::vector<double>& rewards, int64_t group_size);

}  // namespace gramrl::rlhf
