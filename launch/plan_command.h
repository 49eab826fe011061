// gramrl plan CONFIG [overrides]: the memory and time estimate of a run (common/plan/run_plan.h,
// NOTE [Run plan]) from its config and its models' config.json, before anything starts.
#pragma once

#include <string>
#include <vector>

namespace gramrl::cli {

struct PlanArgs {
  std::string config;
  std::vector<std::string> overrides;
  double gpu_memory_gb = 80;  // GiB per GPU
  double gpu_tflops = 989;
  double mfu = 0.4;
};

// Prints the plan (markdown) to stdout. Returns 0 when every process fits its GPU, 1 when one
// does not (the advice names the key to change). Throws ConfigError for a bad config or option,
// DataError for a model directory without a readable config.json.
int runPlan(const PlanArgs& args);

}  // namespace gramrl::cli
