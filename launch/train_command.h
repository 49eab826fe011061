// `gramrl train <algorithm> CONFIG [overrides]` (and `gramrl gram pretrain|finetune|bt`): a
// training run, one process per learner rank, through the same launcher path the full pipeline
// uses, on this machine or as a Slurm job (launch.mode).
//
// The launcher resolves the config (file + dotted overrides + learner.algorithm), writes it to
// <run_dir>/config.yaml (the file every worker reads, and the record of the run), hosts the
// rendezvous store, starts `gramrl worker learner` once per rank (rank 0 on this terminal,
// the others logging to <run_dir>/logs/learner-<rank>.log) and supervises them (NOTE [Local
// supervision] in local_launcher.h). Running it again on the same run directory resumes.
#pragma once

#include <string>
#include <vector>

namespace gramrl {

struct TrainArgs {
  std::string algorithm;  // "dpo"
  std::string config;
  std::vector<std::string> overrides;
  bool wait = false;          // launch.mode slurm: wait for the job (sbatch --wait)
  bool in_slurm_job = false;  // `gramrl slurm supervise-train`: start each rank as a job step
};

// With launch.mode slurm, renders the batch script of a plain job (one task per learner rank,
// sized by launch.slurm.learner) and submits it; inside that job (in_slurm_job) the same
// supervisor starts each rank as a job step of its own (NOTE [Slurm jobs] in slurm_script.h).
int runTrain(const TrainArgs& args);
// The batch script runTrain submits, for `gramrl slurm render --train ALGORITHM`.
std::string trainBatchScript(const TrainArgs& args);

}  // namespace gramrl
