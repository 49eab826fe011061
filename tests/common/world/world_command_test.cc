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

// Issue 15: two shapes in one row and a repeated key are errors naming file:line, not a silent
// choice; a directory where a file is expected says so.
TEST(WorldCommand, ScoreRefusesAmbiguousRowsAndDirectories) {
  for (const char* bad : {R"({"prompt": "rev:123", "response": "321", "rejected": "123"})",
                          R"({"prompt": "rev:123", "response": "321", "response": "123"})",
                          R"({"prompt": "rev:123", "prompt": "rev:456", "response": "654"})"}) {
    std::stringstream in;
    in << "\n"
       << R"({"prompt": "rev:123", "response": "321"})"
       << "\n"
       << bad << "\n";
    std::stringstream out;
    try {
      runWorldScore(WorldScoreArgs{"rows.jsonl"}, in, out);
      FAIL() << "expected DataError for " << bad;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("rows.jsonl:3: "), std::string::npos) << e.what();
    }
  }
  gramrl::testing::TempDir dir("world");
  try {
    runWorldScore(WorldScoreArgs{dir.path()});
    FAIL() << "a directory read as 0 rows";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
}

// Issue 15: the output path is checked before the work, so no summary is printed for a file that
// then cannot be written.
TEST(WorldCommand, GenerateChecksTheOutputPathFirst) {
  gramrl::testing::TempDir dir("world");
  std::filesystem::create_directories(dir.file("taken"));
  WorldGenerateArgs args;
  args.kind = "sft";
  args.n = 50;
  for (const std::string& out : {dir.file("taken"), dir.file("taken/"), dir.file("file.jsonl/below.jsonl")}) {
    if (out.find("file.jsonl") != std::string::npos) std::ofstream(dir.file("file.jsonl")) << "x\n";
    args.out = out;
    ::testing::internal::CaptureStderr();
    try {
      runWorldGenerate(args);
      FAIL() << "expected DataError for " << out;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("world generate -o " + out), std::string::npos) << e.what();
    }
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "") << "the summary came before the failure";
  }
  args.out = dir.file("new/sub/dir/sft.jsonl");  // missing directories are still created
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(runWorldGenerate(args), 0);
  ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(std::filesystem::is_regular_file(args.out));
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

// --- gramrl world candidates ---

// One row of `gramrl generate --jsonl --samples N` (launch/generate_command.cc): the tokens,
// logprobs and finish reason are carried along and ignored by world candidates.
std::string generatedRow(int64_t prompt_index, int64_t sample_index, const std::string& prompt,
                         const std::string& text) {
  const nlohmann::json row{
      {"prompt_index", prompt_index}, {"sample_index", sample_index},      {"prompt", prompt},        {"text", text},
      {"tokens", {49, 51, 10}},       {"logprobs", {-0.25, -1.5, -0.125}}, {"finish_reason", "stop"},
  };
  return row.dump();
}

// Three prompts x four samples, written out of order (the engine emits completions as they
// finish), with a blank line. Gold scores by hand from gold.h, 1 - levenshtein / max length:
//   srt:9371 -> 1379:  "1379" 1 | "1397" 1 - 2/4 = 0.5 | "137" 1 - 1/4 = 0.75 | "13790" 1 - 1/5 = 0.8
//   add:347+85 -> 432: "433" 1 - 1/3 | "433" 1 - 1/3 | "9" 1 - 3/3 = 0 | "432\n" 1 (whitespace trimmed)
//   inc:1239 -> 2340:  "2341" 0.75 | "2341" 0.75 | "2340" 1 | "2340" 1
// Disjoint pairs (0, 1), (2, 3): srt gives s0 > s1 and s3 > s2; add ties on (0, 1) and gives
// s3 > s2; inc ties on both (its (1, 2) differs, but is not a disjoint pair).
std::string candidateInput() {
  std::string text;
  bool first = true;
  for (const std::string& row : {
           generatedRow(2, 3, "inc:1239", "2340"),
           generatedRow(0, 1, "srt:9371", "1397"),
           generatedRow(1, 0, "add:347+85", "433"),
           generatedRow(0, 3, "srt:9371", "13790"),
           generatedRow(2, 0, "inc:1239", "2341"),
           generatedRow(1, 3, "add:347+85", "432\n"),
           generatedRow(0, 0, "srt:9371", "1379"),
           generatedRow(2, 2, "inc:1239", "2340"),
           generatedRow(1, 2, "add:347+85", "9"),
           generatedRow(0, 2, "srt:9371", "137"),
           generatedRow(2, 1, "inc:1239", "2341"),
           generatedRow(1, 1, "add:347+85", "433"),
       }) {
    text += row + (first ? "\n\n" : "\n");  // and a blank line after the first row
    first = false;
  }
  return text;
}

