// The file readers on the committed fixtures (tests/data/jsonl) and on files written by the
// tests: line numbers in sources and errors, skip_bad_lines, max_line_bytes, max_examples, the
// line reader's edge cases; shardIndices; writeJsonl.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/core/logging.h"
#include "common/data/jsonl_data.h"
#include "tests/common/data/test_util.h"
#include "tests/support/temp_dir.h"

namespace gramrl::data {
namespace {

using testing::dataErrorOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::readFile;
using ::testing::StartsWith;
using testing::writeFile;

std::string fixture(const std::string& name) { return std::string(GRAMRL_DATA_TEST_DATA) + "/" + name; }

// --- fixtures ---

TEST(JsonlFixtureTest, PreferencePlain) {
  const std::string path = fixture("preference_plain.jsonl");
  ReadReport report;
  std::vector<PreferencePair> pairs = readPreferencePairs(path, {}, &report);
  ASSERT_EQ(pairs.size(), 5u);
  EXPECT_EQ(report.lines, 5);  // the empty line 4 is not counted
  EXPECT_EQ(report.examples, 5);
  EXPECT_EQ(report.skipped, 0);
  EXPECT_EQ(pairs[0].prompt, "What is 2+2?");
  EXPECT_EQ(pairs[0].chosen, "4");
  EXPECT_EQ(pairs[0].rejected, "5");
  EXPECT_EQ(pairs[0].category, "math");
  EXPECT_EQ(pairs[0].source, path + ":1");
  EXPECT_EQ(pairs[1].system, std::optional<std::string>("Answer in one word."));
  EXPECT_EQ(pairs[1].category, "facts");
  EXPECT_EQ(pairs[2].prompt, "Capital of France?");
  EXPECT_EQ(pairs[2].category, "geo");
  EXPECT_EQ(pairs[3].source, path + ":5");
  EXPECT_FALSE(pairs[3].system.has_value());
  EXPECT_EQ(pairs[3].rejected, "");
  // \u00e9 and the surrogate pair \ud83d\ude00 decode to UTF-8.
  EXPECT_EQ(pairs[4].prompt, "Unicode: caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(pairs[4].chosen, "\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(pairs[4].source, path + ":6");
}

TEST(JsonlFixtureTest, PreferenceRewardBench) {
  std::vector<PreferencePair> pairs = readPreferencePairs(fixture("preference_rewardbench.jsonl"));
  ASSERT_EQ(pairs.size(), 5u);
  std::vector<std::string> subsets;
  for (const PreferencePair& p : pairs) subsets.push_back(p.category);
  EXPECT_THAT(subsets,
              ElementsAre("alpacaeval-easy", "refusals-dangerous", "hep-python", "math-prm", "llmbar-natural"));
  EXPECT_EQ(pairs[0].chosen, "Soft rain on the roof\nwhispers to the sleeping town\npuddles hold the sky");
  EXPECT_EQ(pairs[2].rejected, "    return a - b");
}

TEST(JsonlFixtureTest, PreferenceChat) {
  std::vector<PreferencePair> pairs = readPreferencePairs(fixture("preference_chat.jsonl"));
  ASSERT_EQ(pairs.size(), 5u);
  EXPECT_EQ(pairs[0].prompt, "What is 2+2?");
  EXPECT_EQ(pairs[0].chosen, "4");
  EXPECT_EQ(pairs[0].rejected, "5");
  EXPECT_EQ(pairs[1].system, std::optional<std::string>("Be brief."));
  EXPECT_EQ(pairs[1].rejected, "Hello there, how are you doing today?");
  EXPECT_EQ(pairs[1].category, "chat");
  EXPECT_EQ(pairs[2].prompt, "Capital of France?");
  EXPECT_EQ(pairs[2].chosen, "Paris");
  EXPECT_EQ(pairs[3].system, std::optional<std::string>("Answer in one word."));
  EXPECT_EQ(pairs[3].rejected, "Green");
  EXPECT_EQ(pairs[4].prompt, "Describe rain.");
  EXPECT_EQ(pairs[4].chosen, "Water falling.");
}

TEST(JsonlFixtureTest, PreferenceAb) {
  std::vector<PreferencePair> pairs = readPreferencePairs(fixture("preference_ab.jsonl"));
  ASSERT_EQ(pairs.size(), 5u);
  const std::pair<const char*, const char*> expected[] = {
      {"4", "5"}, {"6", "7"}, {"Paris", "Lyon"}, {"Rome", "Milan"}, {"Hello", "Yo"}};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(pairs[i].chosen, expected[i].first) << i;
    EXPECT_EQ(pairs[i].rejected, expected[i].second) << i;
  }
  EXPECT_EQ(pairs[1].prompt, "What is 3+3?");
  EXPECT_EQ(pairs[3].category, "geo");
  EXPECT_EQ(pairs[4].system, std::optional<std::string>("Be polite."));
}

TEST(JsonlFixtureTest, ResponsePairs) {
  std::vector<ResponsePair> pairs = readResponsePairs(fixture("response_pairs.jsonl"));
  ASSERT_EQ(pairs.size(), 5u);
  EXPECT_EQ(pairs[0].response_a, "4");
  EXPECT_EQ(pairs[1].response_b, "Hello.");
  EXPECT_EQ(pairs[1].category, "chat");
  EXPECT_EQ(pairs[2].prompt, "Capital of France?");
  EXPECT_EQ(pairs[2].response_a, "Paris");
  EXPECT_EQ(pairs[3].system, std::optional<std::string>("Be brief."));
  EXPECT_EQ(pairs[3].response_b, "Green");
  EXPECT_EQ(pairs[4].category, "toy");
}

TEST(JsonlFixtureTest, Prompts) {
  std::vector<PromptExample> prompts = readPrompts(fixture("prompts.jsonl"));
  ASSERT_EQ(prompts.size(), 5u);
  EXPECT_EQ(prompts[0].reference, std::optional<std::string>("4"));
  EXPECT_EQ(prompts[1].reference, std::optional<std::string>("She has 3 + 2 = 5.\n#### 5"));
  EXPECT_EQ(prompts[2].prompt, "Compute 6*7.");
  EXPECT_EQ(prompts[2].reference, std::optional<std::string>("42"));
  EXPECT_EQ(prompts[3].system, std::optional<std::string>("Be brief."));
  EXPECT_EQ(prompts[3].prompt, "Say hi.");
  EXPECT_FALSE(prompts[3].reference.has_value());
  EXPECT_EQ(prompts[4].reference, std::optional<std::string>("2"));
}

TEST(JsonlFixtureTest, Demonstrations) {
  std::vector<Demonstration> demos = readDemonstrations(fixture("demonstrations.jsonl"));
  ASSERT_EQ(demos.size(), 5u);
  EXPECT_EQ(demos[0].response, "4");
  EXPECT_EQ(demos[1].response, "Hi!");
  EXPECT_EQ(demos[1].system, std::optional<std::string>("Be friendly."));
  EXPECT_EQ(demos[2].prompt, "Capital of France?");
  EXPECT_EQ(demos[2].category, "geo");
  EXPECT_EQ(demos[3].system, std::optional<std::string>("Be brief."));
  EXPECT_EQ(demos[3].response, "Blue");
  EXPECT_EQ(demos[4].response, "1 2 3");
}

// --- errors with file:line ---

class JsonlReadTest : public ::testing::Test {
 protected:
  std::string write(const std::string& contents, const std::string& name = "d.jsonl") {
    const std::string path = dir_.file(name);
    writeFile(path, contents);
    return path;
  }
  gramrl::testing::TempDir dir_{"grl-data"};
};

const char kGood[] = R"({"prompt": "p", "chosen": "c", "rejected": "r"})";

TEST_F(JsonlReadTest, BadLinesNameFileLineAndField) {
  const std::string good = std::string(kGood) + "\n";
  std::string path = write(good + "\n" + R"({"prompt": "p", "chosen": "c"})" + "\n");
  EXPECT_EQ(dataErrorOf([&] { readPreferencePairs(path); }),
            path + ":3: required field is missing ('chosen' is present) (field 'rejected')");
  path = write(good + R"({"prompt": "p", "chosen": "c", "rejected": 4})" + "\n");
  EXPECT_EQ(dataErrorOf([&] { readPreferencePairs(path); }),
            path + ":2: expected a string or a message list, got an integer (field 'rejected')");
  path = write(good + "[1, 2]\n");
  EXPECT_EQ(dataErrorOf([&] { readPreferencePairs(path); }), path + ":2: expected a JSON object, got an array");
  path = write(good + "{\"prompt\": \"p\",\n");
  EXPECT_THAT(dataErrorOf([&] { readPreferencePairs(path); }), StartsWith(path + ":2: invalid JSON at column 16: "));
  path = write(good + good + "{\"prompt\": \"p\"} trailing\n");
  EXPECT_THAT(dataErrorOf([&] { readPreferencePairs(path); }), StartsWith(path + ":3: invalid JSON at column "));
  path = write(good + std::string(kGood, sizeof(kGood) - 2) + std::string("\0", 1) + "}junk\n");
  EXPECT_EQ(dataErrorOf([&] { readPreferencePairs(path); }), path + ":2: invalid JSON: NUL byte at column 47");
}

// Issue 15: a repeated key (which nlohmann resolves silently) and a row of two shapes at once
// are errors naming file:line, whichever reader meets them.
TEST_F(JsonlReadTest, RepeatedKeysAndTwoShapesAreErrors) {
  const std::string good = std::string(kGood) + "\n";
  std::string path = write(good + R"({"prompt": "p", "chosen": "c", "rejected": "r", "chosen": "r"})" + "\n");
  EXPECT_EQ(dataErrorOf([&] { readPreferencePairs(path); }),
            path + ":2: key \"chosen\" given twice in one object (JSON readers disagree on which one wins; keep one)");
  const std::string demo = R"({"prompt": "p", "response": "x"})"
                           "\n";
  path = write(demo + demo + R"({"messages": [{"role": "user", "role": "assistant", "content": "x"}]})" + "\n",
               "demo.jsonl");
  EXPECT_THAT(dataErrorOf([&] { readDemonstrations(path); }), StartsWith(path + ":3: key \"role\" given twice"));
  path = write(good + R"({"prompt": "p", "completion": "x", "chosen": "c", "rejected": "r"})" + "\n");
  EXPECT_EQ(dataErrorOf([&] { readPreferencePairs(path); }),
            path +
                ":2: the row has both a single response and 'chosen'/'rejected'; keep 'chosen' and 'rejected' for "
                "a preference pair, or only the response for a scored response (field 'completion')");
  path = write(R"({"prompt": "p", "response": "x", "rejected": "r"})"
               "\n",
               "demo2.jsonl");
  EXPECT_THAT(dataErrorOf([&] { readDemonstrations(path); }),
              StartsWith(path + ":1: the row has both a single response and 'chosen'/'rejected'"));
  // Equal keys in different objects are fine.
  path = write(R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})"
               "\n",
               "demo3.jsonl");
  EXPECT_EQ(readDemonstrations(path).size(), 1u);
}

