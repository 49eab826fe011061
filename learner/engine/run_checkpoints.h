// Training checkpoints on disk: one directory per saved step, written in a staging directory and
// renamed into place, so a crash never leaves a half-written checkpoint that looks valid.
//
// NOTE [Training checkpoint layout]
//   <run_dir>/checkpoints/step-00000120/
//       model/               the policy in Hugging Face format (config.json + safetensors)
//       optimizer.pt         AdamW moments and step counts, and the torch CPU generator state
//                            (with learner.zero_stage 1 on several ranks, one
//                            optimizer.rank-RRRRR-of-WWWWW.pt per rank instead: NOTE [ZeRO-1
//                            checkpoints] in update_step.h)
//       trainer_state.json   step, policy version, data cursor, seed, world size, algorithm
// A save fills "<run_dir>/checkpoints/.staging-step-00000120-<pid>" and renames it to
// "step-00000120" as its last act (after fsyncing every file in it); the rename is the commit
// point. Only directories named step-<8 digits> that hold trainer_state.json count as
// checkpoints; staging directories of crashed saves are removed by the next run. After a commit
// all but the newest keep_last checkpoints are deleted (oldest first). Only learner rank 0
// writes: data-parallel ranks hold identical parameters and optimiser states (ZeRO-1 shards are
// the exception: the other ranks hand theirs to rank 0 through a side directory).
//
// Threads: one at a time. Throws SystemError (I/O), DataError (a malformed trainer_state.json).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "learner/engine/epoch_sampler.h"

namespace gramrl {

// What besides the tensors a resumed run needs to continue as if it had not stopped.
struct TrainerState {
  int64_t step = 0;            // optimiser updates done
  int64_t policy_version = 0;  // bumped with every update that changes the policy
  DataCursor cursor;           // NOTE [Data cursor]
  int64_t samples_seen = 0;
  int64_t tokens_seen = 0;
  std::string algorithm;
  int64_t world_size = 1;
  uint64_t seed = 0;
  int64_t dataset_size = 0;

  std::string toJson() const;
  // `source` names the file in errors.
  static TrainerState fromJson(const std::string& text, const std::string& source);
};

inline constexpr char kTrainerStateFile[] = "trainer_state.json";
inline constexpr char kModelSubdir[] = "model";
inline constexpr char kOptimizerFile[] = "optimizer.pt";

class RunCheckpoints {
 public:
  // `dir` is <run_dir>/checkpoints (created on the first save).
  RunCheckpoints(std::string dir, int64_t keep_last);

  const std::string& dir() const { return dir_; }
  // Committed checkpoints as (step, path), oldest first.
  std::vector<std::pair<int64_t, std::string>> list() const;
  std::optional<std::string> latest() const;

  // Creates an empty staging directory for `step` and returns its path.
  std::string beginSave(int64_t step);
  // fsyncs the staging directory's files, renames it to step-<step> (replacing an existing
  // checkpoint of that step), fsyncs the parent and prunes to keep_last. Returns the final path.
  std::string commitSave(int64_t step, const std::string& staging);
  // Deletes staging directories left by crashed saves. Returns how many.
  int removeStaleStaging();

  static std::string stepDirName(int64_t step);

 private:
  std::string dir_;
  int64_t keep_last_;
};

TrainerState readTrainerState(const std::string& checkpoint_dir);

}  // namespace gramrl
