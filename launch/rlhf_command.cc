#include "launch/rlhf_command.h"

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

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

// NOTE [Live status]: one line per role every launch.status_interval_s: how many of its
// processes run and how often they were restarted (from the supervisor), and the figures of the
// learner's newest step (from metrics.jsonl).
void printStatus(const std::vector<RoleProcess>& plan, const std::vector<ProcessState>& states, const fs::path& run_dir,
                 int64_t total_steps) {
  std::map<std::string, std::array<int64_t, 3>> roles;  // running, total, restarts
  for (size_t i = 0; i < states.size(); ++i) {
    auto& r = roles[plan[i].role];
    r[0] += states[i].running ? 1 : 0;
    r[1] += 1;
    r[2] += states[i].restarts;
  }
  const nlohmann::json m = lastMetrics(run_dir / "metrics.jsonl");
  const int64_t step = m.is_object() && m.contains("step") ? m["step"].get<int64_t>() : 0;
  for (const auto& [role, r] : roles) {
    std::string line = fmt::format("{}: {} of {} running, {} restart(s)", role, r[0], r[1], r[2]);
    if (role == "learner") {
      line += fmt::format("; step {} of {}, policy v{}, {:.1f} samples/s, {:.0f} tokens/s, waiting {:.0f}%", step,
                          total_steps, step, number(m, "perf/samples_per_s"), number(m, "perf/tokens_per_s"),
                          100.0 * number(m, "time/wait_fraction"));
    } else if (role == "actor") {
      line += fmt::format("; staleness {:.2f}, response length {:.1f}, generation {:.2f} s, weights {:.2f} s per step",
                          number(m, "rollout/staleness"), number(m, "rollout/response_length"),
                          number(m, "time/actor_generation_s"), number(m, "time/actor_weights_s"));
    } else if (role == "reward") {
      line += fmt::format("; reward mean {:.3f}, std {:.3f}, KL {:.3g}, scoring {:.2f} s per step",
                          number(m, "reward/mean"), number(m, "reward/std"), number(m, "kl/per_token"),
                          number(m, "time/actor_reward_s"));
    }
    log::info("status {}", line);
  }
}

}  // namespace

int runRlhf(const RlhfArgs& args) {
  log::setIdentity("launch");
  const ExperimentConfig config = loadExperimentConfig(args.config, args.overrides);
  GRAMRL_CHECK(isOnlineAlgorithm(config.learner.algorithm), ConfigError,
               "learner.algorithm: gramrl rlhf trains online with ppo, grpo, rloo, remax, reinforce_pp or online_dpo, "
               "got '{}' (set it in the config or with learner.algorithm=grpo)",
               config.learner.algorithm);
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
  LaunchHooks hooks;
  hooks.on_started = record;
  if (config.launch.status_interval_s > 0) {
    hooks.status_interval = std::chrono::seconds(config.launch.status_interval_s);
    hooks.on_status = [&](const std::vector<ProcessState>& states) {
      printStatus(plan, states, run_dir, config.learner.total_steps);
    };
  }
  const LaunchResult result = runLocal(specs, hooks, grace);
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