TEST_F(JsonlReadTest, InvalidUtf8IsADataErrorWithFileAndLine) {
  const std::string path = write(std::string(kGood) + "\n" + "{\"prompt\": \"caf\xC3\", \"chosen\": \"c\"}\n");
  const std::string error = dataErrorOf([&] { readPreferencePairs(path); });
  EXPECT_THAT(error, StartsWith(path + ":2: invalid JSON at column "));
  EXPECT_THAT(error, HasSubstr("UTF-8"));
}

TEST_F(JsonlReadTest, LoneSurrogateEscapeIsADataError) {
  const std::string path = write(std::string(kGood) + "\n" + R"({"prompt": "\ud800", "chosen": "c", "rejected": "r"})");
  const std::string error = dataErrorOf([&] { readPreferencePairs(path); });
  EXPECT_THAT(error, StartsWith(path + ":2: invalid JSON at column "));
  EXPECT_THAT(error, HasSubstr("surrogate"));
}

TEST_F(JsonlReadTest, DeeplyNestedLineIsRejectedWithoutCrashing) {
  // parseJsonLine stops at depth 64 (issue 15), long before a recursive parser's stack would end.
  const int depth = 1 << 20;
  const std::string path = write(std::string(kGood) + "\n" + std::string(depth, '[') + std::string(depth, ']') + "\n");
  EXPECT_EQ(dataErrorOf([&] { readPreferencePairs(path); }), path + ":2: JSON nested deeper than 64 levels");
}

