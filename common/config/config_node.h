// A parsed configuration document: a tree of maps, sequences and scalars in which every
// value remembers where it came from (file:line:column, or the command-line override that
// set it). YAML is read in exactly one place (config_node.cc); everything downstream works on
// this tree, so errors from files, base files and overrides all name their source the same way.
//
// Thread safety: plain values; no shared state.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace gramrl {

struct SourceLocation {
  std::string file;    // a path, or "command line" for overrides
  int line = 0;        // 1-based; 0 when unknown
  int column = 0;      // 1-based
  std::string detail;  // for overrides: the override text, e.g. "learner.ppo.clip=0.1"

  // "configs/x.yaml:14:9" or "command line: learner.ppo.clip=0.1".
  std::string describe() const;
};

struct ConfigNode {
  enum class Kind { kNull, kScalar, kMap, kSequence };

  Kind kind = Kind::kNull;
  std::string scalar;       // kScalar: the text as written (without quotes)
  bool quoted = false;      // kScalar: written in quotes (so never a number or a bool)
  SourceLocation location;  // where this value starts

  struct Entry;
  std::vector<Entry> entries;     // kMap, in document order, keys unique
  std::vector<ConfigNode> items;  // kSequence

  static ConfigNode makeMap(SourceLocation where = {});
  static ConfigNode makeScalar(std::string text, SourceLocation where = {}, bool quoted = false);

  bool isMap() const { return kind == Kind::kMap; }
  bool isScalar() const { return kind == Kind::kScalar; }
  bool isSequence() const { return kind == Kind::kSequence; }
  bool isNull() const { return kind == Kind::kNull; }

  // kMap lookup; nullptr when absent.
  const ConfigNode* find(const std::string& key) const;
  ConfigNode* find(const std::string& key);
  const Entry* findEntry(const std::string& key) const;
  // Sets (replacing or appending) an entry of a kMap node.
  ConfigNode& set(const std::string& key, ConfigNode value, SourceLocation key_location);
  // Removes an entry of a kMap node; returns whether it was there.
  bool erase(const std::string& key);
};

struct ConfigNode::Entry {
  std::string key;
  SourceLocation key_location;
  ConfigNode value;
};

// One problem found in a config, already formatted as
// "learner.ppo.clip: expected a number in (0, 1), got -2 (configs/x.yaml:14:9)".
struct ConfigIssue {
  std::string path;     // dotted key path; empty for document-level problems
  std::string message;  // what is wrong
  SourceLocation location;

  std::string describe() const;
};

// Parses YAML text into a tree. Duplicate keys, YAML syntax errors and non-scalar map keys
// are appended to `issues`; the returned tree holds what could be read.
ConfigNode parseYaml(const std::string& text, const std::string& file_name, std::vector<ConfigIssue>& issues);

// Reads and parses a file; an unreadable file is an issue, not an exception.
ConfigNode loadYamlFile(const std::string& path, std::vector<ConfigIssue>& issues);

// Deep merge: maps merge key by key (overlay wins, recursively); anything else in `overlay`
// replaces what `base` had.
void mergeInto(ConfigNode& base, const ConfigNode& overlay);

// Applies "a.b.c=value" to `root`: the value is parsed as a YAML scalar or flow collection
// ("0.1", "true", "[1, 2]", "'text'"), and intermediate maps are created as needed. Problems
// (no '=', empty path, a path through a non-map) are appended to `issues`.
void applyOverride(ConfigNode& root, const std::string& override_text, std::vector<ConfigIssue>& issues);

// Loads `path`, follows its top-level `extends: other.yaml` chain (paths relative to the file
// that names them, cycles and depth > 16 are issues), merges base-first, then applies the
// overrides in order. The returned tree no longer has `extends` keys.
ConfigNode loadConfigTree(const std::string& path, const std::vector<std::string>& overrides,
                          std::vector<ConfigIssue>& issues);

// Renders a tree as block-style YAML.
std::string toYamlText(const ConfigNode& node);

}  // namespace gramrl
