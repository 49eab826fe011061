#include "common/config/config_node.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/core.h>

#include "common/config/yaml_guard.h"
// yaml-cpp 0.7's node/impl.h trips GCC 12's -Wdangling-pointer on code that is correct.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#include <yaml-cpp/yaml.h>
#pragma GCC diagnostic pop

namespace gramrl {
namespace {

constexpr int kMaxExtendsDepth = 16;
constexpr std::size_t kMaxConfigFileBytes = 4u << 20;  // a config is text written by people

SourceLocation markToLocation(const YAML::Mark& mark, const std::string& file) {
  SourceLocation loc;
  loc.file = file;
  if (mark.line >= 0) {
    loc.line = mark.line + 1;
    loc.column = mark.column + 1;
  }
  return loc;
}

// NOTE [Duplicate keys]
// yaml-cpp accepts "a: 1" followed by "a: 2" silently (lookups return the first). Iterating a
// map still yields both pairs, so duplicates are found here, while converting to ConfigNode.
ConfigNode convert(const YAML::Node& node, const std::string& file, const std::string& path,
                   std::vector<ConfigIssue>& issues) {
  ConfigNode out;
  out.location = markToLocation(node.Mark(), file);
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: out.kind = ConfigNode::Kind::kNull; return out;
    case YAML::NodeType::Scalar:
      out.kind = ConfigNode::Kind::kScalar;
      out.scalar = node.Scalar();
      // yaml-cpp tags plain scalars "?" and quoted (or otherwise non-plain) ones "!".
      out.quoted = node.Tag() == "!";
      return out;
    case YAML::NodeType::Sequence: {
      out.kind = ConfigNode::Kind::kSequence;
      std::size_t i = 0;
      for (const auto& item : node) {
        out.items.push_back(convert(item, file, fmt::format("{}[{}]", path, i), issues));
        ++i;
      }
      return out;
    }
    case YAML::NodeType::Map: {
      out.kind = ConfigNode::Kind::kMap;
      for (auto it = node.begin(); it != node.end(); ++it) {
        // A copy, not a reference: yaml-cpp's operator-> returns a temporary pair, so a
        // reference to its `first` dangles at once (ASan: stack-use-after-scope, found by
        // tests/fuzz/config_yaml_fuzz on the shipped configs).
        const YAML::Node key_node = it->first;
        const YAML::Node value_node = it->second;
        SourceLocation key_loc = markToLocation(key_node.Mark(), file);
        if (!key_node.IsScalar()) {
          issues.push_back({path, "map keys must be plain names", key_loc});
          continue;
        }
        const std::string key = key_node.Scalar();
        const std::string child_path = path.empty() ? key : path + "." + key;
        if (const ConfigNode::Entry* first = out.findEntry(key)) {
          issues.push_back({child_path,
                            fmt::format("duplicate key (first defined at {})", first->key_location.describe()),
                            key_loc});
          continue;
        }
        ConfigNode value = convert(value_node, file, child_path, issues);
        // A key with nothing after it ("clip:" then a newline): yaml-cpp marks the empty value
        // where the next token starts, a line or more later (or at column 1 at the end of the
        // file), so an error about it would point past it. A null value is reported at its key.
        if (value.kind == ConfigNode::Kind::kNull) value.location = key_loc;
        out.set(key, std::move(value), key_loc);
      }
      return out;
    }
  }
  return out;
}

std::string readFile(const std::string& path, std::vector<ConfigIssue>& issues) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    const bool is_dir = std::filesystem::is_directory(path, ec);
    const bool exists = is_dir || std::filesystem::exists(path, ec);
    issues.push_back({"",
                      is_dir   ? "cannot read config: this is a directory; give the path of a YAML file in it"
                      : exists ? "cannot read config: not a regular file"
                               : "cannot read config: no such file",
                      SourceLocation{path}});
    return {};
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxConfigFileBytes) {
    issues.push_back(
        {"",
         fmt::format("cannot read config: {}",
                     ec ? ec.message() : fmt::format("{} bytes is over the {} byte limit", size, kMaxConfigFileBytes)),
         SourceLocation{path}});
    return {};
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (!in.good() && !in.eof()) issues.push_back({"", "cannot read config: read failed", SourceLocation{path}});
  return buf.str();
}

