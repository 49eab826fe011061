#include "learner/engine/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "common/core/errors.h"

namespace gramrl {

int64_t warmupSteps(const LrScheduleOptions& options) {
  return static_cast<int64_t>(std::llround(options.warmup_ratio * static_cast<double>(options.total_steps)));
}

double learningRate(const LrScheduleOptions& options, int64_t step) {
  const double peak = options.peak_lr;
  const int64_t warmup = warmupSteps(options);
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double floor = options.min_lr_ratio * peak;
  const double span = static_cast<double>(std::max<int64_t>(1, options.total_steps - warmup));
  const double p = std::min(1.0, static_cast<double>(step - warmup) / span);
  if (options.schedule == "cosine") return floor + (peak - floor) * 0.5 * (1.0 + std::cos(M_PI * p));
  if (options.schedule == "linear") return floor + (peak - floor) * (1.0 - p);
  if (options.schedule == "constant") return peak;
  GRAMRL_CHECK(false, ConfigError, "learner.schedule: expected cosine, linear or constant, got '{}'", options.schedule);
  return peak;
}

}  // namespace gramrl
