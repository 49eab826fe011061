#include "reward/gram/gram_math.h"

#include <algorithm>
#include <cmath>

#include "common/core/errors.h"

namespace gramrl::gram {

double sigmoid(double x) {
  // exp of a non-positive number only: no overflow, and no cancellation for large |x|.
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

double combineOrders(double margin_y1_in_a, double margin_y1_in_b) {
  return 0.5 * (sigmoid(margin_y1_in_a) + sigmoid(-margin_y1_in_b));
}

const std::vector<std::string>& rewardTransformNames() {
  static const std::vector<std::string> names{"probability", "centered", "log_odds"};
  return names;
}

RewardTransform parseRewardTransform(std::string_view name) {
  if (name == "probability") return RewardTransform::kProbability;
  if (name == "centered") return RewardTransform::kCentered;
  if (name == "log_odds") return RewardTransform::kLogOdds;
  GRAMRL_CHECK(false, ConfigError, "GRAM reward transform: expected probability, centered or log_odds, got '{}'", name);
  return RewardTransform::kProbability;
}

double transformReward(double p, RewardTransform transform) {
  switch (transform) {
    case RewardTransform::kProbability: return p;
    case RewardTransform::kCentered: return p - 0.5;
    case RewardTransform::kLogOdds: {
      const double q = std::clamp(p, kMinProbability, 1.0 - kMinProbability);
      return std::log(q) - std::log1p(-q);
    }
  }
  GRAMRL_ASSERT(false, "unhandled RewardTransform {}", static_cast<int>(transform));
  return p;
}

double transformReward(double p, std::string_view name) { return transformReward(p, parseRewardTransform(name)); }

}  // namespace gramrl::gram
