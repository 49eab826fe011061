#include "launch/rlhf_command.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/config/config_loader.h"
#include "common/config/experiment_config.h"
#include "common/control/heartbeat_monitor.h"
#include "common/control/heartbeat_sender.h"
#include "common/control/status_file.h"
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

// The newest row of <run>/metrics.jsonl (the learner's last step), or null: the file's last 64 KiB
// are read, so a long run costs the same as a short one.
nlohmann::json lastMetrics(const fs::path& file) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) return nullptr;
  const std::streamoff size = in.tellg();
  const std::streamoff from = std::max<std::streamoff>(0, size - (64 << 10));
  in.seekg(from);
  std::string tail(static_cast<size_t>(size - from), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  const size_t end = tail.find_last_of('\n');
  if (end == std::string::npos || end == 0) return nullptr;
  const size_t begin = tail.find_last_of('\n', end - 1);
  const std::string line = tail.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin + 1));
  return nlohmann::json::parse(line, nullptr, false);
}

double number(const nlohmann::json& row, const char* key) {
  if (!row.is_object() || !row.contains(key) || !row[key].is_number()) return std::nan("");
  return row[key].get<double>();
}

// NOTE [Live status]: one line per role every launch.status_interval_s, made from the table of
// processes that the heartbeats keep (common/control/status_file.h formatRoleLines: processes
// running, their states, restarts, step and policy version), then the figures of the learner's
// newest step from metrics.jsonl.
void printStatus(const std::vector<control::ProcessStatus>& table, const fs::path& run_dir, int64_t total_steps) {
  for (const auto& line : control::formatRoleLines(table)) log::info("status {}", line);
  const nlohmann::json m = lastMetrics(run_dir / "metrics.jsonl");
  if (!m.is_object()) return;
  const int64_t step = m.contains("step") ? m["step"].get<int64_t>() : 0;
  log::info(
      "status metrics: step {} of {}, {:.1f} samples/s, {:.0f} tokens/s, waiting {:.0f}%; staleness {:.2f}, response "
      "length {:.1f}; reward mean {:.3f}, std {:.3f}, KL {:.3g}; actor generation {:.2f} s, weights {:.2f} s, "
      "scoring {:.2f} s per step",
      step, total_steps, number(m, "perf/samples_per_s"), number(m, "perf/tokens_per_s"),
      100.0 * number(m, "time/wait_fraction"), number(m, "rollout/staleness"), number(m, "rollout/response_length"),
      number(m, "reward/mean"), number(m, "reward/std"), number(m, "kl/per_token"),
      number(m, "time/actor_generation_s"), number(m, "time/actor_weights_s"), number(m, "time/actor_reward_s"));
}

// An endpoint that processes on other nodes can dial: a wildcard bind becomes this host's name.
std::string dialable(const std::string& endpoint) {
  for (const char* wildcard : {"tcp://0.0.0.0:", "tcp://*:"}) {
    if (endpoint.rfind(wildcard, 0) == 0) return "tcp://" + hostName() + ":" + endpoint.substr(std::strlen(wildcard));
  }
  return endpoint;
}

