#include "launch/slurm_script.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "common/config/experiment_config.h"
#include "common/core/errors.h"

namespace gramrl {
namespace {

const char* kRoles[] = {"learner", "reward", "actor"};

const SlurmRoleOptions& roleOptions(const SlurmOptions& slurm, const std::string& role) {
  if (role == "learner") return slurm.learner;
  if (role == "reward") return slurm.reward;
  return slurm.actors;
}

std::string roleKey(const std::string& role) { return role == "actor" ? "actors" : role; }

int64_t countOf(const std::vector<RoleProcess>& plan, const std::string& role) {
  int64_t n = 0;
  for (const auto& p : plan) n += p.role == role ? 1 : 0;
  return n;
}

// A value that goes into an #SBATCH line or a shell word: no whitespace, quotes or shell
// metacharacters (partition names, constraints, memory sizes and time limits have none).
void checkWord(const std::string& value, const std::string& key) {
  for (char c : value) {
    const bool bad = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\'' || c == '"' || c == '`' || c == '$' ||
                     c == ';' || c == '\\';
    GRAMRL_CHECK(!bad, ConfigError, "{}: '{}' cannot go into a Slurm option (whitespace, quote or shell character)",
                 key, value);
  }
}

// Single-quoted for bash.
std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace

std::vector<RoleProcess> buildSlurmPlan(const ExperimentConfig& config, const std::string& config_path,
                                        const std::string& run_dir) {
  return forSlurm(buildRlhfPlan(config, config_path, run_dir), run_dir);
}

std::vector<RoleProcess> forSlurm(std::vector<RoleProcess> plan, const std::string& run_dir) {
  for (auto& p : plan) {
    if (p.log_file.empty()) p.log_file = (std::filesystem::path(run_dir) / "logs" / (p.name() + ".log")).string();
    p.env.clear();
  }
  return plan;
}

std::string findOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::string dirs(path);
  size_t begin = 0;
  while (begin <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', begin), dirs.size());
    const std::string dir = dirs.substr(begin, end - begin);
    if (!dir.empty()) {
      const std::string candidate = dir + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    begin = end + 1;
  }
  return "";
}

int slurmHetGroup(const std::vector<RoleProcess>& plan, const std::string& role) {
  int group = 0;
  for (const char* r : kRoles) {
    if (countOf(plan, r) == 0) continue;
    if (role == r) return group;
    ++group;
  }
  return -1;
}

std::string renderBatchScript(const ExperimentConfig& config, const std::vector<RoleProcess>& plan,
                              const SlurmJobPaths& paths) {
  const SlurmOptions& slurm = config.launch.slurm;
  checkWord(slurm.partition, "launch.slurm.partition");
  checkWord(slurm.account, "launch.slurm.account");
  checkWord(slurm.time_limit, "launch.slurm.time_limit");
  checkWord(config.experiment.name, "experiment.name");
  const bool heterogeneous = slurmHetGroup(plan, "reward") > 0 || slurmHetGroup(plan, "actor") > 0;
  std::string s = "#!/bin/bash\n";
  s += fmt::format(
      "# gramrl {} as one {}Slurm job (NOTE [Slurm jobs] in launch/slurm_script.h).\n"
      "# Rendered by `gramrl slurm render` from {}; submit it with sbatch, or run\n"
      "# `gramrl {} CONFIG launch.mode=slurm`, which renders and submits it. Submitting it again after\n"
      "# a stop resumes from the newest checkpoint in {}.\n",
      paths.command, heterogeneous ? "heterogeneous " : "",
      paths.supervise_args.empty() ? paths.config : paths.supervise_args.front(), paths.command, paths.run_dir);
  s += fmt::format("#SBATCH --job-name=gramrl-{}\n", config.experiment.name);
  s += fmt::format("#SBATCH --output={}/logs/slurm-%j.out\n", paths.run_dir);
  s += fmt::format("#SBATCH --time={}\n", slurm.time_limit);
  if (!slurm.account.empty()) s += fmt::format("#SBATCH --account={}\n", slurm.account);
  if (slurm.stop_signal_s > 0) {
    s += fmt::format("# SIGTERM to the supervisor {} s before the time limit: the run stops cleanly.\n",
                     slurm.stop_signal_s);
    s += fmt::format("#SBATCH --signal=B:TERM@{}\n", slurm.stop_signal_s);
  }
  for (const auto& extra : slurm.extra_args) {
    GRAMRL_CHECK(extra.find('\n') == std::string::npos, ConfigError, "launch.slurm.extra_args: '{}' holds a newline",
                 extra);
    s += fmt::format("#SBATCH {}\n", extra);
  }
  bool first = true;
  for (const char* role : kRoles) {
    const int64_t n = countOf(plan, role);
    if (n == 0) continue;
    if (!first) s += "#SBATCH hetjob\n";
    first = false;
    const SlurmRoleOptions& o = roleOptions(slurm, role);
    const std::string key = "launch.slurm." + roleKey(role);
    checkWord(o.mem, key + ".mem");
    checkWord(o.partition, key + ".partition");
    checkWord(o.constraint, key + ".constraint");
    if (heterogeneous) {
      s += fmt::format("# het group {}: {} {} process(es), one task each ({}.*)\n", slurmHetGroup(plan, role), n, role,
                       key);
    } else {
      s += fmt::format("# {} {} process(es), one task each ({}.*)\n", n, role, key);
    }
    s += fmt::format("#SBATCH --ntasks={}\n", n);
    if (o.nodes > 0) s += fmt::format("#SBATCH --nodes={}\n", o.nodes);
    s += fmt::format("#SBATCH --cpus-per-task={}\n", o.cpus_per_task);
    if (o.gpus_per_task > 0) s += fmt::format("#SBATCH --gpus-per-task={}\n", o.gpus_per_task);
    if (!o.mem.empty()) s += fmt::format("#SBATCH --mem={}\n", o.mem);
    const std::string& partition = o.partition.empty() ? slurm.partition : o.partition;
    if (!partition.empty()) s += fmt::format("#SBATCH --partition={}\n", partition);
    if (!o.constraint.empty()) s += fmt::format("#SBATCH --constraint={}\n", o.constraint);
  }
  s += "\nset -euo pipefail\n";
  s += fmt::format(
      "# This script runs on the first node of {}: learner rank 0's node. The supervisor hosts the\n"
      "# rendezvous store{} here and starts one job step per process:\n",
      heterogeneous ? "het group 0" : "the job", heterogeneous ? " and the control channel" : "");
  for (const auto& p : plan) {
    std::string line = "#  ";
    for (const auto& a : srunCommand(config, plan, p, paths.gramrl)) line += " " + a;
    s += line + " --rendezvous $HOST:$PORT\n";
  }
  if (paths.command == "rlhf") {  // the training supervisor keeps no heartbeat table
    s += fmt::format("# Live table of the processes: {} status {}\n", quote(paths.gramrl), quote(paths.run_dir));
  }
  std::string supervise = "exec " + quote(paths.gramrl);
  for (const auto& w : paths.supervise_command) supervise += " " + w;  // gramrl's own words
  for (const auto& a : paths.supervise_args) supervise += " " + quote(a);
  s += supervise + "\n";
  return s;
}

std::vector<std::string> srunCommand(const ExperimentConfig& config, const std::vector<RoleProcess>& plan,
                                     const RoleProcess& process, const std::string& gramrl) {
  const SlurmRoleOptions& o = roleOptions(config.launch.slurm, process.role);
  GRAMRL_ASSERT(!process.log_file.empty(), "{} has no log file (use buildSlurmPlan)", process.name());
  const std::string& log = process.log_file;
  const bool heterogeneous = slurmHetGroup(plan, "reward") > 0 || slurmHetGroup(plan, "actor") > 0;
  std::vector<std::string> argv{"srun"};
  if (heterogeneous) argv.push_back(fmt::format("--het-group={}", slurmHetGroup(plan, process.role)));
  argv.insert(argv.end(), {"--ntasks=1", "--nodes=1", "--exact", fmt::format("--cpus-per-task={}", o.cpus_per_task),
                           "--kill-on-bad-exit=1", fmt::format("--job-name={}", process.name()), "--output=" + log,
                           "--open-mode=append"});
  if (o.gpus_per_task > 0) argv.push_back(fmt::format("--gpus-per-task={}", o.gpus_per_task));
  argv.push_back(gramrl);
  argv.insert(argv.end(), process.args.begin(), process.args.end());
  return argv;
}

}  // namespace gramrl
