#include "common/config/config_loader.h"

#include <fmt/core.h>

#include "common/core/errors.h"

namespace gramrl {
namespace {

std::string escapeCell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else
      out += c;
  }
  return out;
}

}  // namespace

ConfigLoadResult readExperimentConfig(const ConfigNode& root) {
  ConfigLoadResult result;
  if (!root.isMap() && !root.isNull()) {
    result.issues.push_back({"", "a config must be a mapping of sections (experiment:, policy:, ...)", root.location});
    return result;
  }
  OptionReader reader(&root, "", result.issues);
  result.config.visit(reader);
  reader.reportUnknownKeys();
  return result;
}

ConfigLoadResult checkExperimentConfig(const std::string& path, const std::vector<std::string>& overrides) {
  std::vector<ConfigIssue> tree_issues;
  ConfigNode root = loadConfigTree(path, overrides, tree_issues);
  ConfigLoadResult result = readExperimentConfig(root);
  result.issues.insert(result.issues.begin(), tree_issues.begin(), tree_issues.end());
  return result;
}

ExperimentConfig loadExperimentConfig(const std::string& path, const std::vector<std::string>& overrides) {
  ConfigLoadResult result = checkExperimentConfig(path, overrides);
  if (!result.ok()) {
    std::string message =
        fmt::format("{} has {} error{}:", path, result.issues.size(), result.issues.size() == 1 ? "" : "s");
    for (const auto& issue : result.issues) message += "\n  " + issue.describe();
    throw ConfigError(message);
  }
  return result.config;
}

std::string toYaml(const ExperimentConfig& config) {
  ExperimentConfig copy = config;
  ConfigNode root;
  OptionWriter writer(root);
  copy.visit(writer);
  return toYamlText(root);
}

std::vector<OptionDoc> configReferenceRows() {
  ExperimentConfig defaults;
  std::vector<OptionDoc> rows;
  ReferenceWriter writer(rows, "");
  defaults.visit(writer);
  return rows;
}

std::string configReferenceMarkdown() {
  std::string out =
      "# Configuration reference\n\n"
      "Generated from the option structs in `common/config/experiment_config.h` by\n"
      "`gramrl config reference > docs/config-reference.md`; a test fails when this file is out of date.\n\n"
      "A config file may start with `extends: base.yaml` (a path relative to the file); its keys then\n"
      "override the base's, section by section. Any key can be overridden on the command line with\n"
      "`section.key=value` (for example `learner.ppo.clip=0.1`); overrides are validated like the file.\n"
      "Unknown keys, wrong types, out-of-range values and duplicate keys are errors.\n";
  for (const auto& row : configReferenceRows()) {
    if (row.type == "section") {
      out += fmt::format("\n## `{}`\n\n{}\n\n", row.path, row.doc);
      out += "| key | type | default | allowed | description |\n| --- | --- | --- | --- | --- |\n";
      continue;
    }
    const std::string def = row.default_value.empty() ? "`\"\"`" : "`" + row.default_value + "`";
    out += fmt::format("| `{}` | {} | {} | {} | {} |\n", row.path, row.type, escapeCell(def), escapeCell(row.allowed),
                       escapeCell(row.doc));
  }
  return out;
}

}  // namespace gramrl