// The run itself, on this machine (local) or inside a Slurm job (each process an srun step,
// NOTE [Slurm jobs] in launch/slurm_script.h): the same supervisor, heartbeats and status file.
int superviseRlhf(const RlhfArgs& args, bool under_slurm) {
  log::setIdentity(under_slurm ? "slurm" : "launch");
  const ExperimentConfig config = loadExperimentConfig(args.config, args.overrides);
  GRAMRL_CHECK(isOnlineAlgorithm(config.learner.algorithm), ConfigError,
               "learner.algorithm: gramrl rlhf trains online with ppo, grpo, rloo, remax, reinforce_pp or online_dpo, "
               "got '{}' (set it in the config or with learner.algorithm=grpo)",
               config.learner.algorithm);
  const fs::path run_dir = fs::path(config.experiment.output_dir) / config.experiment.name;
  // NOTE [Resume checks what was trained on]: refuses changed inputs, keeps earlier configs.
  prepareRunDirectory(run_dir.string(), config, toYaml(config));
  std::error_code ec;
  fs::create_directories(run_dir / "logs", ec);
  GRAMRL_CHECK(!ec, SystemError, "cannot create run directory {}: {}", run_dir.string(), ec.message());
  const std::string config_path = (run_dir / "config.yaml").string();

  const auto& rdzv = config.launch.rendezvous;
  // Under Slurm the store is on learner rank 0's node (this one) and must be reachable from the others.
  const std::string rdzv_host = under_slurm ? storeHostInJob(rdzv.host) : rdzv.host;
  auto store = Rendezvous::host(RendezvousAddress{rdzv_host, static_cast<uint16_t>(rdzv.port)},
                                std::chrono::seconds(rdzv.timeout_s));
  const std::string address = store->address().toString();
  // NOTE [Heartbeats] (common/control/heartbeat_monitor.h).
  GRAMRL_CHECK(config.launch.heartbeat_timeout_s * 1000 > config.launch.heartbeat_ms, ConfigError,
               "launch.heartbeat_timeout_s ({} s) must exceed launch.heartbeat_ms ({} ms)",
               config.launch.heartbeat_timeout_s, config.launch.heartbeat_ms);
  control::HeartbeatMonitor monitor(config.launch.transport.bind_host,
                                    std::chrono::seconds(config.launch.heartbeat_timeout_s),
                                    std::chrono::seconds(config.launch.rendezvous.timeout_s));
  const std::string exe = selfExecutable();
  const std::string control_endpoint = dialable(monitor.endpoint());
  const std::vector<RoleProcess> plan = under_slurm ? buildSlurmPlan(config, config_path, run_dir.string())
                                                    : buildRlhfPlan(config, config_path, run_dir.string());
  std::vector<ProcessSpec> specs = processSpecs(config, plan, exe, address, under_slurm);
  for (auto& spec : specs) spec.env.emplace_back(control::kControlEnv, control_endpoint);
  log::info("rlhf in {}: {} reward replica(s) ({}), {} actor(s), {} learner rank(s), rendezvous {}; logs in {}",
            run_dir.string(), config.reward.replicas, config.reward.backend, config.rollout.actors,
            config.learner.ranks, address, (run_dir / "logs").string());
  const std::string status_path = (run_dir / "status.json").string();
  auto write_status = [&] {
    control::StatusFile status;
    status.updated_unix_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    status.launcher_pid = ::getpid();
    status.launcher_host = hostName();
    status.heartbeat_timeout_s = static_cast<double>(config.launch.heartbeat_timeout_s);
    status.processes = monitor.snapshot();
    control::writeStatusFile(status_path, status);
  };
  auto record = [&](const std::vector<std::pair<std::string, pid_t>>& pids) {
    nlohmann::json j = nlohmann::json::array();
    for (size_t i = 0; i < pids.size(); ++i) {
      const auto known = monitor.snapshot();
      const bool restarted = i < known.size() && known[i].pid != pids[i].second;
      // Behind srun the worker's pid is not srun's: beats are then matched by role and index only.
      if (i >= known.size() || restarted) {
        monitor.started(pids[i].first, plan[i].role, plan[i].index, pids[i].second, under_slurm ? 0 : pids[i].second);
      }
      j.push_back({{"name", pids[i].first},
                   {"role", plan[i].role},
                   {"index", plan[i].index},
                   {"pid", pids[i].second},
                   {"log", plan[i].log_file}});
    }
    checkpoint::writeFileAtomically((run_dir / "processes.json").string(), j.dump(2) + "\n");
  };
  const auto grace =
      std::chrono::seconds(std::max(config.launch.stop_grace_s, config.reward.server.drain_timeout_s + 10));
  if (under_slurm && config.launch.slurm.stop_signal_s > 0 && config.launch.slurm.stop_signal_s <= grace.count()) {
    log::warn(
        "launch.slurm.stop_signal_s ({} s) is not longer than the stop grace ({} s, launch.stop_grace_s): at the "
        "time limit the learner's stop checkpoint may be cut off",
        config.launch.slurm.stop_signal_s, grace.count());
  }
  LaunchHooks hooks;
  hooks.on_started = record;
  if (config.launch.status_interval_s > 0) {
    hooks.status_interval = std::chrono::seconds(config.launch.status_interval_s);
    hooks.on_status = [&](const std::vector<ProcessState>&) {
      printStatus(monitor.snapshot(), run_dir, config.learner.total_steps);
    };
  }
  hooks.liveness_interval = std::chrono::milliseconds(config.launch.heartbeat_ms);
  hooks.find_hung = [&](const std::vector<ProcessState>& states) {
    for (const auto& s : states) monitor.update(s.name, s.running, s.restarts);
    std::vector<std::pair<std::string, std::string>> hung;
    for (const auto& [name, silent] : monitor.hung()) {
      monitor.markHung(name);
      hung.emplace_back(name,
                        fmt::format("no heartbeat for {:.1f} s (launch.heartbeat_timeout_s {}; before the first "
                                    "beat launch.rendezvous.timeout_s {})",
                                    silent, config.launch.heartbeat_timeout_s, config.launch.rendezvous.timeout_s));
    }
    write_status();
    return hung;
  };
  hooks.before_group_restart = [&](const std::string& group, int64_t attempt) {
    // The new actors must wait for the new learner's endpoints, not dial the dead one's.
    store->unpublish("learner", 0, "rollout");
    store->unpublish("learner", 0, "weights");
    log::info("starting the {} group again (restart {}); the learners resume from the newest checkpoint in {}", group,
              attempt, (run_dir / "checkpoints").string());
  };
  const LaunchResult result = runLocal(specs, hooks, grace);
  try {
    for (const auto& s : monitor.snapshot()) monitor.update(s.name, false, s.restarts);
    write_status();
  } catch (const std::exception& e) {
    log::warn("cannot write {}: {}", status_path, e.what());
  }
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

std::string rlhfBatchScript(const RlhfArgs& args, const ExperimentConfig& config) {
  const SlurmJobPaths paths = slurmJobPaths(config, args.config, args.overrides);
  return renderBatchScript(config, buildSlurmPlan(config, paths.config, paths.run_dir), paths);
}

}  // namespace

