// Checks YAML text before it is turned into a ConfigNode tree, so that a small hostile or
// careless document cannot exhaust memory or time and so that the common mistakes get a message
// that says what happened. Used by parseYaml (config_node.cc), the only YAML reader.
//
// Thread safety: pure functions; no shared state. Throws nothing: problems become ConfigIssues.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/config/config_node.h"

namespace gramrl {

// NOTE [YAML document limits]
// yaml-cpp keeps an alias as a reference to its anchor's node, so parsing "billion laughs"
// (nine levels, each a list of nine aliases of the level before) is cheap; the cost comes when
// the tree is copied into ConfigNodes, which expands every alias (9^9 nodes, ~23 GB). The guard
// computes the expanded size from the parser's events without expanding anything (an anchored
// node's expanded size is recorded when it closes; an alias adds it) and refuses a document over
// these limits before a single ConfigNode is built. The limits are far above any real config
// (the shipped ones have a few hundred nodes, no aliases, depth <= 5) and are documented in
// docs/input-limits.md. They are constants, not config keys: a document cannot raise its own.
struct YamlLimits {
  std::size_t max_nodes = 100000;             // scalars, maps and sequences after alias expansion
  std::size_t max_expanded_bytes = 16 << 20;  // scalar text after alias expansion
  std::size_t max_aliases = 1000;             // `*name` references in one document
  std::size_t max_depth = 64;                 // nested maps and sequences (block or flow)
};

// Returns true when `text` may be given to yaml-cpp and converted; otherwise appends one issue
// located at file:line:column that names the limit or the mistake (a NUL byte, a tab in the
// indentation, nesting past the limit, a YAML syntax error) and returns false.
bool checkYamlText(const std::string& text, const std::string& file_name, std::vector<ConfigIssue>& issues,
                   const YamlLimits& limits = YamlLimits{});

}  // namespace gramrl
