// Loading, printing and documenting the experiment configuration.
//
// Thread safety: free functions on values; safe from any thread.
#pragma once

#include <string>
#include <vector>

#include "common/config/config_node.h"
#include "common/config/experiment_config.h"

namespace gramrl {

struct ConfigLoadResult {
  ExperimentConfig config;          // complete only when issues is empty
  std::vector<ConfigIssue> issues;  // every problem found, in file order
  bool ok() const { return issues.empty(); }
};

// Reads `path` (following `extends`), applies dotted overrides ("learner.ppo.clip=0.1"),
// and validates the result. Never throws for bad input: every problem is an issue.
ConfigLoadResult checkExperimentConfig(const std::string& path, const std::vector<std::string>& overrides = {});

// As checkExperimentConfig, but throws ConfigError (one line per issue) when anything is wrong.
ExperimentConfig loadExperimentConfig(const std::string& path, const std::vector<std::string>& overrides = {});

// Validates an already-built tree (for tests and embedded configs).
ConfigLoadResult readExperimentConfig(const ConfigNode& root);

// The resolved config as YAML, every key written out.
std::string toYaml(const ExperimentConfig& config);

// The configuration reference (docs/config-reference.md), generated from the option structs.
std::vector<OptionDoc> configReferenceRows();
std::string configReferenceMarkdown();

}  // namespace gramrl
