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
#include "launch/role_plan.h"
#include "launch/run_inputs.h"
#include "launch/slurm_script.h"
#include "launch/slurm_submit.h"

namespace gramrl {
namespace fs = std::filesystem;

namespace {

ExperimentConfig trainConfig(const TrainArgs& args) {
  std::vector<std::string> overrides = args.overrides;
  overrides.push_back("learner.algorithm=" + args.algorithm);
  return loadExperimentConfig(args.config, overrides);
}

// What the user typed, for the batch script's comments.
std::string userCommand(const std::string& algorithm) {
  if (algorithm == "gram_pretrain") return "gram pretrain";
  if (algorithm == "gram_finetune") return "gram finetune";
  if (algorithm == "bradley_terry") return "gram bt";
  return "train " + algorithm;
}

}  // namespace

std::string trainBatchScript(const TrainArgs& args) {
  const ExperimentConfig config = trainConfig(args);
  SlurmJobPaths paths = slurmJobPaths(config, args.config, args.overrides);
  paths.command = userCommand(args.algorithm);
  paths.supervise_command = {"slurm", "supervise-train", args.algorithm};
  return renderBatchScript(config, forSlurm(buildTrainPlan(config, paths.config, paths.run_dir), paths.run_dir), paths);
}

int runTrain(const TrainArgs& args) {
  log::setIdentity(args.in_slurm_job ? "slurm" : "launch");
  const ExperimentConfig config = trainConfig(args);
  if (config.launch.mode == "slurm" && !args.in_slurm_job) {
    const fs::path run_dir = fs::absolute(fs::path(config.experiment.output_dir) / config.experiment.name);
    return submitBatchJob(trainBatchScript(args), run_dir.string(), args.wait, "checkpoints");
  }
  const fs::path run_dir = fs::path(config.experiment.output_dir) / config.experiment.name;
  // NOTE [Resume checks what was trained on]: refuses changed inputs, keeps earlier configs.
  const int64_t attempt = prepareRunDirectory(run_dir.string(), config, toYaml(config));
  const std::string config_path = (run_dir / "config.yaml").string();
  std::error_code ec;
  fs::create_directories(run_dir / "logs", ec);
  GRAMRL_CHECK(!ec, SystemError, "cannot create run directory {}: {}", run_dir.string(), ec.message());

  const auto& rdzv = config.launch.rendezvous;
  const std::string rdzv_host = args.in_slurm_job ? storeHostInJob(rdzv.host) : rdzv.host;
  auto store = Rendezvous::host(RendezvousAddress{rdzv_host, static_cast<uint16_t>(rdzv.port)},
                                std::chrono::seconds(rdzv.timeout_s));
  const std::string address = store->address().toString();
  const std::string exe = selfExecutable();
  std::vector<RoleProcess> plan = buildTrainPlan(config, config_path, run_dir.string());
  if (args.in_slurm_job) plan = forSlurm(std::move(plan), run_dir.string());
  const std::vector<ProcessSpec> specs = processSpecs(config, plan, exe, address, args.in_slurm_job);
  const int64_t ranks = config.learner.ranks;
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