void emit(YAML::Emitter& out, const ConfigNode& node) {
  switch (node.kind) {
    case ConfigNode::Kind::kNull: out << YAML::Null; break;
    case ConfigNode::Kind::kScalar:
      if (node.quoted) {
        out << YAML::DoubleQuoted << node.scalar;
      } else {
        out << node.scalar;
      }
      break;
    case ConfigNode::Kind::kSequence:
      out << YAML::Flow << YAML::BeginSeq;
      for (const auto& item : node.items) emit(out, item);
      out << YAML::EndSeq;
      break;
    case ConfigNode::Kind::kMap:
      out << YAML::Block << YAML::BeginMap;
      for (const auto& e : node.entries) {
        out << YAML::Key << e.key << YAML::Value;
        emit(out, e.value);
      }
      out << YAML::EndMap;
      break;
  }
}

ConfigNode loadWithBases(const std::string& path, std::vector<std::string>& chain, std::vector<ConfigIssue>& issues) {
  std::error_code ec;
  const std::string canonical = std::filesystem::weakly_canonical(path, ec).string();
  for (const auto& seen : chain) {
    if (seen == canonical) {
      issues.push_back(
          {"extends", fmt::format("config files extend each other in a cycle through {}", path), SourceLocation{path}});
      return ConfigNode::makeMap();
    }
  }
  if (static_cast<int>(chain.size()) >= kMaxExtendsDepth) {
    issues.push_back(
        {"extends", fmt::format("more than {} levels of extends", kMaxExtendsDepth), SourceLocation{path}});
    return ConfigNode::makeMap();
  }
  chain.push_back(canonical);

  ConfigNode doc = loadYamlFile(path, issues);
  if (doc.isNull()) doc = ConfigNode::makeMap(SourceLocation{path, 1, 1});
  if (!doc.isMap()) {
    issues.push_back({"", "a config file must be a mapping of sections (experiment:, policy:, ...)", doc.location});
    return ConfigNode::makeMap();
  }
  const ConfigNode* base_ref = doc.find("extends");
  if (base_ref == nullptr) return doc;

  ConfigNode result = ConfigNode::makeMap(doc.location);
  if (!base_ref->isScalar() || base_ref->scalar.empty()) {
    issues.push_back({"extends", "expected the path of a base config file", base_ref->location});
  } else {
    std::filesystem::path base_path(base_ref->scalar);
    if (base_path.is_relative()) base_path = std::filesystem::path(path).parent_path() / base_path;
    std::error_code exists_ec;
    if (!std::filesystem::is_regular_file(base_path, exists_ec)) {
      const bool is_dir = std::filesystem::is_directory(base_path, exists_ec);
      issues.push_back({"extends",
                        fmt::format("cannot read base config {}: {}", base_path.string(),
                                    is_dir ? "this is a directory, not a YAML file" : "no such file"),
                        base_ref->location});
    } else {
      result = loadWithBases(base_path.string(), chain, issues);
    }
  }
  doc.erase("extends");
  mergeInto(result, doc);
  return result;
}

}  // namespace