TEST_F(JsonlReadTest, MissingFileAndDirectory) {
  const std::string missing = dir_.file("nope.jsonl");
  EXPECT_EQ(dataErrorOf([&] { readPrompts(missing); }), "cannot open " + missing + ": No such file or directory");
  EXPECT_EQ(dataErrorOf([&] { readPrompts(dir_.path()); }), dir_.path() + " is not a regular file");
}

TEST_F(JsonlReadTest, NoExamplesIsAnError) {
  std::string path = write("");
  EXPECT_EQ(dataErrorOf([&] { readDemonstrations(path); }), path + ": no examples in 0 non-empty lines");
  path = write("\n  \n\r\n");
  EXPECT_EQ(dataErrorOf([&] { readDemonstrations(path); }), path + ": no examples in 0 non-empty lines");
  path = write("{}\n[]\n");
  ReadOptions skip;
  skip.skip_bad_lines = true;
  EXPECT_EQ(dataErrorOf([&] { readDemonstrations(path, skip); }),
            path + ": no examples in 2 non-empty lines (2 skipped; first: " + path +
                ":1: no demonstration: expected 'prompt' with 'response' or 'completion', or 'messages' (field "
                "'messages'))");
}

TEST_F(JsonlReadTest, SkipBadLinesCountsReportsAndLogs) {
  const std::string good = std::string(kGood) + "\n";
  const std::string path =
      write("not json\n" + good + "\n" + R"({"prompt": 1, "chosen": "c", "rejected": "r"})" + "\n" + good);
  ReadOptions options;
  options.skip_bad_lines = true;
  ReadReport report;
  report.errors.push_back("stale");  // overwritten
  ::testing::internal::CaptureStderr();
  std::vector<PreferencePair> pairs = readPreferencePairs(path, options, &report);
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].source, path + ":2");
  EXPECT_EQ(pairs[1].source, path + ":5");
  EXPECT_EQ(report.lines, 4);
  EXPECT_EQ(report.examples, 2);
  EXPECT_EQ(report.skipped, 2);
  ASSERT_EQ(report.errors.size(), 2u);
  EXPECT_THAT(report.errors[0], StartsWith(path + ":1: invalid JSON at column 2: "));
  EXPECT_EQ(report.errors[1], path + ":4: expected a string or a message list, got an integer (field 'prompt')");
  EXPECT_THAT(log, HasSubstr(" W "));
  EXPECT_THAT(log, HasSubstr("skipped 2 of 4 lines of " + path + " (first: " + path + ":1: invalid JSON"));
}

