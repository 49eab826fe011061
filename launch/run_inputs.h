// What a training run was trained on, recorded in its run directory so that a rerun (which
// resumes from the last checkpoint) can check it resumes on the same inputs (issue 15).
//
// NOTE [Resume checks what was trained on]
// `gramrl train` resumes when the run directory holds a checkpoint. A rerun with other data of the
// same row count, or another config, would otherwise continue silently on the new inputs. So
// <run_dir>/run_inputs.json records a digest (FNV-1a 64 and the size) of the resolved config and
// of every input file a run may read: learner.data.train and .eval and rollout.prompts by their
// whole contents; the local model and tokenizer paths (policy.model, policy.tokenizer,
// reward.model, reward.tokenizer, learner.dpo.reference_model) by their small files' contents
// (config.json, tokenizer.json, the safetensors index, ...) and their weight files' names, sizes
// and safetensors headers (tensor names, dtypes, shapes), never the gigabytes of weight values: a
// checkpoint rewritten in place with the same shapes is not noticed (a new checkpoint directory
// is, as the path is part of the config). builtin: specs are in the config digest; a path that
// does not exist is recorded as absent. Before a rerun touches the
// directory they are compared, and a difference is a ConfigError naming what changed and the
// override that resumes anyway (experiment.check_resume_inputs=false), which records the new
// inputs. Without a checkpoint there is nothing to resume, so a rerun after a failed first
// attempt (say, a data error that was then fixed) records the new inputs silently. Each attempt's
// resolved config is kept: config.yaml is the current one, config.attempt-N.yaml attempt N's.
//
// Threads: plain functions; one launcher per run directory. Throws ConfigError (inputs changed),
// DataError (a data file cannot be read), SystemError (the run directory cannot be written).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/experiment_config.h"

namespace gramrl {

struct InputDigest {
  std::string what;    // "learner.data.train", "config"
  std::string path;    // the file ("" for the config)
  uint64_t bytes = 0;  // its size
  std::string digest;  // FNV-1a 64 of its bytes, 16 hex digits
};

// FNV-1a 64 of a file, 16 hex digits; `bytes` gets its size. Throws DataError when it cannot be read.
std::string digestFile(const std::string& path, const std::string& what, uint64_t* bytes);

// The digests of the config (with check_resume_inputs normalised, so forcing does not change it)
// and of each input file or directory it names (NOTE above). Throws DataError when a data file
// (learner.data.*) or a file inside a model directory cannot be read.
std::vector<InputDigest> describeRunInputs(const ExperimentConfig& config);

// A model or tokenizer path's digest as NOTE [Resume checks what was trained on] says: a file by
// its contents (a weights file by name, size and header), a directory by its files in name order;
// `bytes` gets the total size. Throws DataError when it is neither a file nor a directory.
std::string digestModelPath(const std::string& path, uint64_t* bytes);

// Before a training attempt writes anything in `run_dir`: checks the inputs against the last
// record when a checkpoint exists (NOTE above), keeps the previous config.yaml as
// config.attempt-N.yaml, then writes config.yaml (`config_yaml`) and run_inputs.json. Returns the
// attempt number (1 for a new run).
int64_t prepareRunDirectory(const std::string& run_dir, const ExperimentConfig& config, const std::string& config_yaml);

// The advice after a failed attempt, from the exit code a rank returned (exitCodeFor): a data or
// config error is not fixed by rerunning; a crash or a signal is resumed by a rerun.
std::string adviceAfterFailure(int exit_code);

}  // namespace gramrl
