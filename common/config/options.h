// The mechanism behind every gramrl option struct.
//
// NOTE [Option structs]
// Options are plain structs with documented defaults, named exactly like their YAML keys. Each
// struct lists its fields once, in a visit() template:
//
//   struct PpoOptions {
//     double clip = 0.2;
//     template <class V> void visit(V& v) {
//       v.field(clip, "clip", "PPO ratio clip range.", Range::open(0, 1));
//     }
//   };
//
// Three visitors walk that list: OptionReader fills the struct from a ConfigNode and records
// every error (unknown key, wrong type, out of range) with its key path and location;
// OptionWriter turns the struct back into a ConfigNode (the resolved config); ReferenceWriter
// collects one row per key for docs/config-reference.md. Adding a field is one line, and the
// reader, the printed config and the reference cannot drift apart.
//
// Supported field types: bool, int, int64_t, double, std::string, std::vector<std::string>,
// std::vector<int64_t>, std::vector<double>, and nested option structs via section().
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/config/config_node.h"

namespace gramrl {

// A name that is used as one directory under another (experiment.name under output_dir): not
// empty, not "." or "..", and without '/', '\\' or control characters, so that it can never point
// outside its parent or at the parent itself (issue 15: `name: ..` wrote into output_dir's parent).
inline bool isPlainPathComponent(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  for (const char c : name) {
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// A numeric constraint; open ends exclude the bound.
struct Range {
  double lo = 0;
  double hi = 0;
  bool lo_open = false;
  bool hi_open = false;
  bool has_lo = false;
  bool has_hi = false;

  static Range closed(double lo, double hi) { return {lo, hi, false, false, true, true}; }
  static Range open(double lo, double hi) { return {lo, hi, true, true, true, true}; }
  static Range leftOpen(double lo, double hi) { return {lo, hi, true, false, true, true}; }
  static Range rightOpen(double lo, double hi) { return {lo, hi, false, true, true, true}; }
  static Range atLeast(double lo) { return {lo, 0, false, false, true, false}; }
  static Range greaterThan(double lo) { return {lo, 0, true, false, true, false}; }

  bool contains(double x) const;
  // "in (0, 1)", "in [0, 1]", ">= 1", "> 0".
  std::string describe() const;
};

// A string constraint: one of a fixed set of names.
struct Choices {
  std::vector<std::string> values;
  bool contains(const std::string& s) const;
  std::string describe() const;  // "one of gram, bradley_terry, rule"
};

// Scalar conversions shared by the visitors. Each returns false and fills `why` on failure.
namespace option_detail {
bool parse(const ConfigNode& n, bool& out, std::string& why);
bool parse(const ConfigNode& n, int64_t& out, std::string& why);
bool parse(const ConfigNode& n, double& out, std::string& why);
bool parse(const ConfigNode& n, std::string& out, std::string& why);
bool parse(const ConfigNode& n, int& out, std::string& why);
std::string render(bool v);
std::string render(int64_t v);
std::string render(int v);
std::string render(double v);
std::string render(const std::string& v);
const char* typeName(bool*);
const char* typeName(int64_t*);
const char* typeName(int*);
const char* typeName(double*);
const char* typeName(std::string*);
double asDouble(int64_t v);
double asDouble(int v);
double asDouble(double v);
// Closest known key by edit distance, or "" when nothing is close.
std::string suggestKey(const std::string& unknown, const std::vector<std::string>& known);
std::string joinPath(const std::string& prefix, const std::string& key);
}  // namespace option_detail

// Fills an option struct from a map node. Missing keys keep their defaults.
class OptionReader {
 public:
  OptionReader(const ConfigNode* node, std::string path, std::vector<ConfigIssue>& issues)
      : node_(node), path_(std::move(path)), issues_(issues) {}

  template <typename T>
  void field(T& value, const char* key, const char* doc) {
    readScalar(value, key, nullptr, nullptr);
  }
  template <typename T>
  void field(T& value, const char* key, const char* doc, const Range& range) {
    readScalar(value, key, &range, nullptr);
  }
  void field(std::string& value, const char* key, const char* doc, const Choices& choices) {
    readScalar(value, key, nullptr, &choices);
  }
  template <typename T>
  void field(std::vector<T>& value, const char* key, const char* doc) {
    readList(value, key);
  }
  template <typename S>
  void section(S& s, const char* key, const char* doc) {
    known_.push_back(key);
    const ConfigNode* child = lookup(key);
    if (child == nullptr || child->isNull()) return;
    const std::string path = option_detail::joinPath(path_, key);
    if (!child->isMap()) {
      issues_.push_back({path, "expected a section (a mapping of keys), got " + describeNode(*child), child->location});
      return;
    }
    OptionReader sub(child, path, issues_);
    s.visit(sub);
    sub.reportUnknownKeys();
  }
  // A constraint across fields, checked after they are read: when `ok` is false, reports
  // `message` at `key` (which must be a field of this struct).
  void require(bool ok, const char* key, const std::string& message);

  // Every key present in the node that no field() or section() asked for is an error.
  void reportUnknownKeys();

 private:
  template <typename T>
  void readScalar(T& value, const char* key, const Range* range, const Choices* choices) {
    known_.push_back(key);
    const ConfigNode* n = lookup(key);
    if (n == nullptr) return;
    const std::string path = option_detail::joinPath(path_, key);
    T parsed{};
    std::string why;
    if (!option_detail::parse(*n, parsed, why)) {
      issues_.push_back({path, why, n->location});
      return;
    }
    if constexpr (!std::is_same_v<T, std::string> && !std::is_same_v<T, bool>) {
      if (range != nullptr && !range->contains(option_detail::asDouble(parsed))) {
        issues_.push_back({path,
                           std::string(std::is_same_v<T, double> ? "expected a number " : "expected an integer ") +
                               range->describe() + ", got " + n->scalar,
                           n->location});
        return;
      }
    }
    if constexpr (std::is_same_v<T, std::string>) {
      if (choices != nullptr && !choices->contains(parsed)) {
        issues_.push_back({path, "expected " + choices->describe() + ", got '" + parsed + "'", n->location});
        return;
      }
    }
    value = parsed;
  }

  template <typename T>
  void readList(std::vector<T>& value, const char* key) {
    known_.push_back(key);
    const ConfigNode* n = lookup(key);
    if (n == nullptr) return;
    const std::string path = option_detail::joinPath(path_, key);
    if (!n->isSequence()) {
      issues_.push_back({path,
                         std::string("expected a list of ") + option_detail::typeName(static_cast<T*>(nullptr)) +
                             "s, got " + describeNode(*n),
                         n->location});
      return;
    }
    std::vector<T> parsed;
    bool ok = true;
    for (std::size_t i = 0; i < n->items.size(); ++i) {
      T item{};
      std::string why;
      if (!option_detail::parse(n->items[i], item, why)) {
        issues_.push_back({path + "[" + std::to_string(i) + "]", why, n->items[i].location});
        ok = false;
      }
      parsed.push_back(item);
    }
    if (ok) value = std::move(parsed);
  }

  const ConfigNode* lookup(const char* key) const;
  static std::string describeNode(const ConfigNode& n);

  const ConfigNode* node_;
  std::string path_;
  std::vector<ConfigIssue>& issues_;
  std::vector<std::string> known_;
};

// Turns an option struct into a ConfigNode map (for printing the resolved config).
class OptionWriter {
 public:
  explicit OptionWriter(ConfigNode& out) : out_(out) { out_ = ConfigNode::makeMap(); }

  template <typename T, typename... Constraint>
  void field(const T& value, const char* key, const char* doc, const Constraint&...) {
    out_.set(key, ConfigNode::makeScalar(option_detail::render(value), {}, std::is_same_v<T, std::string>), {});
  }
  template <typename T>
  void field(const std::vector<T>& value, const char* key, const char* doc) {
    ConfigNode seq;
    seq.kind = ConfigNode::Kind::kSequence;
    for (const auto& v : value) {
      seq.items.push_back(ConfigNode::makeScalar(option_detail::render(v), {}, std::is_same_v<T, std::string>));
    }
    out_.set(key, std::move(seq), {});
  }
  template <typename S>
  void section(S& s, const char* key, const char* doc) {
    ConfigNode child;
    OptionWriter sub(child);
    s.visit(sub);
    out_.set(key, std::move(child), {});
  }
  void require(bool, const char*, const std::string&) {}

 private:
  ConfigNode& out_;
};

// One row of the configuration reference.
struct OptionDoc {
  std::string path;  // "learner.ppo.clip"
  std::string type;  // "number", "integer", "bool", "string", "list of strings", "section"
  std::string default_value;
  std::string allowed;  // "in (0, 1)", "one of a, b", or ""
  std::string doc;
};

class ReferenceWriter {
 public:
  ReferenceWriter(std::vector<OptionDoc>& rows, std::string path) : rows_(rows), path_(std::move(path)) {}

  template <typename T>
  void field(const T& value, const char* key, const char* doc) {
    add(key, option_detail::typeName(static_cast<T*>(nullptr)), option_detail::render(value), "", doc);
  }
  template <typename T>
  void field(const T& value, const char* key, const char* doc, const Range& range) {
    add(key, option_detail::typeName(static_cast<T*>(nullptr)), option_detail::render(value), range.describe(), doc);
  }
  void field(const std::string& value, const char* key, const char* doc, const Choices& choices) {
    add(key, "string", option_detail::render(value), choices.describe(), doc);
  }
  template <typename T>
  void field(const std::vector<T>& value, const char* key, const char* doc) {
    std::string rendered = "[";
    for (std::size_t i = 0; i < value.size(); ++i) rendered += (i ? ", " : "") + option_detail::render(value[i]);
    rendered += "]";
    add(key, std::string("list of ") + option_detail::typeName(static_cast<T*>(nullptr)) + "s", rendered, "", doc);
  }
  template <typename S>
  void section(S& s, const char* key, const char* doc) {
    add(key, "section", "", "", doc);
    ReferenceWriter sub(rows_, option_detail::joinPath(path_, key));
    s.visit(sub);
  }
  void require(bool, const char*, const std::string&) {}

 private:
  void add(const char* key, std::string type, std::string def, std::string allowed, const char* doc) {
    rows_.push_back({option_detail::joinPath(path_, key), std::move(type), std::move(def), std::move(allowed), doc});
  }
  std::vector<OptionDoc>& rows_;
  std::string path_;
};

}  // namespace gramrl
