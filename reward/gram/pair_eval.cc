#include "reward/gram/pair_eval.h"

#include <algorithm>
#include <map>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "common/core/errors.h"
#include "common/data/json_line.h"
#include "common/data/line_reader.h"

namespace gramrl::gram {
namespace {

constexpr int64_t kMaxLineBytes = int64_t{64} << 20;

std::optional<bool> containsCorrect(const nlohmann::json& row, const std::string& source) {
  const auto it = row.find("contains_correct");
  if (it == row.end() || it->is_null()) return std::nullopt;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_number_integer() && (it->get<int64_t>() == 0 || it->get<int64_t>() == 1)) return it->get<int64_t>() == 1;
  GRAMRL_CHECK(false, DataError, "{}: expected a boolean (or 0/1), got {} (field 'contains_correct')", source,
               it->dump());
  return std::nullopt;
}

void addTo(std::vector<AccuracyCell>& cells, const std::vector<double>& margins) {
  for (size_t v = 0; v < cells.size(); ++v) {
    ++cells[v].pairs;
    cells[v].correct += pairCredit(margins[v]);
  }
}

}  // namespace

std::vector<EvalPair> readEvalPairs(const std::string& path) {
  data::LineReader reader(path, kMaxLineBytes);
  std::vector<EvalPair> out;
  data::Line line;
  while (reader.next(&line)) {
    const std::string source = fmt::format("{}:{}", path, line.number);
    GRAMRL_CHECK(!line.too_long, DataError, "{}: the line is longer than {} bytes", source, kMaxLineBytes);
    if (line.text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json row = data::parseJsonLine(line.text, source);  // strict: repeated keys are errors
    EvalPair p;
    p.pair = data::parsePreferencePair(row, source);
    p.contains_correct = containsCorrect(row, source);
    p.file = path;
    out.push_back(std::move(p));
  }
  GRAMRL_CHECK(!out.empty(), DataError, "{}: no preference pairs in the file", path);
  return out;
}

std::vector<ScoredPair> scorePairs(const std::vector<EvalPair>& pairs, PairScorer& scorer, int64_t chunk_pairs,
                                   const std::function<void(int64_t)>& on_progress) {
  GRAMRL_ASSERT(chunk_pairs > 0);
  const size_t views = scorer.views().size();
  std::vector<ScoredPair> out;
  out.reserve(pairs.size());
  for (size_t begin = 0; begin < pairs.size(); begin += static_cast<size_t>(chunk_pairs)) {
    const size_t end = std::min(pairs.size(), begin + static_cast<size_t>(chunk_pairs));
    std::vector<const EvalPair*> chunk;
    for (size_t k = begin; k < end; ++k) chunk.push_back(&pairs[k]);
    std::vector<std::vector<double>> margins = scorer.margins(chunk);
    GRAMRL_ASSERT(margins.size() == chunk.size(), "scorer returned {} results for {} pairs", margins.size(),
                  chunk.size());
    for (size_t k = 0; k < chunk.size(); ++k) {
      GRAMRL_ASSERT(margins[k].size() == views, "scorer returned {} margins for {} views", margins[k].size(), views);
      out.push_back({chunk[k]->file, chunk[k]->pair.category, chunk[k]->contains_correct, std::move(margins[k])});
    }
    if (on_progress) on_progress(static_cast<int64_t>(end));
  }
  return out;
}

double pairCredit(double margin) {
  if (margin > 0) return 1.0;
  if (margin == 0) return 0.5;
  return 0.0;
}

AccuracyReport tallyAccuracy(const std::vector<std::string>& views, const std::vector<ScoredPair>& pairs) {
  const std::vector<AccuracyCell> empty(views.size());
  std::vector<AccuracyCell> all = empty;
  std::map<std::string, std::vector<AccuracyCell>> files, categories, correct;
  for (const auto& p : pairs) {
    GRAMRL_ASSERT(p.margins.size() == views.size(), "a pair has {} margins for {} views", p.margins.size(),
                  views.size());
    addTo(all, p.margins);
    addTo(files.try_emplace(p.file, empty).first->second, p.margins);
    if (!p.category.empty()) addTo(categories.try_emplace(p.category, empty).first->second, p.margins);
    if (p.contains_correct) {
      addTo(correct.try_emplace(*p.contains_correct ? "yes" : "no", empty).first->second, p.margins);
    }
  }
  AccuracyReport report;
  report.views = views;
  report.groups.push_back({"all", all});
  if (files.size() > 1) {
    for (auto& [name, cells] : files) report.groups.push_back({"file: " + name, cells});
  }
  for (auto& [name, cells] : categories) report.groups.push_back({"category: " + name, cells});
  // "yes" before "no": the pairs where the gold answer is present come first.
  for (const char* key : {"yes", "no"}) {
    if (auto it = correct.find(key); it != correct.end()) {
      report.groups.push_back({std::string("contains_correct: ") + key, it->second});
    }
  }
  return report;
}

std::string markdownTable(const AccuracyReport& report) {
  std::string s = "| group | pairs |";
  for (const auto& v : report.views) s += " " + v + " |";
  s += "\n| --- | ---: |";
  for (size_t v = 0; v < report.views.size(); ++v) s += " ---: |";
  s += "\n";
  for (const auto& g : report.groups) {
    const int64_t n = g.cells.empty() ? 0 : g.cells[0].pairs;
    s += fmt::format("| {} | {} |", g.name, n);
    for (const auto& c : g.cells) s += fmt::format(" {:.4f} |", c.accuracy());
    s += "\n";
  }
  return s;
}

nlohmann::json reportJson(const AccuracyReport& report) {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : report.groups) {
    nlohmann::json accuracy = nlohmann::json::object(), correct = nlohmann::json::object();
    for (size_t v = 0; v < report.views.size(); ++v) {
      accuracy[report.views[v]] = g.cells[v].accuracy();
      correct[report.views[v]] = g.cells[v].correct;
    }
    groups.push_back({{"name", g.name},
                      {"pairs", g.cells.empty() ? 0 : g.cells[0].pairs},
                      {"accuracy", accuracy},
                      {"correct", correct}});
  }
  return {{"views", report.views}, {"groups", groups}};
}

}  // namespace gramrl::gram