TEST_F(JsonlReadTest, ReportKeepsTheFirstTwentyErrors) {
  std::string contents;
  for (int i = 0; i < 25; ++i) contents += "{}\n";
  contents += std::string(kGood) + "\n";
  const std::string path = write(contents);
  ReadOptions options;
  options.skip_bad_lines = true;
  ReadReport report;
  EXPECT_EQ(readPreferencePairs(path, options, &report).size(), 1u);
  EXPECT_EQ(report.skipped, 25);
  EXPECT_EQ(report.lines, 26);
  ASSERT_EQ(report.errors.size(), 20u);
  EXPECT_THAT(report.errors[0], StartsWith(path + ":1: "));
  EXPECT_THAT(report.errors[19], StartsWith(path + ":20: "));
}

TEST_F(JsonlReadTest, MaxLineBytes) {
  const std::string line = kGood;  // 47 bytes
  ASSERT_EQ(line.size(), 47u);
  const std::string path = write(line + "\n" + line + "\r\n" +
                                 R"({"prompt": "a longer prompt", "chosen": "c", "rejected": "r"})" + "\n" + line);
  ReadOptions options;
  options.max_line_bytes = 47;  // exactly the short lines; "\r" does not count
  EXPECT_EQ(dataErrorOf([&] { readPreferencePairs(path, options); }),
            path +
                ":3: line of 61 bytes is longer than the limit of 47 (ReadOptions.max_line_bytes); is this a "
                "JSONL file?");
  options.skip_bad_lines = true;
  ReadReport report;
  std::vector<PreferencePair> pairs = readPreferencePairs(path, options, &report);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[2].source, path + ":4");  // the reader found the next line after the long one
  EXPECT_EQ(report.skipped, 1);
  options.max_line_bytes = 46;
  options.skip_bad_lines = false;
  EXPECT_THAT(dataErrorOf([&] { readPreferencePairs(path, options); }),
              StartsWith(path + ":1: line of 47 bytes is longer than the limit of 46 "));
}

TEST_F(JsonlReadTest, LongLineAcrossManyBuffersIsDiscardedNotKept) {
  // 1 MiB on one line, far beyond the reader's 64 KiB buffer and the 1 KiB limit.
  const std::string huge = "{\"prompt\": \"" + std::string(1 << 20, 'x') + "\"}";
  const std::string path = write(std::string(kGood) + "\n" + huge + "\n" + kGood + "\n");
  ReadOptions options;
  options.max_line_bytes = 1024;
  options.skip_bad_lines = true;
  ReadReport report;
  std::vector<PreferencePair> pairs = readPreferencePairs(path, options, &report);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[1].source, path + ":3");
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_THAT(report.errors[0], StartsWith(path + ":2: line of " + std::to_string(huge.size()) + " bytes"));
}

