// libFuzzer target: the YAML config reader (common/config/config_node.cc, parseYaml, with the
// guard of NOTE [YAML document limits]) and the option reader on what it returns, on untrusted
// text. Seeded with the shipped configs (scripts/fuzz.sh).
//
// Besides "no crash, no sanitizer report, no exception escapes, bounded memory and time" (libFuzzer's
// -rss_limit_mb and -timeout), it checks what the reader promises: a tree read without issues has
// at most YamlLimits::max_nodes values and depth <= max_depth, whatever aliases the text uses; a
// config that validates prints (toYaml) to text that reads back to the same config. Any broken
// promise aborts, which libFuzzer reports as a crash with its reproducer.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/config/config_loader.h"
#include "common/config/config_node.h"
#include "common/config/yaml_guard.h"

namespace gramrl::fuzz {
namespace {

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "config_yaml_fuzz: broken promise: %s\n", what.c_str());
  std::abort();
}

void measure(const ConfigNode& node, size_t depth, size_t& nodes, size_t& deepest) {
  ++nodes;
  deepest = std::max(deepest, depth);
  for (const auto& e : node.entries) measure(e.value, depth + 1, nodes, deepest);
  for (const auto& item : node.items) measure(item, depth + 1, nodes, deepest);
}

void fuzzOne(const std::string& text) {
  std::vector<ConfigIssue> issues;
  const ConfigNode root = parseYaml(text, "fuzz.yaml", issues);
  if (!issues.empty()) {
    for (const auto& issue : issues) {
      if (issue.message.empty()) broken("an issue without a message");
    }
    return;
  }
  const YamlLimits limits;
  size_t nodes = 0, deepest = 0;
  measure(root, 0, nodes, deepest);
  if (nodes > limits.max_nodes) broken("a tree of " + std::to_string(nodes) + " values passed the guard");
  if (deepest > limits.max_depth) broken("a tree " + std::to_string(deepest) + " deep passed the guard");
  if (!root.isMap()) return;
  const ConfigLoadResult first = readExperimentConfig(root);
  if (!first.ok()) return;
  const std::string printed = toYaml(first.config);
  std::vector<ConfigIssue> reread_issues;
  const ConfigNode reread = parseYaml(printed, "printed.yaml", reread_issues);
  if (!reread_issues.empty()) broken("the printed config does not parse: " + reread_issues.front().describe());
  const ConfigLoadResult second = readExperimentConfig(reread);
  if (!second.ok()) broken("the printed config does not validate: " + second.issues.front().describe());
  if (toYaml(second.config) != printed) broken("the printed config reads back differently:\n" + printed);
}

}  // namespace
}  // namespace gramrl::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gramrl::fuzz::fuzzOne(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
