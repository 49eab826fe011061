// Submitting a gramrl command as a Slurm job: the job's paths from a config, and sbatch.
// NOTE [Slurm jobs] in launch/slurm_script.h.
#pragma once

#include <string>
#include <vector>

#include "launch/local_launcher.h"
#include "launch/slurm_script.h"

namespace gramrl {

struct ExperimentConfig;

// Where the job of `config` finds its pieces: the binary (launch.slurm.gramrl, default this one),
// the absolute run directory, its config.yaml, and the user's config file and overrides made
// absolute where they name paths (sbatch may run the script from another directory).
SlurmJobPaths slurmJobPaths(const ExperimentConfig& config, const std::string& config_file,
                            const std::vector<std::string>& overrides);

// What the supervisor starts for each process of `plan`: locally `exe` with the process's
// arguments, its log file and environment; inside a Slurm job (under_slurm, a plan from forSlurm)
// its srun step (srunCommand), which writes the log itself. Both get --rendezvous `rendezvous`.
// Throws ConfigError when a job has no srun on PATH.
std::vector<ProcessSpec> processSpecs(const ExperimentConfig& config, const std::vector<RoleProcess>& plan,
                                      const std::string& exe, const std::string& rendezvous, bool under_slurm);

// This machine's host name ("localhost" when it has none), and the host a store hosted inside a
// job must bind: `host` itself, or this machine's name where `host` is a loopback address (the
// other nodes must reach it).
std::string hostName();
std::string storeHostInJob(const std::string& host);

// Writes `script` to <run_dir>/slurm-job.sbatch and submits it with sbatch. Without `wait` prints
// the job id and returns 0; with it, returns the job's exit code (sbatch --wait). `result` names
// the file that holds the run's result, for the closing message.
int submitBatchJob(const std::string& script, const std::string& run_dir, bool wait, const std::string& result);

}  // namespace gramrl
