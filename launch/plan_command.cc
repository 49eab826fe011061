#include "launch/plan_command.h"

#include <iostream>

#include "common/checkpoint/hf_config.h"
#include "common/config/config_loader.h"
#include "common/plan/run_plan.h"

namespace gramrl::cli {

int runPlan(const PlanArgs& args) {
  const ExperimentConfig config = loadExperimentConfig(args.config, args.overrides);
  plan::PlanOptions options;
  options.gpu_memory_gib = args.gpu_memory_gb;
  options.gpu_tflops = args.gpu_tflops;
  options.mfu = args.mfu;
  const plan::RunPlan run = plan::planRun(
      config, [](const std::string& model) { return checkpoint::readHfConfigFile(model + "/config.json"); }, options);
  std::cout << "# Plan of " << args.config << " (" << config.learner.algorithm << ")\n\n"
            << plan::planMarkdown(run, options) << std::flush;
  return run.fits ? 0 : 1;
}

}  // namespace gramrl::cli
