// `gramrl train <algorithm> CONFIG [overrides]`: a training run on this machine, one process per
// learner rank, through the same launcher path the full pipeline uses.
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
};

int runTrain(const TrainArgs& args);

}  // namespace gramrl
