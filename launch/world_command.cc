#include "launch/world_command.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/core/errors.h"
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
  const auto rows = generateRows(args);
  const std::filesystem::path parent = std::filesystem::path(args.out).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    GRAMRL_CHECK(!ec, SystemError, "cannot create directory {} for {}: {}", parent.string(), args.out, ec.message());
  }
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
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw DataError(fmt::format("{}: not valid JSON: {}", where, e.what()));
    }
    GRAMRL_CHECK(row.is_object(), DataError, "{}: expected a JSON object", where);
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
  std::ifstream in(args.in);
  GRAMRL_CHECK(in.good(), DataError, "world score: cannot open {}", args.in);
  return runWorldScore(args, in, std::cout);
}

}  // namespace gramrl::cli
