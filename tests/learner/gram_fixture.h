// GRAM and Bradley-Terry training set-ups on the built-in tiny model and the synthetic world,
// built through buildGramTraining from an in-memory experiment config and JSONL files in a
// temporary directory, for in-process trainer tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config/experiment_config.h"
#include "common/data/jsonl_data.h"
#include "common/world/generators.h"
#include "learner/engine/trainer.h"
#include "learner/gram/gram_setup.h"

namespace gramrl::testing {

// Writes rows 0..n-1 of the world's `kind` data set (seeded; all families when `families` is
// empty) to dir/<name>.jsonl.
inline std::string writeWorldData(const std::string& dir, const std::string& name, const std::string& kind, int64_t n,
                                  uint64_t seed, const std::vector<std::string>& families = {}) {
  world::WorldOptions options;
  options.seed = seed;
  options.families = families;
  const std::string path = (std::filesystem::path(dir) / (name + ".jsonl")).string();
  data::writeJsonl(path, world::generate(kind, n, options));
  return path;
}

// reward.model builtin:tiny, plain chat template, compact judge template, 128-token inputs.
inline ExperimentConfig gramConfig(const std::string& algorithm, const std::string& train, const std::string& eval,
                                   const std::string& model = "builtin:tiny") {
  ExperimentConfig c;
  c.experiment.seed = 7;
  c.reward.model = model;
  c.reward.chat_template = "plain";
  c.reward.gram.judge_template = "compact";
  c.reward.max_tokens = 128;
  c.learner.algorithm = algorithm;
  c.learner.data.train = train;
  c.learner.data.eval = eval;
  c.learner.eval_batch_size = 64;
  c.learner.gram.label_smoothing = 0.05;
  return c;
}

inline TrainerOptions gramTrainerOptions(const std::string& run_dir, const std::string& label, int64_t steps,
                                         double lr) {
  TrainerOptions o;
  o.run_dir = run_dir;
  o.label = label;
  o.total_steps = steps;
  o.global_batch_size = 32;
  o.micro_batch_size = 32;
  o.schedule = LrScheduleOptions{lr, "cosine", 0.1, 0.0, steps};
  o.seed = 3;
  o.tensorboard = false;
  o.progress_log_interval_s = 1e9;
  o.tokenizer_spec = "builtin:bytes";
  return o;
}

inline std::vector<nlohmann::json> readRunMetrics(const std::string& run_dir) {
  std::ifstream in(std::filesystem::path(run_dir) / "metrics.jsonl");
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// <run_dir>/checkpoints/step-<8 digits>/model (NOTE [Training checkpoint layout]).
inline std::string checkpointModelDir(const std::string& run_dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  return (std::filesystem::path(run_dir) / "checkpoints" / name / "model").string();
}

// The value of metric `name` averaged from evaluate() sums.
inline double metricValue(const std::vector<MetricSum>& metrics, const std::string& name) {
  for (const auto& m : metrics) {
    if (m.name == name) return m.sum / m.count;
  }
  return std::nan("");
}

}  // namespace gramrl::testing
