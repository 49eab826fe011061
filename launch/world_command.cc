#include "launch/world_command.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/core/errors.h"
#include "common/data/json_line.h"
#include "common/world/world.h"

namespace gramrl::cli {
namespace {

// The response fields a row of any world kind may carry.
constexpr const char* kResponseFields[] = {"response", "chosen", "rejected", "response_a", "response_b"};

struct GenerateSummary {
  std::map<std::string, int64_t> per_family;
  int64_t responses = 0;
  int64_t correct = 0;
  int64_t flipped = 0;
  int64_t contains_correct = 0;
};

void count(GenerateSummary& summary, const nlohmann::json& row) {
  const std::string family = row.at("family").get<std::string>();
  ++summary.per_family[family];
  const std::string answer = world::parseTask(row.at("prompt").get<std::string>()).answer;
  for (const char* field : kResponseFields) {
    if (!row.contains(field)) continue;
    ++summary.responses;
    if (row[field].get<std::string>() == answer) ++summary.correct;
  }
  if (row.value("flipped", false)) ++summary.flipped;
  if (row.value("contains_correct", false)) ++summary.contains_correct;
}

std::string describe(const WorldGenerateArgs& args, int64_t rows, const GenerateSummary& summary) {
  std::string text = fmt::format("world generate {}: {} rows (", args.kind, rows);
  bool first = true;
  for (const auto& name : world::familyNames()) {
    const auto it = summary.per_family.find(name);
    if (it == summary.per_family.end()) continue;
    text += fmt::format("{}{} {}", first ? "" : ", ", name, it->second);
    first = false;
  }
  text += ")";
  if (summary.responses > 0) {
    text += fmt::format(", {:.3f} of {} responses correct", static_cast<double>(summary.correct) / summary.responses,
                        summary.responses);
  }
  if (args.kind == "labeled") text += fmt::format(", {} labels flipped", summary.flipped);
  if (args.kind == "test") text += fmt::format(", {} pairs contain the correct answer", summary.contains_correct);
  text += fmt::format(", seed {} -> {}", args.seed, args.out.empty() || args.out == "-" ? "stdout" : args.out);
  return text;
}

std::vector<nlohmann::json> generateRows(const WorldGenerateArgs& args) {
  std::vector<std::string> families = args.families.empty() ? world::familyNames() : args.families;
  for (const auto& name : args.exclude_families) {
    GRAMRL_CHECK(world::isFamily(name), ConfigError,
                 "world generate: --exclude-families names an unknown family \"{}\" (expected some of srt, rev, ddp, "
                 "add, inc, rot)",
                 name);
    families.erase(std::remove(families.begin(), families.end(), name), families.end());
  }
  GRAMRL_CHECK(!families.empty(), ConfigError, "world generate: no family left after --exclude-families");
  world::WorldOptions options;
  options.families = families;
  options.correct_prob = args.correct_prob;
  options.label_noise = args.label_noise;
  options.seed = args.seed;
  return world::generate(args.kind, args.n, options);
}

// Emits the rows through `write` and the summary to stderr.
template <typename Write>
void emit(const WorldGenerateArgs& args, const std::vector<nlohmann::json>& rows, Write&& write) {
  GenerateSummary summary;
  for (const auto& row : rows) {
    write(row.dump() + "\n");
    count(summary, row);
  }
  fmt::print(stderr, "{}\n", describe(args, static_cast<int64_t>(rows.size()), summary));
}

std::string stringField(const nlohmann::json& row, const char* field, const std::string& where) {
  GRAMRL_CHECK(row.contains(field) && row[field].is_string(), DataError, "{}: expected a string field \"{}\"", where,
               field);
  return row[field].get<std::string>();
}

}  // namespace

int runWorldGenerate(const WorldGenerateArgs& args, std::ostream& out) {
  const auto rows = generateRows(args);
  emit(args, rows, [&](const std::string& line) { out << line; });
  out.flush();
  return 0;
}

int runWorldGenerate(const WorldGenerateArgs& args) {
  if (args.out.empty() || args.out == "-") return runWorldGenerate(args, std::cout);
  data::checkOutputFile(args.out, "world generate -o");  // before the work, not at the rename
  const auto rows = generateRows(args);
  checkpoint::AtomicFileWriter writer(args.out);
  emit(args, rows, [&](const std::string& line) { writer.write(line); });
  writer.commit();
  return 0;
}

int runWorldScore(const WorldScoreArgs& args, std::istream& in, std::ostream& out) {
  const std::string source = args.in.empty() || args.in == "-" ? "<stdin>" : args.in;
  int64_t rows = 0;
  int64_t responses = 0;
  int64_t exact = 0;
  int64_t pairs = 0;
  int64_t agreeing = 0;
  double total = 0;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", source, number);
    const nlohmann::json row = data::parseJsonLine(line, where);
    GRAMRL_CHECK(row.is_object(), DataError, "{}: expected a JSON object", where);
    GRAMRL_CHECK(!(row.contains("response") && (row.contains("chosen") || row.contains("rejected"))), DataError,
                 "{}: the row has both \"response\" and \"chosen\"/\"rejected\"; keep one shape", where);
    const std::string prompt = stringField(row, "prompt", where);
    world::Task task;
    try {
      task = world::parseTask(prompt);
    } catch (const DataError& e) {
      throw DataError(fmt::format("{}: {}", where, e.what()));
    }
    auto score = [&](const char* field) {
      const double s = world::goldScore(task.prompt, stringField(row, field, where));
      ++responses;
      total += s;
      if (s == 1.0) ++exact;
      return s;
    };
    nlohmann::json result{{"line", number}, {"family", task.family}};
    if (row.contains("response")) {
      result["score"] = score("response");
    } else if (row.contains("chosen") || row.contains("rejected")) {
      const double chosen = score("chosen");
      const double rejected = score("rejected");
      result["chosen_score"] = chosen;
      result["rejected_score"] = rejected;
      result["agrees"] = chosen >= rejected;
      ++pairs;
      if (chosen >= rejected) ++agreeing;
    } else {
      GRAMRL_CHECK(row.contains("response_a"), DataError,
                   "{}: expected \"response\", \"chosen\" and \"rejected\", or \"response_a\" and \"response_b\"",
                   where);
      result["score_a"] = score("response_a");
      result["score_b"] = score("response_b");
    }
    out << result.dump() << "\n";
    ++rows;
  }
  out.flush();
  std::string summary = fmt::format("world score {}: {} rows, {} responses", source, rows, responses);
  if (responses > 0) {
    summary += fmt::format(", mean gold score {:.4f}, {:.3f} exact", total / responses,
                           static_cast<double>(exact) / responses);
  }
  if (pairs > 0)
    summary += fmt::format(", chosen >= rejected in {:.3f} of pairs", static_cast<double>(agreeing) / pairs);
  fmt::print(stderr, "{}\n", summary);
  return 0;
}

