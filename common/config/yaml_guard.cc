#include "common/config/yaml_guard.h"

#include <algorithm>
#include <sstream>
#include <unordered_map>
#include <utility>

#include <fmt/core.h>
// yaml-cpp 0.7's node/impl.h trips GCC 12's -Wdangling-pointer on code that is correct.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>
#pragma GCC diagnostic pop

namespace gramrl {
namespace {

// Thrown by the event handler to stop the parser the moment a limit is crossed.
struct LimitHit {
  YAML::Mark mark;
  std::string message;
};

SourceLocation locate(const std::string& file, int line0, int column0) {
  SourceLocation loc;
  loc.file = file;
  if (line0 >= 0) {
    loc.line = line0 + 1;
    loc.column = column0 + 1;
  }
  return loc;
}

// Expanded sizes from the event stream (NOTE [YAML document limits]).
class SizeCounter : public YAML::EventHandler {
 public:
  explicit SizeCounter(const YamlLimits& limits) : limits_(limits) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor, 0); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string& value) override {
    leaf(mark, anchor, value.size());
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (++aliases_ > limits_.max_aliases) {
      throw LimitHit{mark, fmt::format("more than {} aliases (*name) in one config document; a config needs few, "
                                       "if any (write the values out, or use extends: for shared settings)",
                                       limits_.max_aliases)};
    }
    const auto it = sizes_.find(anchor);
    if (it == sizes_.end()) {
      throw LimitHit{mark, "an alias refers to a map or sequence that contains it; a config must be a tree"};
    }
    add(mark, it->second.first, it->second.second);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Frame {
    YAML::anchor_t anchor;
    std::size_t nodes;
    std::size_t bytes;
  };

  // Adds to every open collection (through the innermost frame; it propagates on close) and to
  // the document total, which is checked at once so that the parse stops early.
  void add(const YAML::Mark& mark, std::size_t nodes, std::size_t bytes) {
    if (!stack_.empty()) {
      stack_.back().nodes += nodes;
      stack_.back().bytes += bytes;
    }
    total_nodes_ += nodes;
    total_bytes_ += bytes;
    if (total_nodes_ > limits_.max_nodes) {
      throw LimitHit{mark, fmt::format("the document expands to more than {} values (counting each alias as a copy "
                                       "of what it names); a config is far smaller: are aliases nested in aliases?",
                                       limits_.max_nodes)};
    }
    if (total_bytes_ > limits_.max_expanded_bytes) {
      throw LimitHit{mark, fmt::format("the document's text expands to more than {} bytes (counting each alias as a "
                                       "copy of what it names); a config is far smaller",
                                       limits_.max_expanded_bytes)};
    }
  }

  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor, std::size_t bytes) {
    add(mark, 1, bytes);
    if (anchor != YAML::NullAnchor) sizes_[anchor] = {1, bytes};
  }

  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (stack_.size() + 1 > limits_.max_depth) {
      throw LimitHit{mark, fmt::format("maps and sequences nested more than {} levels deep; a config needs a few (is "
                                       "a bracket never closed?)",
                                       limits_.max_depth)};
    }
    add(mark, 1, 0);
    stack_.push_back(Frame{anchor, 1, 0});
  }

  void close() {
    if (stack_.empty()) return;
    const Frame done = stack_.back();
    stack_.pop_back();
    // The frame's own node and contents were already counted in the total; only the parent's
    // running size (needed if the parent is anchored) takes them now.
    if (!stack_.empty()) {
      stack_.back().nodes += done.nodes - 1;  // the parent already has the 1 from open()
      stack_.back().bytes += done.bytes;
    }
    if (done.anchor != YAML::NullAnchor) sizes_[done.anchor] = {done.nodes, done.bytes};
  }

  const YamlLimits& limits_;
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, std::pair<std::size_t, std::size_t>> sizes_;
  std::size_t aliases_ = 0;
  std::size_t total_nodes_ = 0;
  std::size_t total_bytes_ = 0;
};

// The first line (0-based) at or before `last_line` whose indentation holds a tab, or -1.
int tabIndentedLine(const std::string& text, int last_line) {
  int line = 0;
  bool in_indent = true;
  int found = -1;
  for (char c : text) {
    if (line > last_line) break;
    if (c == '\n') {
      ++line;
      in_indent = true;
      continue;
    }
    if (!in_indent) continue;
    if (c == '\t') {
      found = line;
      in_indent = false;
    } else if (c != ' ') {
      in_indent = false;
    }
  }
  return found;
}

// The deepest bracket nesting outside quotes and comments, and where it first passes `limit`
// (a rough scan, used only to explain a syntax error).
bool flowDeeperThan(const std::string& text, std::size_t limit, int& line0, int& column0) {
  std::size_t depth = 0;
  char quote = 0;
  bool comment = false;
  int line = 0, column = 0;
  for (char c : text) {
    if (c == '\n') {
      ++line;
      column = 0;
      comment = false;
      continue;
    }
    if (comment) {
    } else if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      comment = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) {
        line0 = line;
        column0 = column;
        return true;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
    ++column;
  }
  return false;
}

}  // namespace

bool checkYamlText(const std::string& text, const std::string& file_name, std::vector<ConfigIssue>& issues,
                   const YamlLimits& limits) {
  if (const auto nul = text.find('\0'); nul != std::string::npos) {
    const auto line0 =
        static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(nul), '\n'));
    const auto line_start = text.rfind('\n', nul);
    const int column0 = static_cast<int>(nul - (line_start == std::string::npos ? 0 : line_start + 1));
    issues.push_back({"", "a NUL byte (\\0) in the text: a config is UTF-8 text (is this a binary file?)",
                      locate(file_name, line0, column0)});
    return false;
  }
  std::istringstream in(text);
  YAML::Parser parser(in);
  SizeCounter counter(limits);
  try {
    parser.HandleNextDocument(counter);  // yaml-cpp's Load reads only the first document too
  } catch (const LimitHit& hit) {
    issues.push_back({"", hit.message, locate(file_name, hit.mark.line, hit.mark.column)});
    return false;
  } catch (const YAML::DeepRecursion& e) {
    issues.push_back(
        {"", fmt::format("maps and sequences nested more than {} levels deep (a config needs a few)", limits.max_depth),
         locate(file_name, e.mark.line, e.mark.column)});
    return false;
  } catch (const YAML::Exception& e) {
    int line0 = -1, column0 = -1;
    if (flowDeeperThan(text, limits.max_depth, line0, column0)) {
      issues.push_back({"",
                        fmt::format("brackets nested more than {} levels deep; a config needs a few (is a bracket "
                                    "never closed?)",
                                    limits.max_depth),
                        locate(file_name, line0, column0)});
      return false;
    }
    std::string message = "YAML syntax error: " + e.msg;
    const int tab_line = tabIndentedLine(text, e.mark.line >= 0 ? e.mark.line + 1 : 1 << 30);
    if (tab_line >= 0) {
      message +=
          fmt::format(" (line {} is indented with a tab character; YAML indents with spaces only)", tab_line + 1);
    }
    issues.push_back({"", message, locate(file_name, e.mark.line, e.mark.column)});
    return false;
  }
  return true;
}

}  // namespace gramrl
