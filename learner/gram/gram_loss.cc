#include "learner/gram/gram_loss.h"

#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl::gram {
namespace {

// SplitMix64's finaliser (Steele, Lea, Flood 2014): a bijection on 64 bits whose output bits each
// depend on every input bit, so consecutive steps and indices give unrelated slots.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

at::Tensor labelSmoothedPairLoss(const at::Tensor& margin, double eps) {
  GRAMRL_CHECK(eps >= 0.0 && eps < 0.5, ConfigError,
               "learner.gram.label_smoothing: expected a number in [0, 0.5), got {}", eps);
  // -(1 - eps) log sigmoid(D) - eps log sigmoid(-D), written as -log sigmoid(D) + eps D: one
  // log_sigmoid, exact for every D (log sigmoid(D) - log sigmoid(-D) = D).
  return -torch::log_sigmoid(margin) + eps * margin;
}

at::Tensor bradleyTerryLoss(const at::Tensor& chosen_reward, const at::Tensor& rejected_reward) {
  return -torch::log_sigmoid(chosen_reward - rejected_reward);
}

bool winnerInSlotA(uint64_t seed, int64_t step, int64_t index) {
  const uint64_t h = mix(mix(mix(seed) ^ static_cast<uint64_t>(step)) ^ static_cast<uint64_t>(index));
  return (h >> 63) == 0;
}

}  // namespace gramrl::gram
