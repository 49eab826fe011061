// One learner rank: the process `gramrl worker learner` runs, started by the launcher
// (launch/local_launcher.h) once per rank. Its whole life: read the resolved config the
// launcher wrote, join the rank group through the rendezvous store, build the model, data and
// objective of learner.algorithm, and run the Trainer (learner/engine/trainer.h) to the end.
//
// Threads: runs on the calling thread. Blocks for the whole run. Returns 0 on success; throws
// the typed errors of common/core/errors.h (mapped to exit codes by main).
#pragma once

#include <string>
#include <vector>

namespace gramrl {

struct ExperimentConfig;

struct LearnerWorkerArgs {
  std::string config;  // the resolved experiment config (<run_dir>/config.yaml)
  int rank = 0;
  int world_size = 1;
  std::string rendezvous;  // host:port of the store; empty only with world_size 1 (no process group)
};

int runLearnerWorker(const LearnerWorkerArgs& args);

// <experiment.output_dir>/<experiment.name>
std::string runDirectory(const ExperimentConfig& config);

}  // namespace gramrl
