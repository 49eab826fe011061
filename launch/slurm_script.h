// `gramrl rlhf` as a Slurm job: the batch script, and the srun command that starts each process
// of the role plan (launch/role_plan.h) inside it.
//
// NOTE [Slurm jobs]
// One heterogeneous job, one component per role (het group 0: learner ranks, then reward
// replicas, then rollout actors; a role with no process has no component), each sized from
// launch.slurm.<role> (nodes, CPUs and GPUs per task, memory, partition, constraint) with one
// task per process. Slurm runs the batch script on the first node of het group 0, which is
// learner rank 0's node; the script execs `gramrl slurm supervise`, the same supervisor as a
// local run (launch/local_launcher.h) with the same role plan, which hosts the rendezvous store
// and the control channel there and starts every process as a job step of its own:
//   srun --het-group=K --ntasks=1 --nodes=1 --exact ... gramrl worker ROLE ... --rendezvous HOST:PORT
// One step per process, not one per role, so that a process's exit ends only its own step: the
// supervisor restarts it (launch.restart_limit) or stops the run exactly as it does locally,
// kills it when its heartbeats stop (NOTE [Heartbeats]), and the other steps run on. Each step
// appends its output to <run>/logs/<role>-<index>.log. The process's index is on its command
// line (the role plan's), so it does not depend on SLURM_PROCID, which is 0 in every one-task
// step. scancel or the time limit (--signal=B:TERM@launch.slurm.stop_signal_s) sends SIGTERM:
// the supervisor stops every step as a local launcher does (the learner writes the checkpoint of
// the step it reached, NOTE [Stop requests] in common/core/stop_request.h), and submitting the
// same config again resumes from it. A failed learner task restarts the learner and actor steps
// within the job (NOTE [Learner restarts] in launch/local_launcher.h).
//
// Threads: pure functions.
#pragma once

#include <string>
#include <vector>

#include "launch/role_plan.h"

namespace gramrl {

struct ExperimentConfig;

// Where a job's pieces are: the gramrl binary on the nodes, the run directory (shared by the
// nodes), the resolved config inside it.
struct SlurmJobPaths {
  std::string gramrl;
  std::string run_dir;
  std::string config;                       // <run_dir>/config.yaml, which the workers read
  std::vector<std::string> supervise_args;  // the user's config file and overrides, absolute where paths
  // The user's command ("rlhf", "train sft", "gram pretrain"...) and the gramrl words that start
  // the supervisor inside the job (before supervise_args).
  std::string command = "rlhf";
  std::vector<std::string> supervise_command{"slurm", "supervise"};
};

// The role plan of a run inside a Slurm job: buildRlhfPlan's, with every process logging to
// <run_dir>/logs/<role>-<index>.log and no CUDA_VISIBLE_DEVICES (Slurm assigns the GPUs).
std::vector<RoleProcess> buildSlurmPlan(const ExperimentConfig& config, const std::string& config_path,
                                        const std::string& run_dir);
// The same for any plan (buildTrainPlan's: a plain job of learner ranks).
std::vector<RoleProcess> forSlurm(std::vector<RoleProcess> plan, const std::string& run_dir);

// The first executable named `name` in $PATH, or "" when there is none.
std::string findOnPath(const std::string& name);

// Het group of each role of `plan`, in the order learner, reward, actor; -1 for a role with no
// process.
int slurmHetGroup(const std::vector<RoleProcess>& plan, const std::string& role);

// The sbatch script of `gramrl rlhf` (or, with paths.command and paths.supervise_command, of a
// training command: one component, a plain job) for this config. Throws ConfigError for a value
// that cannot go into an #SBATCH line (whitespace or newlines in a partition name, ...).
std::string renderBatchScript(const ExperimentConfig& config, const std::vector<RoleProcess>& plan,
                              const SlurmJobPaths& paths);

// argv of the srun that starts `process` inside the job (without the trailing --rendezvous,
// which the supervisor adds); --het-group only where the plan has more than one role.
std::vector<std::string> srunCommand(const ExperimentConfig& config, const std::vector<RoleProcess>& plan,
                                     const RoleProcess& process, const std::string& gramrl);

}  // namespace gramrl