int runRlhf(const RlhfArgs& args) {
  log::setIdentity("launch");
  const ExperimentConfig config = loadExperimentConfig(args.config, args.overrides);
  if (config.launch.mode == "slurm") {
    const fs::path run_dir = fs::absolute(fs::path(config.experiment.output_dir) / config.experiment.name);
    return submitBatchJob(rlhfBatchScript(args, config), run_dir.string(), args.wait, "summary.json");
  }
  return superviseRlhf(args, false);
}

int runSlurmSupervise(const RlhfArgs& args) { return superviseRlhf(args, true); }

int runSlurmRender(const RlhfArgs& args) {
  const ExperimentConfig config = loadExperimentConfig(args.config, args.overrides);
  std::fputs(rlhfBatchScript(args, config).c_str(), stdout);
  return 0;
}

int runStatus(const std::string& run_dir) {
  const control::StatusFile status = control::readStatusFile((fs::path(run_dir) / "status.json").string());
  const int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::fputs(control::formatStatusTable(status, now).c_str(), stdout);
  const bool here = status.launcher_host == hostName();
  if (here && status.launcher_pid > 0 && ::kill(static_cast<pid_t>(status.launcher_pid), 0) != 0 && errno == ESRCH) {
    std::printf("the launcher (pid %lld) is not running: this is the run's last table\n",
                static_cast<long long>(status.launcher_pid));
    return 1;
  }
  return 0;
}

}  // namespace gramrl
