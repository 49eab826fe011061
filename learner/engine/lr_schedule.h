// The learning rate as a pure function of the optimiser step, so a resumed run needs only the
// step to continue its schedule (nothing to checkpoint).
//
// NOTE [Learning-rate schedule]
// Step s (0-based) is the s-th optimiser update. With W = round(warmup_ratio * total_steps):
//   s < W:   lr = peak * (s + 1) / W                    (linear warmup, never exactly 0)
//   s >= W:  p = (s - W) / max(1, total_steps - W), in [0, 1)
//            cosine:   lr = floor + (peak - floor) * (1 + cos(pi * p)) / 2
//            linear:   lr = floor + (peak - floor) * (1 - p)
//            constant: lr = peak
// with floor = min_lr_ratio * peak. This is transformers' get_cosine_schedule_with_warmup /
// get_linear_schedule_with_warmup (floor 0) except that warmup starts at peak / W instead of 0,
// so the first update is not wasted.
//
// Threads: pure function. Throws ConfigError for an unknown schedule name.
#pragma once

#include <cstdint>
#include <string>

namespace gramrl {

struct LrScheduleOptions {
  double peak_lr = 1e-6;
  std::string schedule = "cosine";  // cosine | linear | constant
  double warmup_ratio = 0.0;
  double min_lr_ratio = 0.0;
  int64_t total_steps = 1;
};

int64_t warmupSteps(const LrScheduleOptions& options);
double learningRate(const LrScheduleOptions& options, int64_t step);

}  // namespace gramrl
