#include "launch/train_command.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/config/config_loader.h"
#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/rendezvous/rendezvous.h"
#include "launch/local_launcher.h"
#include "launch/run_inputs.h"

namespace gramrl {
namespace fs = std::filesystem;

int runTrain(const TrainArgs& args) {
  log::setIdentity("launch");
  std::vector<std::string> overrides = args.overrides;
  overrides.push_back("learner.algorithm=" + args.algorithm);
  const ExperimentConfig config = loadExperimentConfig(args.config, overrides);
  GRAMRL_CHECK(config.launch.mode == "local", ConfigError,
               "launch.mode: `gramrl train` runs on this machine (local); Slurm jobs come with the RLHF pipeline");
  const fs::path run_dir = fs::path(config.experiment.output_dir) / config.experiment.name;
  // NOTE [Resume checks what was trained on]: refuses changed inputs, keeps earlier configs.
  const int64_t attempt = prepareRunDirectory(run_dir.string(), config, toYaml(config));
  const std::string config_path = (run_dir / "config.yaml").string();

  const auto& rdzv = config.launch.rendezvous;
  auto store = Rendezvous::host(RendezvousAddress{rdzv.host, static_cast<uint16_t>(rdzv.port)},
                                std::chrono::seconds(rdzv.timeout_s));
  const std::string address = store->address().toString();
  const std::string exe = selfExecutable();
  const int64_t ranks = config.learner.ranks;
  std::vector<ProcessSpec> specs;
  for (int64_t r = 0; r < ranks; ++r) {
    ProcessSpec spec;
    spec.name = "learner-" + std::to_string(r);
    spec.argv = {exe,
                 "worker",
                 "learner",
                 "--config",
                 config_path,
                 "--rank",
                 std::to_string(r),
                 "--world",
                 std::to_string(ranks),
                 "--rendezvous",
                 address};
    if (r > 0) spec.log_file = (run_dir / "logs" / (spec.name + ".log")).string();
    specs.push_back(std::move(spec));
  }
  log::info("{} training in {} (attempt {}): {} learner rank(s), rendezvous {}", args.algorithm, run_dir.string(),
            attempt, ranks, address);
  // <run_dir>/processes.json: which pid is which rank, for whoever has to debug the run.
  auto record = [&](const std::vector<std::pair<std::string, pid_t>>& pids) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& [name, pid] : pids) j.push_back({{"name", name}, {"pid", pid}});
    checkpoint::writeFileAtomically((run_dir / "processes.json").string(), j.dump() + "\n");
  };
  LaunchHooks hooks;
  hooks.on_started = record;
  const LaunchResult result = runLocal(specs, hooks);
  if (result.exit_code == 0) {
    log::info("finished: metrics in {}, checkpoints in {}", (run_dir / "metrics.jsonl").string(),
              (run_dir / "checkpoints").string());
  } else {
    log::error("training failed ({} exited with code {}): {}", result.failed.empty() ? "a signal" : result.failed,
               result.exit_code, adviceAfterFailure(result.exit_code));
  }
  return result.exit_code;
}

}  // namespace gramrl