std::vector<nlohmann::json> runCandidates(int64_t pairs_per_prompt, std::vector<nlohmann::json>* pair_rows) {
  std::stringstream in(candidateInput());
  std::stringstream out, pairs;
  WorldCandidatesArgs args;
  args.in = "samples.jsonl";
  args.pairs_per_prompt = pairs_per_prompt;
  EXPECT_EQ(runWorldCandidates(args, in, out, pair_rows != nullptr ? &pairs : nullptr), 0);
  if (pair_rows != nullptr) *pair_rows = readJsonl(pairs);
  return readJsonl(out);
}

TEST(WorldCandidates, GradesEachSampleInPromptAndSampleOrder) {
  ::testing::internal::CaptureStderr();
  const auto rows = runCandidates(1, nullptr);
  const std::string summary = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(rows.size(), 3u);
  const std::vector<std::string> prompts{"srt:9371", "add:347+85", "inc:1239"};
  const std::vector<std::string> families{"srt", "add", "inc"};
  const std::vector<std::vector<std::string>> texts{
      {"1379", "1397", "137", "13790"}, {"433", "433", "9", "432\n"}, {"2341", "2341", "2340", "2340"}};
  const std::vector<std::vector<double>> gold{
      {1.0, 0.5, 0.75, 0.8}, {2.0 / 3.0, 2.0 / 3.0, 0.0, 1.0}, {0.75, 0.75, 1.0, 1.0}};
  for (size_t p = 0; p < rows.size(); ++p) {
    SCOPED_TRACE(prompts[p]);
    EXPECT_EQ(rows[p].size(), 4u) << rows[p].dump();  // exactly prompt, family, candidates, gold
    EXPECT_EQ(rows[p]["prompt"], prompts[p]);
    EXPECT_EQ(rows[p]["family"], families[p]);
    EXPECT_EQ(rows[p]["candidates"], nlohmann::json(texts[p]));
    ASSERT_EQ(rows[p]["gold"].size(), 4u);
    for (size_t s = 0; s < 4; ++s) {
      const double got = rows[p]["gold"][s].get<double>();
      EXPECT_DOUBLE_EQ(got, gold[p][s]) << "sample " << s;
      EXPECT_DOUBLE_EQ(got, world::goldScore(prompts[p], texts[p][s])) << "sample " << s;  // the judge itself
    }
  }
  // 12 samples, mean gold (3.05 + 7/3 + 3.5) / 12 = 0.74028, 4 exact; 2 pairs at one per prompt, inc gave none.
  EXPECT_NE(summary.find("samples.jsonl: 3 prompts x 4 samples, mean gold score 0.7403, 0.333 exact; 2 policy-sampled "
                         "pairs (1 prompts gave none"),
            std::string::npos)
      << summary;
}

TEST(WorldCandidates, PairsDisjointSamplesWithDifferingGold) {
  std::vector<nlohmann::json> pairs;
  runCandidates(1, &pairs);
  // One pair per prompt: srt's first (0, 1); add's (2, 3), since (0, 1) tie; none for inc.
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0], (nlohmann::json{{"prompt", "srt:9371"},
                                      {"chosen", "1379"},
                                      {"rejected", "1397"},
                                      {"family", "srt"},
                                      {"chosen_score", 1.0},
                                      {"rejected_score", 0.5},
                                      {"contains_correct", true}}));
  EXPECT_EQ(pairs[1]["prompt"], "add:347+85");
  EXPECT_EQ(pairs[1]["chosen"], "432\n");  // the sample's text as generated, graded trimmed
  EXPECT_EQ(pairs[1]["rejected"], "9");
  EXPECT_DOUBLE_EQ(pairs[1]["chosen_score"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(pairs[1]["rejected_score"].get<double>(), 0.0);
  EXPECT_EQ(pairs[1]["contains_correct"], true);

  // Two per prompt: srt also gives (2, 3) with the second sample chosen, and without the correct
  // answer; add has no second differing pair; inc still none.
  runCandidates(2, &pairs);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[0]["chosen"], "1379");
  EXPECT_EQ(pairs[1], (nlohmann::json{{"prompt", "srt:9371"},
                                      {"chosen", "13790"},
                                      {"rejected", "137"},
                                      {"family", "srt"},
                                      {"chosen_score", 0.8},
                                      {"rejected_score", 0.75},
                                      {"contains_correct", false}}));
  EXPECT_EQ(pairs[2]["prompt"], "add:347+85");
  EXPECT_EQ(pairs[2]["chosen"], "432\n");
  for (const auto& pair : pairs) {
    EXPECT_GT(pair["chosen_score"].get<double>(), pair["rejected_score"].get<double>());
    EXPECT_DOUBLE_EQ(pair["chosen_score"].get<double>(),
                     world::goldScore(pair["prompt"].get<std::string>(), pair["chosen"].get<std::string>()));
    EXPECT_DOUBLE_EQ(pair["rejected_score"].get<double>(),
                     world::goldScore(pair["prompt"].get<std::string>(), pair["rejected"].get<std::string>()));
  }
  // A cap above the number of disjoint pairs changes nothing.
  std::vector<nlohmann::json> more;
  runCandidates(5, &more);
  EXPECT_EQ(more, pairs);
}

