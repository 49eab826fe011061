// From an experiment config to a ready DPO objective: models, tokenizer, data.
//
// The policy and the reference both load from policy.model (the reference from
// learner.dpo.reference_model when set); a resumed run replaces the policy's weights from the
// checkpoint afterwards, while the reference stays the initial model. Preference pairs come
// from learner.data.train (and .eval, or an eval_holdout split of train), encoded with the
// policy's chat template (common/tokenizer/chat_encoder.h).
//
// Threads: the caller's. Throws ConfigError (missing data path, tokenizer mismatch) and
// DataError (malformed data files, naming file:line and field).
#pragma once

#include <memory>
#include <string>

#include <ATen/core/TensorBody.h>

#include "learner/dpo/dpo_objective.h"

namespace gramrl {

struct ExperimentConfig;

struct DpoSetup {
  std::shared_ptr<Transformer> policy;
  std::unique_ptr<DpoObjective> objective;
  std::string tokenizer_spec;
};

DpoSetup buildDpo(const ExperimentConfig& config, at::Device device);

}  // namespace gramrl