int runWorldScore(const WorldScoreArgs& args) {
  if (args.in.empty() || args.in == "-") return runWorldScore(args, std::cin, std::cout);
  data::checkInputFile(args.in, "world score");  // a directory opens, and reads as 0 rows
  std::ifstream in(args.in);
  GRAMRL_CHECK(in.good(), DataError, "world score: cannot open {}", args.in);
  return runWorldScore(args, in, std::cout);
}

}  // namespace gramrl::cli

namespace gramrl::cli {
namespace {

struct SampleSet {
  std::string prompt;
  std::string where;                       // the first row's file:line
  std::map<int64_t, std::string> samples;  // sample_index -> text
};

int64_t intField(const nlohmann::json& row, const char* field, const std::string& where) {
  GRAMRL_CHECK(row.contains(field) && row[field].is_number_integer() && row[field].get<int64_t>() >= 0, DataError,
               "{}: expected a non-negative integer field \"{}\"", where, field);
  return row[field].get<int64_t>();
}

// Writes `text` to `path` atomically, or to `fallback` for "-" or "".
void writeText(const std::string& path, const std::string& text, std::ostream& fallback) {
  if (path.empty() || path == "-") {
    fallback << text << std::flush;
    return;
  }
  checkpoint::AtomicFileWriter writer(path);
  writer.write(text);
  writer.commit();
}

}  // namespace

int runWorldCandidates(const WorldCandidatesArgs& args, std::istream& in, std::ostream& out, std::ostream* pairs_out) {
  GRAMRL_CHECK(args.pairs_per_prompt >= 1, ConfigError,
               "world candidates: --pairs-per-prompt must be at least 1, got {}", args.pairs_per_prompt);
  const std::string source = args.in.empty() || args.in == "-" ? "<stdin>" : args.in;
  std::map<int64_t, SampleSet> sets;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", source, number);
    const nlohmann::json row = data::parseJsonLine(line, where);
    GRAMRL_CHECK(row.is_object(), DataError, "{}: expected a JSON object (a row of gramrl generate --jsonl)", where);
    const int64_t prompt_index = intField(row, "prompt_index", where);
    const int64_t sample_index = intField(row, "sample_index", where);
    const std::string prompt = stringField(row, "prompt", where);
    SampleSet& set = sets[prompt_index];
    if (set.where.empty()) {
      set.prompt = prompt;
      set.where = where;
    }
    GRAMRL_CHECK(set.prompt == prompt, DataError, "{}: prompt_index {} has prompt \"{}\" here but \"{}\" at {}", where,
                 prompt_index, prompt, set.prompt, set.where);
    GRAMRL_CHECK(set.samples.emplace(sample_index, stringField(row, "text", where)).second, DataError,
                 "{}: prompt_index {} has sample_index {} twice", where, prompt_index, sample_index);
  }
  GRAMRL_CHECK(!sets.empty(), DataError, "world candidates: {} holds no samples", source);