TEST(WorldCandidates, WritesFiles) {
  gramrl::testing::TempDir dir("world");
  WorldCandidatesArgs args;
  args.in = dir.file("samples.jsonl");
  args.out = dir.file("candidates.jsonl");
  args.pairs_out = dir.file("pairs.jsonl");
  std::ofstream(args.in) << candidateInput();
  EXPECT_EQ(runWorldCandidates(args), 0);
  std::vector<nlohmann::json> stream_pairs;
  const auto stream_rows = runCandidates(1, &stream_pairs);
  std::ifstream candidates(args.out), pairs(args.pairs_out);
  EXPECT_EQ(readJsonl(candidates), stream_rows);
  EXPECT_EQ(readJsonl(pairs), stream_pairs);
  args.in = dir.file("missing.jsonl");
  EXPECT_THROW(runWorldCandidates(args), DataError);
}

TEST(WorldCandidates, NamesTheBadInput) {
  const std::string srt0 = generatedRow(0, 0, "srt:21", "12");
  const std::string srt1 = generatedRow(0, 1, "srt:21", "21");
  struct Case {
    std::string input;
    std::string expected;  // a part of the message
  };
  for (const Case& c : std::vector<Case>{
           // Not JSON: named by its line, counting the blank one.
           {srt0 + "\n\nnot json\n", "x.jsonl:3: invalid JSON at column 2"},
           {srt0 + "\n[1, 2]\n", "x.jsonl:2: expected a JSON object"},
           {srt0 + "\n" + R"({"prompt_index": 0, "sample_index": 1, "prompt": "srt:21"})" + "\n",
            "x.jsonl:2: expected a string field \"text\""},
           {srt0 + "\n" + R"({"prompt_index": -1, "sample_index": 0, "prompt": "srt:21", "text": "12"})" + "\n",
            "x.jsonl:2: expected a non-negative integer field \"prompt_index\""},
           // The same sample twice.
           {srt0 + "\n" + srt1 + "\n" + srt0 + "\n", "x.jsonl:3: prompt_index 0 has sample_index 0 twice"},
           // Rows of one prompt index that disagree on the prompt.
           {srt0 + "\n" + generatedRow(0, 1, "srt:12", "12") + "\n", "x.jsonl:2: prompt_index 0 has prompt \"srt:12\""},
           // Prompt 1 has one sample, prompt 0 two; named at prompt 1's first row.
           {srt0 + "\n" + srt1 + "\n" + generatedRow(1, 0, "add:1+2", "3") + "\n",
            "x.jsonl:3: prompt_index 1 has 1 samples, the first prompt 2"},
           // Sample indices 0 and 2: not 0..1.
           {srt0 + "\n" + generatedRow(0, 2, "srt:21", "12") + "\n",
            "x.jsonl:1: prompt_index 0 has sample indices that are not 0..1"},
           // A prompt that is not a world prompt, named at its first row.
           {srt0 + "\n" + srt1 + "\n" + generatedRow(1, 0, "sort:21", "12") + "\n" +
                generatedRow(1, 1, "sort:21", "21") + "\n",
            "x.jsonl:3: world prompt \"sort:21\""},
           {"\n", "world candidates: x.jsonl holds no samples"},
       }) {
    std::stringstream in(c.input);
    std::stringstream out, pairs;
    WorldCandidatesArgs args;
    args.in = "x.jsonl";
    try {
      runWorldCandidates(args, in, out, &pairs);
      ADD_FAILURE() << "expected DataError for\n" << c.input;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(c.expected), std::string::npos)
          << "expected \"" << c.expected << "\" in: " << e.what();
    }
    EXPECT_TRUE(out.str().empty()) << c.input;  // nothing is written before the whole input is checked
    EXPECT_TRUE(pairs.str().empty()) << c.input;
  }
  std::stringstream ok(srt0 + "\n");
  std::stringstream out;
  WorldCandidatesArgs args;
  args.pairs_per_prompt = 0;
  EXPECT_THROW(runWorldCandidates(args, ok, out, nullptr), ConfigError);
}

}  // namespace
}  // namespace gramrl::cli
