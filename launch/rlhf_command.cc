#include "launch/rlhf_command.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/config/config_loader.h"
#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/rendezvous/rendezvous.h"
#include "launch/local_launcher.h"
#include "launch/role_plan.h"
#include "launch/run_inputs.h"

namespace gramrl {
namespace fs = std::filesystem;

int runRlhf(const RlhfArgs& args) {
  log::setIdentity("launch");
  std::vector<std::string> overrides = args.overrides;
  overrides.insert(overrides.begin(), "learner.algorithm=grpo");
  const ExperimentConfig config = loadExperimentConfig(args.config, overrides);
  GRAMRL_CHECK(config.learner.algorithm == "grpo", ConfigError,
               "learner.algorithm: gramrl rlhf runs grpo (ppo and the other online algorithms come next)");
  GRAMRL_CHECK(config.launch.mode == "local", ConfigError,
               "launch.mode: slurm is not built yet; run with launch.mode=local on one machine");
  const fs::path run_dir = fs::path(config.experiment.output_dir) / config.experiment.name;
  // NOTE [Resume checks what was trained on]: refuses changed inputs, keeps earlier configs.
  prepareRunDirectory(run_dir.string(), config, toYaml(config));
  std::error_code ec;
  fs::create_directories(run_dir / "logs", ec);
  GRAMRL_CHECK(!ec, SystemError, "cannot create run directory {}: {}", run_dir.string(), ec.message());
  const std::string config_path = (run_dir / "config.yaml").string();

  const auto& rdzv = config.launch.rendezvous;
  auto store = Rendezvous::host(RendezvousAddress{rdzv.host, static_cast<uint16_t>(rdzv.port)},
                                std::chrono::seconds(rdzv.timeout_s));
  const std::string address = store->address().toString();
  const std::string exe = selfExecutable();
  const std::vector<RoleProcess> plan = buildRlhfPlan(config, config_path, run_dir.string());
  std::vector<ProcessSpec> specs;
  for (const auto& p : plan) {
    ProcessSpec spec;
    spec.name = p.name();
    spec.argv = {exe};
    spec.argv.insert(spec.argv.end(), p.args.begin(), p.args.end());
    spec.argv.push_back("--rendezvous");
    spec.argv.push_back(address);
    spec.log_file = p.log_file;
    spec.serves = p.serves;
    spec.restart_limit = p.restart_limit;
    spec.env = p.env;
    specs.push_back(std::move(spec));
  }
  log::info("rlhf in {}: {} reward replica(s) ({}), {} actor(s), {} learner rank(s), rendezvous {}; logs in {}",
            run_dir.string(), config.reward.replicas, config.reward.backend, config.rollout.actors,
            config.learner.ranks, address, (run_dir / "logs").string());
  auto record = [&](const std::vector<std::pair<std::string, pid_t>>& pids) {
    nlohmann::json j = nlohmann::json::array();
    for (size_t i = 0; i < pids.size(); ++i) {
      j.push_back({{"name", pids[i].first},
                   {"role", plan[i].role},
                   {"index", plan[i].index},
                   {"pid", pids[i].second},
                   {"log", plan[i].log_file}});
    }
    checkpoint::writeFileAtomically((run_dir / "processes.json").string(), j.dump(2) + "\n");
  };
  const auto grace = std::chrono::seconds(config.reward.server.drain_timeout_s + 10);
  const LaunchResult result = runLocal(specs, record, grace);
  if (result.exit_code == 0 && result.failed.empty()) {
    log::info("finished{}: summary in {}, metrics in {}",
              result.restarts > 0 ? fmt::format(" after {} restart(s)", result.restarts) : std::string(),
              (run_dir / "summary.json").string(), (run_dir / "metrics.jsonl").string());
    return 0;
  }
  log::error("rlhf stopped ({} exited with code {}); {}", result.failed.empty() ? "a signal" : result.failed,
             result.exit_code, adviceAfterFailure(result.exit_code));
  return result.exit_code == 0 ? 1 : result.exit_code;
}

}  // namespace gramrl