std::string SourceLocation::describe() const {
  if (!detail.empty()) return fmt::format("{}: {}", file, detail);
  if (line <= 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

std::string ConfigIssue::describe() const {
  const std::string where = location.describe();
  if (path.empty()) return where.empty() ? message : fmt::format("{} ({})", message, where);
  return where.empty() ? fmt::format("{}: {}", path, message) : fmt::format("{}: {} ({})", path, message, where);
}

ConfigNode ConfigNode::makeMap(SourceLocation where) {
  ConfigNode n;
  n.kind = Kind::kMap;
  n.location = std::move(where);
  return n;
}

ConfigNode ConfigNode::makeScalar(std::string text, SourceLocation where, bool quoted) {
  ConfigNode n;
  n.kind = Kind::kScalar;
  n.scalar = std::move(text);
  n.quoted = quoted;
  n.location = std::move(where);
  return n;
}

const ConfigNode::Entry* ConfigNode::findEntry(const std::string& key) const {
  for (const auto& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const ConfigNode* ConfigNode::find(const std::string& key) const {
  const Entry* e = findEntry(key);
  return e ? &e->value : nullptr;
}

ConfigNode* ConfigNode::find(const std::string& key) {
  for (auto& e : entries) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

ConfigNode& ConfigNode::set(const std::string& key, ConfigNode value, SourceLocation key_location) {
  for (auto& e : entries) {
    if (e.key == key) {
      e.value = std::move(value);
      e.key_location = std::move(key_location);
      return e.value;
    }
  }
  entries.push_back(Entry{key, std::move(key_location), std::move(value)});
  return entries.back().value;
}

bool ConfigNode::erase(const std::string& key) {
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it->key == key) {
      entries.erase(it);
      return true;
    }
  }
  return false;
}

ConfigNode parseYaml(const std::string& text, const std::string& file_name, std::vector<ConfigIssue>& issues) {
  // Bounds the work below before any alias is expanded (NOTE [YAML document limits]).
  if (!checkYamlText(text, file_name, issues)) return {};
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    issues.push_back({"", "YAML syntax error: " + e.msg, markToLocation(e.mark, file_name)});
    return {};
  }
  return convert(root, file_name, "", issues);
}

ConfigNode loadYamlFile(const std::string& path, std::vector<ConfigIssue>& issues) {
  const std::size_t before = issues.size();
  std::string text = readFile(path, issues);
  if (issues.size() > before) return {};
  return parseYaml(text, path, issues);
}

void mergeInto(ConfigNode& base, const ConfigNode& overlay) {
  if (!base.isMap() || !overlay.isMap()) {
    base = overlay;
    return;
  }
  for (const auto& e : overlay.entries) {
    ConfigNode* existing = base.find(e.key);
    if (existing != nullptr && existing->isMap() && e.value.isMap()) {
      mergeInto(*existing, e.value);
    } else {
      base.set(e.key, e.value, e.key_location);
    }
  }
}

void applyOverride(ConfigNode& root, const std::string& text, std::vector<ConfigIssue>& issues) {
  SourceLocation where{"command line", 0, 0, text};
  const auto eq = text.find('=');
  if (eq == std::string::npos) {
    issues.push_back({"", "an override must look like section.key=value", where});
    return;
  }
  const std::string path = text.substr(0, eq);
  const std::string value_text = text.substr(eq + 1);
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& p : parts) {
    if (p.empty()) {
      issues.push_back({path, "an override path must be dot-separated key names", where});
      return;
    }
  }

  std::vector<ConfigIssue> value_issues;
  ConfigNode value = parseYaml(value_text, "command line", value_issues);
  if (!value_issues.empty()) {
    issues.push_back({path, "the value is not valid YAML: " + value_issues.front().message, where});
    return;
  }
  // Every node of an override's value reports the override as its location.
  struct Relabel {
    static void apply(ConfigNode& n, const SourceLocation& w) {
      n.location = w;
      for (auto& e : n.entries) {
        e.key_location = w;
        apply(e.value, w);
      }
      for (auto& item : n.items) apply(item, w);
    }
  };
  Relabel::apply(value, where);

  if (!root.isMap()) root = ConfigNode::makeMap();
  ConfigNode* node = &root;
  std::string walked;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    walked += (walked.empty() ? "" : ".") + parts[i];
    ConfigNode* child = node->find(parts[i]);
    if (child == nullptr) {
      child = &node->set(parts[i], ConfigNode::makeMap(where), where);
    } else if (child->isNull()) {
      *child = ConfigNode::makeMap(where);
    } else if (!child->isMap()) {
      issues.push_back({path, fmt::format("{} is not a section, so it has no key {}", walked, parts[i + 1]), where});
      return;
    }
    node = child;
  }
  ConfigNode* existing = node->find(parts.back());
  if (existing != nullptr && existing->isMap() && value.isMap()) {
    mergeInto(*existing, value);
  } else {
    node->set(parts.back(), std::move(value), where);
  }
}

ConfigNode loadConfigTree(const std::string& path, const std::vector<std::string>& overrides,
                          std::vector<ConfigIssue>& issues) {
  std::vector<std::string> chain;
  ConfigNode root = loadWithBases(path, chain, issues);
  for (const auto& o : overrides) applyOverride(root, o, issues);
  return root;
}

std::string toYamlText(const ConfigNode& node) {
  YAML::Emitter out;
  emit(out, node);
  return std::string(out.c_str()) + "\n";
}

}  // namespace gramrl
