#include "launch/role_plan.h"

#include <filesystem>

#include "common/config/experiment_config.h"

namespace gramrl {
namespace {

// CUDA_VISIBLE_DEVICES for process `index` of a role given the role's GPU list (empty: none set).
std::vector<std::pair<std::string, std::string>> gpuEnv(const std::vector<int64_t>& gpus, int64_t index) {
  if (gpus.empty()) return {};
  return {{"CUDA_VISIBLE_DEVICES", std::to_string(gpus[static_cast<size_t>(index) % gpus.size()])}};
}

std::string logFileOf(const std::string& run_dir, const RoleProcess& p) {
  return (std::filesystem::path(run_dir) / "logs" / (p.name() + ".log")).string();
}

}  // namespace

std::vector<RoleProcess> buildRlhfPlan(const ExperimentConfig& config, const std::string& config_path,
                                       const std::string& run_dir) {
  std::vector<RoleProcess> plan;
  const auto& devices = config.launch.devices;
  for (int64_t k = 0; k < config.reward.replicas; ++k) {
    RoleProcess p;
    p.role = "reward";
    p.index = k;
    p.args = {"reward", "serve", config_path, "--replica", std::to_string(k)};
    p.serves = true;
    p.restart_limit = config.launch.restart_limit;
    p.log_file = logFileOf(run_dir, p);
    p.env = gpuEnv(devices.reward, k);
    plan.push_back(std::move(p));
  }
  for (auto& p : buildTrainPlan(config, config_path, run_dir)) plan.push_back(std::move(p));
  for (int64_t a = 0; a < config.rollout.actors; ++a) {
    RoleProcess p;
    p.role = "actor";
    p.index = a;
    p.args = {"worker", "actor", "--config", config_path, "--index", std::to_string(a)};
    p.serves = true;
    p.restart_limit = config.launch.restart_limit;
    p.follows_group = "learner";
    p.log_file = logFileOf(run_dir, p);
    p.env = gpuEnv(devices.actors, a);
    plan.push_back(std::move(p));
  }
  return plan;
}

std::vector<RoleProcess> buildTrainPlan(const ExperimentConfig& config, const std::string& config_path,
                                        const std::string& run_dir) {
  std::vector<RoleProcess> plan;
  const auto& devices = config.launch.devices;
  for (int64_t r = 0; r < config.learner.ranks; ++r) {
    RoleProcess p;
    p.role = "learner";
    p.index = r;
    p.args = {"worker", "learner",         "--config", config_path,
              "--rank", std::to_string(r), "--world",  std::to_string(config.learner.ranks)};
    p.serves = false;
    // NOTE [Learner restarts] in launch/local_launcher.h: the ranks restart together.
    p.restart_limit = config.launch.restart_limit;
    p.restart_group = "learner";
    if (r > 0) p.log_file = logFileOf(run_dir, p);
    p.env = gpuEnv(devices.learner, r);
    plan.push_back(std::move(p));
  }
  return plan;
}

}  // namespace gramrl