TEST_F(JsonlReadTest, ByteOrderMarkCrlfAndNoFinalNewline) {
  const std::string path =
      write("\xEF\xBB\xBF" + std::string(kGood) + "\r\n\r\n" + R"({"prompt": "p2", "chosen": "c", "rejected": "r"})");
  std::vector<PreferencePair> pairs = readPreferencePairs(path);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].prompt, "p");
  EXPECT_EQ(pairs[1].prompt, "p2");
  EXPECT_EQ(pairs[1].source, path + ":3");
}

TEST_F(JsonlReadTest, MaxExamplesStopsEarly) {
  const std::string path = write(std::string(kGood) + "\n" + kGood + "\n" + kGood + "\nnot json\n");
  ReadOptions options;
  options.max_examples = 2;
  ReadReport report;
  EXPECT_EQ(readPreferencePairs(path, options, &report).size(), 2u);
  EXPECT_EQ(report.lines, 2);
  EXPECT_EQ(report.examples, 2);
}

TEST_F(JsonlReadTest, OptionsAreChecked) {
  const std::string path = write(std::string(kGood) + "\n");
  ReadOptions options;
  options.max_line_bytes = 0;
  EXPECT_THROW(readPreferencePairs(path, options), ConfigError);
  options = ReadOptions();
  options.max_examples = -1;
  EXPECT_THROW(readPreferencePairs(path, options), ConfigError);
}

// --- shardIndices ---

TEST(ShardIndicesTest, EveryIndexExactlyOnce) {
  for (int64_t n : {0, 1, 2, 7, 100, 101}) {
    for (int world : {1, 2, 3, 8, 150}) {
      std::vector<int> owner(static_cast<size_t>(n), -1);
      size_t smallest = SIZE_MAX, largest = 0;
      for (int rank = 0; rank < world; ++rank) {
        std::vector<int64_t> mine = shardIndices(n, rank, world);
        EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
        for (int64_t i : mine) {
          ASSERT_TRUE(i >= 0 && i < n) << i;
          EXPECT_EQ(owner[static_cast<size_t>(i)], -1) << "index " << i << " owned twice";
          owner[static_cast<size_t>(i)] = rank;
        }
        smallest = std::min(smallest, mine.size());
        largest = std::max(largest, mine.size());
      }
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(owner[static_cast<size_t>(i)], i % world) << n << " " << world;
      EXPECT_LE(largest - smallest, 1u);
    }
  }
  EXPECT_THAT(shardIndices(7, 1, 3), ElementsAre(1, 4));
  EXPECT_THAT(shardIndices(7, 0, 3), ElementsAre(0, 3, 6));
}

TEST(ShardIndicesTest, BadRankOrWorld) {
  EXPECT_THROW(shardIndices(5, 2, 2), ConfigError);
  EXPECT_THROW(shardIndices(5, -1, 2), ConfigError);
  EXPECT_THROW(shardIndices(5, 0, 0), ConfigError);
}

// --- writeJsonl ---

TEST_F(JsonlReadTest, WriteJsonlRoundTrip) {
  const std::string path = dir_.file("out.jsonl");
  std::vector<nlohmann::json> rows = {
      {{"prompt", "line one\nline two"}, {"chosen", "caf\xC3\xA9 \xF0\x9F\x98\x80"}, {"rejected", "\"quoted\""}},
      {{"prompt", "p"}, {"chosen", "c"}, {"rejected", ""}, {"system", "s"}, {"subset", "x"}},
  };
  writeJsonl(path, rows);
  std::vector<PreferencePair> pairs = readPreferencePairs(path);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].prompt, "line one\nline two");
  EXPECT_EQ(pairs[0].chosen, "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(pairs[0].rejected, "\"quoted\"");
  EXPECT_EQ(pairs[1].system, std::optional<std::string>("s"));
  EXPECT_EQ(pairs[1].category, "x");
  // Compact, sorted keys (nlohmann's object order), UTF-8 kept as is, one row per line.
  writeJsonl(path, {nlohmann::json{{"b", 1}, {"a", "\xC3\xA9"}}, nlohmann::json::array({1, 2})});
  EXPECT_EQ(readFile(path), "{\"a\":\"\xC3\xA9\",\"b\":1}\n[1,2]\n");
}

TEST_F(JsonlReadTest, WriteJsonlInvalidUtf8LeavesNoFile) {
  const std::string path = dir_.file("bad.jsonl");
  EXPECT_THAT(dataErrorOf([&] {
                writeJsonl(path, {nlohmann::json{{"a", "ok"}}, nlohmann::json{{"a", "\xFF"}}});
              }),
              StartsWith(path + ": cannot write row 1: "));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));  // neither the file nor its temporary
}

}  // namespace
}  // namespace gramrl::data
