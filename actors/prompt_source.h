// Where an RLHF run's prompts come from: rollout.prompts (JSONL, NOTE [Accepted JSONL shapes] in
// common/data/jsonl_data.h) or, when that is empty, the built-in synthetic world.
//
// Prompt id i is a pure function of (seed, i): world row i of the training families, or row
// perm_e(i mod N) of the file, where perm_e is a seeded shuffle for epoch e = i / N. Any actor
// therefore turns a lease's prompt id into the same prompt.
//
// Threads: one at a time (at() caches the current epoch's order). Throws DataError (a bad file) and
// ConfigError (unknown families) at construction.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/data/jsonl_data.h"

namespace gramrl {

struct ExperimentConfig;

class PromptSource {
 public:
  explicit PromptSource(const ExperimentConfig& config);
  data::PromptExample at(uint64_t prompt_id);
  // True for the built-in world (its prompts have a gold judge).
  bool isWorld() const { return rows_.empty(); }
  size_t fileRows() const { return rows_.size(); }

 private:
  std::vector<data::PromptExample> rows_;
  std::vector<std::string> families_;
  uint64_t seed_ = 0;
  std::vector<int64_t> order_;  // permutation of order_epoch_
  int64_t order_epoch_ = -1;
};

// The world's in-distribution families (all but world::defaultHeldOutFamilies()), the default of
// rollout.families.
std::vector<std::string> defaultTrainingFamilies();

}  // namespace gramrl
