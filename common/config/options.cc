#include "common/config/options.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <fmt/core.h>

namespace gramrl {
namespace {

std::string shown(const ConfigNode& n) {
  if (n.isNull()) return "nothing (null)";
  if (n.isMap()) return "a section";
  if (n.isSequence()) return "a list";
  return n.quoted ? "the string \"" + n.scalar + "\"" : n.scalar;
}

bool isPlainScalar(const ConfigNode& n, const char* expected, std::string& why) {
  if (n.isScalar() && !n.quoted) return true;
  why = fmt::format("expected {}, got {}", expected, shown(n));
  return false;
}

std::size_t editDistance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string formatBound(double v) { return fmt::format("{}", v); }

}  // namespace

bool Range::contains(double x) const {
  if (std::isnan(x)) return false;
  if (has_lo && (lo_open ? !(x > lo) : !(x >= lo))) return false;
  if (has_hi && (hi_open ? !(x < hi) : !(x <= hi))) return false;
  return true;
}

std::string Range::describe() const {
  if (has_lo && has_hi) {
    return fmt::format("in {}{}, {}{}", lo_open ? "(" : "[", formatBound(lo), formatBound(hi), hi_open ? ")" : "]");
  }
  if (has_lo) return fmt::format("{} {}", lo_open ? ">" : ">=", formatBound(lo));
  if (has_hi) return fmt::format("{} {}", hi_open ? "<" : "<=", formatBound(hi));
  return "";
}

bool Choices::contains(const std::string& s) const {
  return std::find(values.begin(), values.end(), s) != values.end();
}

std::string Choices::describe() const {
  std::string out = "one of ";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + values[i];
  return out;
}

namespace option_detail {

bool parse(const ConfigNode& n, bool& out, std::string& why) {
  if (!isPlainScalar(n, "true or false", why)) return false;
  const std::string& s = n.scalar;
  if (s == "true" || s == "True" || s == "TRUE") {
    out = true;
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    out = false;
    return true;
  }
  why = fmt::format("expected true or false, got {}", s);
  return false;
}

bool parse(const ConfigNode& n, int64_t& out, std::string& why) {
  if (!isPlainScalar(n, "an integer", why)) return false;
  const std::string& s = n.scalar;
  std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  bool digits = i < s.size();
  for (std::size_t j = i; j < s.size(); ++j) digits = digits && (s[j] >= '0' && s[j] <= '9');
  if (!digits) {
    why = fmt::format("expected an integer, got {}", s);
    return false;
  }
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE) {
    why = fmt::format("expected an integer, got {} (out of the 64-bit range)", s);
    return false;
  }
  out = v;
  return true;
}

bool parse(const ConfigNode& n, int& out, std::string& why) {
  int64_t wide = 0;
  if (!parse(n, wide, why)) return false;
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
    why = fmt::format("expected an integer, got {} (out of the 32-bit range)", n.scalar);
    return false;
  }
  out = static_cast<int>(wide);
  return true;
}

bool parse(const ConfigNode& n, double& out, std::string& why) {
  if (!isPlainScalar(n, "a number", why)) return false;
  const std::string& s = n.scalar;
  errno = 0;
  char* end = nullptr;
  const double v = s.empty() ? 0.0 : std::strtod(s.c_str(), &end);
  // strtod also accepts "inf", "nan" and hex floats; a config number is decimal and finite.
  const bool decimal = !s.empty() && s.find_first_not_of("0123456789+-.eE") == std::string::npos;
  if (!decimal || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) {
    why = fmt::format("expected a number, got {}", s);
    return false;
  }
  out = v;
  return true;
}

bool parse(const ConfigNode& n, std::string& out, std::string& why) {
  if (!n.isScalar()) {
    why = fmt::format("expected a string, got {}", shown(n));
    return false;
  }
  out = n.scalar;
  return true;
}

std::string render(bool v) { return v ? "true" : "false"; }
std::string render(int64_t v) { return std::to_string(v); }
std::string render(int v) { return std::to_string(v); }
std::string render(double v) {
  // Shortest text that reads back to the same double, always recognisable as a number.
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}
std::string render(const std::string& v) { return v; }

const char* typeName(bool*) { return "bool"; }
const char* typeName(int64_t*) { return "integer"; }
const char* typeName(int*) { return "integer"; }
const char* typeName(double*) { return "number"; }
const char* typeName(std::string*) { return "string"; }
double asDouble(int64_t v) { return static_cast<double>(v); }
double asDouble(int v) { return v; }
double asDouble(double v) { return v; }

std::string suggestKey(const std::string& unknown, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, unknown.size() / 3) + 1;
  for (const auto& k : known) {
    const std::size_t d = editDistance(unknown, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  return best;
}

std::string joinPath(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

}  // namespace option_detail

const ConfigNode* OptionReader::lookup(const char* key) const {
  return (node_ != nullptr && node_->isMap()) ? node_->find(key) : nullptr;
}

std::string OptionReader::describeNode(const ConfigNode& n) { return shown(n); }

void OptionReader::require(bool ok, const char* key, const std::string& message) {
  if (ok) return;
  const ConfigNode* n = lookup(key);
  issues_.push_back({option_detail::joinPath(path_, key), message, n ? n->location : SourceLocation{}});
}

void OptionReader::reportUnknownKeys() {
  if (node_ == nullptr || !node_->isMap()) return;
  for (const auto& e : node_->entries) {
    if (std::find(known_.begin(), known_.end(), e.key) != known_.end()) continue;
    std::string message = "unknown key";
    if (std::string near = option_detail::suggestKey(e.key, known_); !near.empty()) {
      message += fmt::format(" (did you mean {}?)", option_detail::joinPath(path_, near));
    } else {
      std::string list;
      for (std::size_t i = 0; i < known_.size(); ++i) list += (i ? ", " : "") + known_[i];
      message += fmt::format(" (known keys here: {})", list);
    }
    issues_.push_back({option_detail::joinPath(path_, e.key), message, e.key_location});
  }
}

}  // namespace gramrl
