// The role plan of a run: every process, built once from the config, that the local launcher
// (local_launcher.h) and a Slurm renderer both consume.
//
// For each process: its role ("reward", "actor", "learner"), its index, its gramrl command line
// (without the executable and without --rendezvous, which each launcher adds: the local one
// hosts the store itself, a Slurm job finds it on learner rank 0's node), its lifetime (NOTE
// [Process lifetimes]), its restart policy (alone, or with its group: NOTE [Learner restarts]), its log file and its
// environment (the GPUs of its role, as CUDA_VISIBLE_DEVICES).
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gramrl {

struct ExperimentConfig;

struct RoleProcess {
  std::string role;
  int64_t index = 0;
  std::vector<std::string> args;  // after the executable; --rendezvous HOST:PORT is appended by the launcher
  bool serves = false;            // serves until stopped; else runs to completion
  int64_t restart_limit = 0;
  std::string restart_group;  // NOTE [Learner restarts] in local_launcher.h: "learner" for the ranks
  std::string follows_group;  // "learner" for the actors
  std::string log_file;       // empty: the launcher's terminal
  std::vector<std::pair<std::string, std::string>> env;

  std::string name() const { return role + "-" + std::to_string(index); }
};

// `gramrl rlhf`: reward.replicas reward servers, learner.ranks learner ranks and
// rollout.actors actors, each reading `config_path` (the run's resolved config.yaml). Learner
// rank 0 logs to the terminal; every other process to <run_dir>/logs/<role>-<index>.log.
std::vector<RoleProcess> buildRlhfPlan(const ExperimentConfig& config, const std::string& config_path,
                                       const std::string& run_dir);

// `gramrl train` and `gramrl gram pretrain|finetune|bt`: learner.ranks learner ranks only, as in
// buildRlhfPlan (a restart group; rank 0 on the terminal).
std::vector<RoleProcess> buildTrainPlan(const ExperimentConfig& config, const std::string& config_path,
                                        const std::string& run_dir);

}  // namespace gramrl