  std::vector<nlohmann::json> candidate_rows, pair_rows;
  size_t samples_per_prompt = 0;
  int64_t candidates = 0, exact = 0, no_pair = 0;
  double total = 0;
  for (const auto& [prompt_index, set] : sets) {
    if (samples_per_prompt == 0) samples_per_prompt = set.samples.size();
    GRAMRL_CHECK(set.samples.size() == samples_per_prompt, DataError,
                 "{}: prompt_index {} has {} samples, the first prompt {}; every prompt needs the same number",
                 set.where, prompt_index, set.samples.size(), samples_per_prompt);
    GRAMRL_CHECK(set.samples.rbegin()->first == static_cast<int64_t>(set.samples.size()) - 1, DataError,
                 "{}: prompt_index {} has sample indices that are not 0..{}", set.where, prompt_index,
                 set.samples.size() - 1);
    world::Task task;
    try {
      task = world::parseTask(set.prompt);
    } catch (const DataError& e) {
      throw DataError(fmt::format("{}: {}", set.where, e.what()));
    }
    std::vector<std::string> texts;
    std::vector<double> gold;
    for (const auto& [index, text] : set.samples) {
      texts.push_back(text);
      gold.push_back(world::goldScore(task.prompt, text));
      total += gold.back();
      if (gold.back() == 1.0) ++exact;
      ++candidates;
    }
    candidate_rows.push_back({{"prompt", set.prompt}, {"family", task.family}, {"candidates", texts}, {"gold", gold}});
    int64_t made = 0;
    for (size_t i = 0; i + 1 < texts.size() && made < args.pairs_per_prompt; i += 2) {
      if (gold[i] == gold[i + 1]) continue;
      const size_t w = gold[i] > gold[i + 1] ? i : i + 1;
      const size_t l = w == i ? i + 1 : i;
      pair_rows.push_back({{"prompt", set.prompt},
                           {"chosen", texts[w]},
                           {"rejected", texts[l]},
                           {"family", task.family},
                           {"chosen_score", gold[w]},
                           {"rejected_score", gold[l]},
                           {"contains_correct", gold[w] == 1.0}});
      ++made;
    }
    if (made == 0) ++no_pair;
  }
  for (const auto& r : candidate_rows) out << r.dump() << "\n";
  out.flush();
  if (pairs_out != nullptr) {
    for (const auto& r : pair_rows) *pairs_out << r.dump() << "\n";
    pairs_out->flush();
  }
  fmt::print(stderr,
             "world candidates {}: {} prompts x {} samples, mean gold score {:.4f}, {:.3f} exact; {} policy-sampled "
             "pairs ({} prompts gave none: all their paired samples tied)\n",
             source, candidate_rows.size(), samples_per_prompt, total / static_cast<double>(candidates),
             static_cast<double>(exact) / static_cast<double>(candidates), pair_rows.size(), no_pair);
  return 0;
}

int runWorldCandidates(const WorldCandidatesArgs& args) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (!args.in.empty() && args.in != "-") {
    data::checkInputFile(args.in, "world candidates");
    file.open(args.in);
    GRAMRL_CHECK(file.good(), DataError, "world candidates: cannot open {}", args.in);
    in = &file;
  }
  if (!args.out.empty() && args.out != "-") data::checkOutputFile(args.out, "world candidates -o");
  if (!args.pairs_out.empty() && args.pairs_out != "-") data::checkOutputFile(args.pairs_out, "--pairs-out");
  std::ostringstream candidates, pairs;
  runWorldCandidates(args, *in, candidates, args.pairs_out.empty() ? nullptr : &pairs);
  writeText(args.out, candidates.str(), std::cout);
  if (!args.pairs_out.empty()) writeText(args.pairs_out, pairs.str(), std::cout);
  return 0;
}

}  // namespace gramrl::cli
