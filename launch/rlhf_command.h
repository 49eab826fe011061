// `gramrl rlhf CONFIG [section.key=value ...]`: online RLHF on this machine with reward servers,
// rollout actors and learner ranks as separate processes (launch/role_plan.h), supervised by
// the local launcher (NOTE [Process lifetimes] in local_launcher.h). Rerunning the same command
// resumes from the newest checkpoint.
#pragma once

#include <string>
#include <vector>

namespace gramrl {

struct RlhfArgs {
  std::string config;
  std::vector<std::string> overrides;
  bool wait = false;  // launch.mode slurm: wait for the job to end (sbatch --wait) and return its exit code
};

// launch.mode local: supervises the run here. launch.mode slurm: renders the batch script into
// <run>/slurm-job.sbatch and submits it with sbatch (NOTE [Slurm jobs] in launch/slurm_script.h).
int runRlhf(const RlhfArgs& args);
// `gramrl slurm render CONFIG [overrides]`: prints the batch script that launch.mode slurm submits.
int runSlurmRender(const RlhfArgs& args);
// `gramrl slurm supervise CONFIG [overrides]`: what the batch script runs, on learner rank 0's node.
int runSlurmSupervise(const RlhfArgs& args);

// `gramrl status RUN_DIR`: the table of a run's processes from <RUN_DIR>/status.json (NOTE
// [Status from a file] in common/control/status_file.h). Returns 0; 1 when the launcher that
// wrote it no longer runs (on this host); throws ConfigError when there is no status file.
int runStatus(const std::string& run_dir);

}  // namespace gramrl
