// Training and evaluation rows for a trainer, from learner.data: the train file and the eval
// file, or a seeded eval_holdout split of the train file (a fixed permutation of (seed, 0), so
// every rank and a resumed run hold out the same rows); and preference pairs encoded for training.
//
// Threads: pure functions of their inputs. Throws what `read` throws (DataError naming
// file:line) and ConfigError for a holdout that leaves no training or no evaluation rows.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/data/jsonl_data.h"
#include "common/model/model_loader.h"
#include "common/tokenizer/chat_encoder.h"
#include "learner/engine/epoch_sampler.h"

namespace gramrl {

template <class Row>
struct DataSplit {
  std::vector<Row> train;
  std::vector<Row> eval;
};

// `read(path, data::ReadOptions)` returns the rows of one file.
template <class Row, class Reader>
DataSplit<Row> readTrainEvalSplit(const LearnerDataOptions& data, uint64_t seed, const Reader& read) {
  data::ReadOptions options;
  options.skip_bad_lines = data.skip_bad_lines;
  DataSplit<Row> out;
  out.train = read(data.train, options);
  if (!data.eval.empty()) {
    out.eval = read(data.eval, options);
  } else if (data.eval_holdout > 0) {
    const auto n = static_cast<int64_t>(out.train.size());
    const auto held = static_cast<int64_t>(data.eval_holdout * static_cast<double>(n));
    GRAMRL_CHECK(held >= 1 && held < n, ConfigError,
                 "learner.data.eval_holdout: {} of {} examples holds out {}; expected at least 1 and fewer than all",
                 data.eval_holdout, n, held);
    const auto order = EpochSampler::permutation(n, seed ^ 0xE7A1ull, 0);
    std::vector<Row> kept;
    for (int64_t i = 0; i < n; ++i) {
      (i < n - held ? kept : out.eval).push_back(std::move(out.train[static_cast<size_t>(order[i])]));
    }
    out.train = std::move(kept);
  }
  return out;
}

// How a policy trainer loads policy.model: with policy.tokenizer and policy.chat_template (one is
// required), float32, builtin presets initialised with experiment.seed (model_loader.h).
ModelLoadSpec policyLoadSpec(const ExperimentConfig& config);

// Each pair's prompt and both responses, encoded with `encoder` (the prompt once, shared by both
// sequences). Throws what ChatEncoder throws (DataError for invalid UTF-8).
std::vector<tokenizer::PromptResponsePair> encodePreferencePairs(const std::vector<data::PreferencePair>& pairs,
                                                                 const tokenizer::ChatEncoder& encoder);

}  // namespace gramrl
