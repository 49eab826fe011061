#include "launch/world_command.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/core/errors.h"
#include "common/world/world.h"
#include "tests/support/temp_dir.h"

namespace gramrl::cli {
namespace {

std::vector<nlohmann::json> readJsonl(std::istream& in) {
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

TEST(WorldCommand, GenerateWritesTheFileAtomically) {
  gramrl::testing::TempDir dir("world");
  WorldGenerateArgs args;
  args.kind = "labeled";
  args.n = 200;
  args.seed = 4;
  args.exclude_families = {"rev", "inc"};
  args.out = dir.file("labeled.jsonl");
  EXPECT_EQ(runWorldGenerate(args), 0);
  std::ifstream in(args.out);
  const auto rows = readJsonl(in);
  ASSERT_EQ(rows.size(), 200u);
  for (const auto& row : rows) {
    EXPECT_NE(row["family"], "rev");
    EXPECT_NE(row["family"], "inc");
  }
  world::WorldOptions options;
  options.families = {"srt", "ddp", "add", "rot"};
  options.seed = 4;
  EXPECT_EQ(rows, world::generate("labeled", 200, options));
  // Only the final file is left: the temporary one was renamed over it.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "labeled.jsonl");
  }
  EXPECT_EQ(files, 1);
}

TEST(WorldCommand, GenerateToAStream) {
  WorldGenerateArgs args;
  args.kind = "prompts";
  args.n = 12;
  args.families = {"inc", "srt"};
  std::stringstream out;
  EXPECT_EQ(runWorldGenerate(args, out), 0);
  const auto rows = readJsonl(out);
  ASSERT_EQ(rows.size(), 12u);
  EXPECT_EQ(rows[0]["family"], "srt");
  EXPECT_EQ(rows[1]["family"], "inc");
}

TEST(WorldCommand, GenerateRejectsBadArguments) {
  std::stringstream out;
  WorldGenerateArgs args;
  args.kind = "labeled";
  args.exclude_families = {"rev", "bogus"};
  EXPECT_THROW(runWorldGenerate(args, out), ConfigError);
  args.families = {"rev"};
  args.exclude_families = {"rev"};
  EXPECT_THROW(runWorldGenerate(args, out), ConfigError);
  args = WorldGenerateArgs{};
  args.kind = "nope";
  EXPECT_THROW(runWorldGenerate(args, out), ConfigError);
  EXPECT_TRUE(out.str().empty());
}

TEST(WorldCommand, ScoreGradesResponsesAndPairs) {
  std::stringstream in;
  in << R"({"prompt": "srt:9371", "response": "1397"})"
     << "\n\n"
     << R"({"prompt": "add:347+85", "chosen": "432", "rejected": "433"})"
     << "\n"
     << R"({"prompt": "inc:1239", "response_a": "2340", "response_b": "2341"})"
     << "\n";
  std::stringstream out;
  EXPECT_EQ(runWorldScore(WorldScoreArgs{"x.jsonl"}, in, out), 0);
  const auto rows = readJsonl(out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (nlohmann::json{{"line", 1}, {"family", "srt"}, {"score", 0.5}}));
  EXPECT_EQ(rows[1]["line"], 3);
  EXPECT_DOUBLE_EQ(rows[1]["chosen_score"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(rows[1]["rejected_score"].get<double>(), 1.0 - 1.0 / 3.0);
  EXPECT_EQ(rows[1]["agrees"], true);
  EXPECT_DOUBLE_EQ(rows[2]["score_a"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(rows[2]["score_b"].get<double>(), 0.75);
}

TEST(WorldCommand, ScoreNamesTheBadLine) {
  for (const char* bad : {R"({"prompt": "sort:12", "response": "12"})", R"({"prompt": "srt:21"})", "not json",
                          R"({"prompt": "srt:21", "chosen": "12"})"}) {
    std::stringstream in;
    in << R"({"prompt": "srt:21", "response": "12"})"
       << "\n"
       << bad << "\n";
    std::stringstream out;
    try {
      runWorldScore(WorldScoreArgs{"x.jsonl"}, in, out);
      FAIL() << "expected DataError for " << bad;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("x.jsonl:2"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(runWorldScore(WorldScoreArgs{"/nonexistent/world.jsonl"}), DataError);
}

TEST(WorldCommand, ScoreAgreesWithGeneratedScores) {
  gramrl::testing::TempDir dir("world");
  WorldGenerateArgs args;
  args.kind = "test";
  args.n = 50;
  args.out = dir.file("test.jsonl");
  runWorldGenerate(args);
  std::ifstream generated(args.out);
  const auto rows = readJsonl(generated);
  std::ifstream in(args.out);
  std::stringstream out;
  runWorldScore(WorldScoreArgs{args.out}, in, out);
  const auto scores = readJsonl(out);
  ASSERT_EQ(scores.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(scores[i]["chosen_score"], rows[i]["chosen_score"]);
    EXPECT_EQ(scores[i]["rejected_score"], rows[i]["rejected_score"]);
    EXPECT_EQ(scores[i]["agrees"], true);
  }
}

}  // namespace
}  // namespace gramrl::cli
