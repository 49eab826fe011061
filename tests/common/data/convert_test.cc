// gramrl data convert: each converter on its hand-made sample (tests/data/convert/<format>.jsonl,
// real field names and nesting, awkward rows: multi-turn, empty answers, ties, non-ASCII, bad
// rows) against the expected JSONL (tests/data/convert/expected/), byte for byte; the outputs
// read back with the trainers' readers; the JSON-array reader; the option checks.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "common/data/convert/dataset_converter.h"
#include "common/data/convert/json_row_reader.h"
#include "common/data/jsonl_data.h"
#include "tests/common/data/test_util.h"
#include "tests/support/temp_dir.h"

namespace gramrl::data::convert {
namespace {

using data::testing::dataErrorOf;
using data::testing::readFile;
using data::testing::writeFile;
using ::testing::HasSubstr;

const std::string kData = GRAMRL_CONVERT_TEST_DATA;

std::string input(const std::string& name) { return kData + "/" + name; }
std::string expected(const std::string& format, Product product) {
  return kData + "/expected/" + format + "." + std::string(productName(product)) + ".jsonl";
}

class ConvertTest : public ::testing::Test {
 protected:
  // Converts `file` as `format` into every product the converter makes.
  ConvertReport convertAll(const std::string& format, const std::string& file) {
    ConvertOptions options;
    options.format = format;
    options.input = input(file);
    for (Product product : findConverter(format).products()) {
      options.outputs[product] = out(format, product);
    }
    return convertFile(options);
  }
  std::string out(const std::string& format, Product product) const {
    return dir_.file(format + "." + std::string(productName(product)) + ".jsonl");
  }
  // GRAMRL_UPDATE_GOLDEN=1 rewrites the expected files from this run (then review the diff).
  void expectGolden(const std::string& format) {
    for (Product product : findConverter(format).products()) {
      SCOPED_TRACE(std::string(productName(product)));
      if (std::getenv("GRAMRL_UPDATE_GOLDEN")) writeFile(expected(format, product), readFile(out(format, product)));
      EXPECT_EQ(readFile(out(format, product)), readFile(expected(format, product)));
    }
  }
  static const ProductReport& product(const ConvertReport& report, Product p) {
    for (const ProductReport& r : report.products) {
      if (r.product == p) return r;
    }
    throw std::runtime_error("no such product in the report");
  }
  static std::string problems(const ConvertReport& report) {
    std::string all;
    for (const std::string& p : report.problems) all += p + "\n";
    return all;
  }

  gramrl::testing::TempDir dir_{"grl-convert"};
};

TEST_F(ConvertTest, UnifiedFeedback) {
  const ConvertReport report = convertAll("unified-feedback", "unified-feedback.jsonl");
  expectGolden("unified-feedback");
  EXPECT_EQ(report.rows, 8);
  EXPECT_EQ(report.bad_rows, 3);   // prompts differ (line 5), a missing rating (6), truncated JSON (7)
  EXPECT_EQ(report.flattened, 1);  // the two-turn row (line 2)
  // Pairs: lines 1, 2, 8; the tie (3) and the empty answer (4) are skipped with their reason.
  EXPECT_EQ(product(report, Product::kPairs).written, 3);
  EXPECT_EQ(product(report, Product::kPairs).skipped,
            (std::map<std::string, int64_t>{{"tie", 1}, {"empty response", 1}}));
  // Unlabeled pairs keep the tie.
  EXPECT_EQ(product(report, Product::kUnlabeled).written, 4);
  // Demonstrations: the winner of every labelled row, also line 4 (its winner is not empty).
  EXPECT_EQ(product(report, Product::kSft).written, 4);
  EXPECT_EQ(product(report, Product::kPrompts).written, 5);
  const std::string named = problems(report);
  const std::string file = input("unified-feedback.jsonl");
  EXPECT_THAT(named, HasSubstr(file + ":3: a tie, not a preference: conv_A_rating = conv_B_rating = 5 (field "
                                      "'conv_B_rating') [pairs skipped]"));
  EXPECT_THAT(named, HasSubstr(file + ":4: an empty response (field 'conv_B') [pairs skipped]"));
  EXPECT_THAT(named, HasSubstr(file + ":5: the prompts differ"));
  EXPECT_THAT(named, HasSubstr("(field 'conv_B[0]')"));
  EXPECT_THAT(named, HasSubstr(file + ":6: required field is missing (field 'conv_A_rating')"));
  EXPECT_THAT(named, HasSubstr(file + ":7: invalid JSON"));
}

TEST_F(ConvertTest, HhRlhfSplitsTranscriptsAndRefusesDifferentPrompts) {
  const ConvertReport report = convertAll("hh-rlhf", "hh-rlhf.jsonl");
  expectGolden("hh-rlhf");
  EXPECT_EQ(report.rows, 7);
  EXPECT_EQ(report.bad_rows, 3);  // differing prompts (4), no 'chosen' (6), no leading "\n\nHuman:" (7)
  EXPECT_EQ(report.flattened, 1);
  EXPECT_EQ(product(report, Product::kPairs).written, 3);
  EXPECT_EQ(product(report, Product::kPairs).skipped.at("empty response"), 1);
  const std::string named = problems(report);
  const std::string file = input("hh-rlhf.jsonl");
  EXPECT_THAT(named, HasSubstr(file + ":4: the prompts differ: 'chosen' and 'rejected' must share every turn"));
  EXPECT_THAT(named, HasSubstr(file + ":6: required field is missing (field 'chosen')"));
  EXPECT_THAT(named, HasSubstr(file + ":7: expected a transcript starting with"));
}

TEST_F(ConvertTest, UltrafeedbackBinarized) {
  const ConvertReport report = convertAll("ultrafeedback-binarized", "ultrafeedback-binarized.jsonl");
  expectGolden("ultrafeedback-binarized");
  EXPECT_EQ(report.rows, 5);
  EXPECT_EQ(report.bad_rows, 2);  // a chosen conversation ending with a user turn (4), an edited prompt (5)
  EXPECT_EQ(product(report, Product::kPairs).written, 2);
  EXPECT_EQ(product(report, Product::kPairs).skipped.at("tie"), 1);  // score_chosen = score_rejected = 7
  const std::string named = problems(report);
  const std::string file = input("ultrafeedback-binarized.jsonl");
  EXPECT_THAT(named, HasSubstr(file + ":4: the final message must be the assistant's reply, got 'user' (field "
                                      "'chosen[1].role')"));
  EXPECT_THAT(named, HasSubstr(file + ":5: differs from the user message in 'chosen' (field 'prompt')"));
}

TEST_F(ConvertTest, Tldr) {
  const ConvertReport report = convertAll("tldr", "tldr.jsonl");
  expectGolden("tldr");
  EXPECT_EQ(report.rows, 4);
  EXPECT_EQ(report.bad_rows, 1);
  EXPECT_EQ(product(report, Product::kPairs).written, 3);
  EXPECT_THAT(problems(report), HasSubstr(input("tldr.jsonl") + ":4: expected 0 or 1 (the index of the preferred "
                                                                "summary), got 2 (field 'choice')"));
}

TEST_F(ConvertTest, RewardBenchKeepsSubsetsAsCategories) {
  const ConvertReport report = convertAll("rewardbench", "rewardbench.jsonl");
  expectGolden("rewardbench");
  EXPECT_EQ(report.bad_rows, 1);
  EXPECT_THAT(problems(report), HasSubstr(":4: required field is missing (field 'subset')"));
  const std::vector<PreferencePair> pairs = readPreferencePairs(out("rewardbench", Product::kPairs));
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[1].category, "xstest-should-respond");
  EXPECT_EQ(pairs[2].prompt, "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n");
}

TEST_F(ConvertTest, JudgeBenchLabels) {
  const ConvertReport report = convertAll("judgebench", "judgebench.jsonl");
  expectGolden("judgebench");
  EXPECT_EQ(report.bad_rows, 1);
  EXPECT_THAT(problems(report), HasSubstr(":3: unknown label 'A>>B': expected \"A>B\" or \"B>A\" (field 'label')"));
  const std::vector<PreferencePair> pairs = readPreferencePairs(out("judgebench", Product::kPairs));
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].chosen, "Answer: BBBBB");  // A>B
  EXPECT_EQ(pairs[1].chosen, "3^4 = 81.");      // B>A
  EXPECT_EQ(pairs[1].category, "livebench-math");
}

TEST_F(ConvertTest, AlpacaEvalFromAJsonArray) {
  const ConvertReport report = convertAll("alpacaeval", "alpacaeval.json");
  expectGolden("alpacaeval");
  EXPECT_EQ(report.rows, 5);
  EXPECT_EQ(report.bad_rows, 1);
  EXPECT_EQ(product(report, Product::kPrompts).written, 3);
  EXPECT_EQ(product(report, Product::kPrompts).skipped.at("repeated prompt"), 1);
  EXPECT_EQ(product(report, Product::kSft).skipped.at("empty response"), 1);
  // Array rows are named by the line where they start and their index.
  EXPECT_THAT(problems(report), HasSubstr(input("alpacaeval.json") + ":14 (row 3): required field is missing (field "
                                                                     "'instruction')"));
}

// The released GRAM data (LLaMA-Factory rows in the official template) parsed back into
// question and answers: stage-1 rows give unlabeled pairs, stage-2 rows (output A/B) labelled ones.
TEST_F(ConvertTest, GramReleasedData) {
  const ConvertReport report = convertAll("gram-released", "gram-released.jsonl");
  expectGolden("gram-released");
  EXPECT_EQ(report.rows, 7);
  EXPECT_EQ(report.bad_rows, 2);
  EXPECT_EQ(product(report, Product::kUnlabeled).written, 5);
  EXPECT_EQ(product(report, Product::kPairs).written, 2);
  EXPECT_EQ(product(report, Product::kPairs).skipped.at("no label"), 3);  // the stage-1 rows
  const std::string named = problems(report);
  EXPECT_THAT(named, HasSubstr(":5: no \"[User Question]\\n\" (not a GRAM row) (field 'instruction')"));
  EXPECT_THAT(named, HasSubstr(":6: expected an empty input"));
  const std::vector<PreferencePair> pairs = readPreferencePairs(out("gram-released", Product::kPairs));
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].prompt, "Which is larger, 9.11 or 9.9?");
  EXPECT_EQ(pairs[0].chosen, "9.9 is larger.");
  EXPECT_EQ(pairs[1].chosen, "7");  // output B, "#Preferred: " with the space
  const std::vector<ResponsePair> unlabeled = readResponsePairs(out("gram-released", Product::kUnlabeled));
  ASSERT_EQ(unlabeled.size(), 5u);
  EXPECT_EQ(unlabeled[1].response_a, "Äpfel rot,\nÄpfel grün.");
  EXPECT_EQ(unlabeled[4].prompt, "Multi\n\nline question");
  EXPECT_EQ(unlabeled[4].response_b, "b\n");
}

// What `gram pretrain/finetune`, `train sft` and `rlhf` read is what convert writes.
TEST_F(ConvertTest, OutputsReadBackWithTheTrainersReaders) {
  convertAll("unified-feedback", "unified-feedback.jsonl");
  const std::vector<PreferencePair> pairs = readPreferencePairs(out("unified-feedback", Product::kPairs));
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[0].prompt, "Wie spät ist es in Tōkyō? 東京");
  EXPECT_EQ(pairs[0].chosen, "Es ist 21 Uhr in Tokio.");
  EXPECT_EQ(pairs[0].category, "berkeley-nest/Nectar");
  EXPECT_EQ(pairs[1].prompt, "User: Name a fruit.\n\nAssistant: Apple.\n\nUser: Another one?");
  EXPECT_EQ(pairs[1].chosen, "Banana.");  // conv_B_rating > conv_A_rating
  EXPECT_EQ(pairs[2].system, std::optional<std::string>("Answer in French."));
  EXPECT_EQ(readResponsePairs(out("unified-feedback", Product::kUnlabeled)).size(), 4u);
  EXPECT_EQ(readDemonstrations(out("unified-feedback", Product::kSft)).size(), 4u);
  EXPECT_EQ(readPrompts(out("unified-feedback", Product::kPrompts)).size(), 5u);
}

TEST_F(ConvertTest, MultiTurnSkipCountsTheRows) {
  ConvertOptions options;
  options.format = "hh-rlhf";
  options.input = input("hh-rlhf.jsonl");
  options.outputs[Product::kPairs] = dir_.file("pairs.jsonl");
  options.multi_turn = MultiTurn::kSkip;
  const ConvertReport report = convertFile(options);
  EXPECT_EQ(report.multi_turn_skipped, 1);
  EXPECT_EQ(report.flattened, 0);
  EXPECT_EQ(report.products[0].written, 2);
  EXPECT_THAT(problems(report), HasSubstr(":2: a multi-turn prompt, skipped (--multi-turn skip) (field 'chosen')"));
}

TEST_F(ConvertTest, StrictStopsAtTheFirstBadRowAndWritesNothing) {
  ConvertOptions options;
  options.format = "hh-rlhf";
  options.input = input("hh-rlhf.jsonl");
  options.outputs[Product::kPairs] = dir_.file("pairs.jsonl");
  options.strict = true;
  EXPECT_THAT(dataErrorOf([&] { convertFile(options); }), HasSubstr("hh-rlhf.jsonl:4: the prompts differ"));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));  // neither the file nor a temporary
}

TEST_F(ConvertTest, MaxRowsAndDefaultCategory) {
  ConvertOptions options;
  options.format = "hh-rlhf";
  options.input = input("hh-rlhf.jsonl");
  options.outputs[Product::kPairs] = dir_.file("pairs.jsonl");
  options.max_rows = 2;
  options.default_category = "harmless-base";
  const ConvertReport report = convertFile(options);
  EXPECT_EQ(report.rows, 2);
  const std::vector<PreferencePair> pairs = readPreferencePairs(dir_.file("pairs.jsonl"));
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].category, "harmless-base");
}

TEST_F(ConvertTest, RowLongerThanTheLimitIsABadRow) {
  ConvertOptions options;
  options.format = "rewardbench";
  options.input = input("rewardbench.jsonl");
  options.outputs[Product::kPairs] = dir_.file("pairs.jsonl");
  options.max_row_bytes = 235;  // rows 1 (189 bytes), 3 (233) and 4 (72) fit; row 2 (240) does not
  const ConvertReport report = convertFile(options);
  EXPECT_EQ(report.bad_rows, 2);
  EXPECT_THAT(problems(report), HasSubstr("rewardbench.jsonl:2: the row is longer than --max-row-bytes (235 bytes)"));
}

TEST_F(ConvertTest, OptionErrors) {
  ConvertOptions options;
  options.format = "alpacaeval";
  options.input = input("alpacaeval.json");
  options.outputs[Product::kPairs] = dir_.file("pairs.jsonl");
  try {
    convertFile(options);
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("--from alpacaeval does not make pairs (it makes: prompts, sft)"));
  }
  options.format = "nope";
  EXPECT_THROW(convertFile(options), ConfigError);
  options.format = "alpacaeval";
  options.outputs = {{Product::kPrompts, input("alpacaeval.json")}};
  EXPECT_THROW(convertFile(options), ConfigError);  // the output is the input
  options.outputs = {{Product::kPrompts, dir_.file("p.jsonl")}};
  options.max_row_bytes = 0;
  EXPECT_THROW(convertFile(options), ConfigError);
}

TEST_F(ConvertTest, NoUsableRowIsAnError) {
  writeFile(dir_.file("in.jsonl"), "{\"x\": 1}\n");
  ConvertOptions options;
  options.format = "judgebench";
  options.input = dir_.file("in.jsonl");
  options.outputs[Product::kPairs] = dir_.file("pairs.jsonl");
  EXPECT_THAT(dataErrorOf([&] { convertFile(options); }), HasSubstr("no row could be converted as judgebench"));
}

// --- JsonRowReader ---

std::vector<RowText> readAll(const std::string& path, int64_t max_row_bytes = 1 << 20) {
  JsonRowReader reader(path, max_row_bytes);
  std::vector<RowText> rows;
  RowText row;
  while (reader.next(&row)) rows.push_back(row);
  return rows;
}

TEST_F(ConvertTest, ArrayReaderSplitsElementsAndNamesLines) {
  // Brackets and commas inside strings, escaped quotes, a BOM, a one-line array.
  writeFile(dir_.file("a.json"), "\xEF\xBB\xBF [{\"a\": \"],{\\\"\"},\n {\"b\": [1, {\"c\": 2}]}\n,3]\n");
  const std::vector<RowText> rows = readAll(dir_.file("a.json"));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].text, "{\"a\": \"],{\\\"\"}");
  EXPECT_EQ(rows[1].text, "{\"b\": [1, {\"c\": 2}]}");
  EXPECT_EQ(rows[1].source, dir_.file("a.json") + ":2 (row 2)");
  EXPECT_EQ(rows[2].text, "3");
  writeFile(dir_.file("empty.json"), "[ ]");
  EXPECT_TRUE(readAll(dir_.file("empty.json")).empty());
}

TEST_F(ConvertTest, ArrayReaderErrors) {
  writeFile(dir_.file("comma.json"), "[{\"a\": 1}\n{\"b\": 2}]");
  EXPECT_THAT(dataErrorOf([&] { readAll(dir_.file("comma.json")); }),
              HasSubstr("comma.json:2: expected ',' or ']' between rows of the JSON array, got '{'"));
  writeFile(dir_.file("cut.json"), "[{\"a\": 1}, {\"b\": \"unterminated");
  EXPECT_THAT(dataErrorOf([&] { readAll(dir_.file("cut.json")); }), HasSubstr("ends inside a row"));
  writeFile(dir_.file("open.json"), "[{\"a\": 1}");
  EXPECT_THAT(dataErrorOf([&] { readAll(dir_.file("open.json")); }), HasSubstr("is not closed"));
  writeFile(dir_.file("tail.json"), "[{\"a\": 1}] x");
  EXPECT_THAT(dataErrorOf([&] { readAll(dir_.file("tail.json")); }), HasSubstr("text after the closing ']'"));
  writeFile(dir_.file("long.json"), "[{\"a\": \"0123456789\"}, {}]");
  const std::vector<RowText> rows = readAll(dir_.file("long.json"), 8);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].too_long);
  EXPECT_FALSE(rows[1].too_long);
  EXPECT_THAT(dataErrorOf([&] { readAll(dir_.path()); }), HasSubstr("is a directory"));
}

// --- Piped input (NOTE [Piped input]) ---

// Writes `contents` into a FIFO at `path` from its own thread (opening a FIFO blocks until both
// ends are open); join() after the reader is done.
class FifoWriter {
 public:
  FifoWriter(const std::string& path, std::string contents) {
    EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0) << path;
    thread_ = std::thread([path, contents = std::move(contents)] {
      const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) return;
      size_t done = 0;
      while (done < contents.size()) {
        const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
      ::close(fd);
    });
  }
  ~FifoWriter() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
};

// Rows larger in total than the reader's first read (1 MiB), with blank lines, CRLF, a row
// that spans chunk boundaries and non-ASCII text.
std::string manyRows(bool array) {
  std::string out = array ? "[\n" : "\n";
  for (int i = 0; i < 3000; ++i) {
    const std::string pad(i == 1000 ? 70000 : 900, static_cast<char>('a' + i % 26));
    if (array) out += i > 0 ? ",\n" : "";
    out += fmt::format("{{\"i\": {}, \"text\": \"{} \u00e9\u4e2d\"}}", i, pad);
    if (!array) out += i % 7 == 0 ? "\r\n\n" : "\n";
  }
  return out + (array ? "]\n" : "");
}

TEST_F(ConvertTest, ReaderReadsAPipeAsItReadsTheFile) {
  for (const bool array : {false, true}) {
    SCOPED_TRACE(array ? "JSON array" : "JSONL");
    const std::string contents = manyRows(array);
    ASSERT_GT(contents.size(), 2u << 20);
    writeFile(dir_.file("rows.json"), contents);
    const std::vector<RowText> from_file = readAll(dir_.file("rows.json"));
    ASSERT_EQ(from_file.size(), 3000u);
    EXPECT_EQ(from_file[2999].text.substr(0, 12), "{\"i\": 2999, ");
    EXPECT_EQ(from_file[1000].text.size(), 70000u + 29);
    const std::string fifo = dir_.file(array ? "rows-array.fifo" : "rows.fifo");
    FifoWriter writer(fifo, contents);
    const std::vector<RowText> from_pipe = readAll(fifo);
    writer.join();
    ASSERT_EQ(from_pipe.size(), from_file.size());
    for (size_t i = 0; i < from_file.size(); ++i) {
      ASSERT_EQ(from_pipe[i].text, from_file[i].text) << "row " << i;
      // The same line numbers, under the pipe's name.
      ASSERT_EQ(from_pipe[i].source.substr(fifo.size()), from_file[i].source.substr(dir_.file("rows.json").size()));
    }
  }
}

TEST_F(ConvertTest, JsonlLinesKeepTheLineReaderRules) {
  // Line numbers count blank lines; a final line without "\n" counts; "\r" is stripped and does
  // not count against the bound; a too-long line is consumed whole.
  writeFile(dir_.file("l.jsonl"), "\xEF\xBB\xBF\n  {\"a\": 1}\r\n\n{\"b\": \"0123456789\"}\n{}");
  const std::vector<RowText> rows = readAll(dir_.file("l.jsonl"), 10);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].text, "{\"a\": 1}");  // leading blanks of the first row may go
  EXPECT_EQ(rows[0].source, dir_.file("l.jsonl") + ":2");
  EXPECT_TRUE(rows[1].too_long);
  EXPECT_EQ(rows[1].source, dir_.file("l.jsonl") + ":4");
  EXPECT_EQ(rows[2].text, "{}");
  EXPECT_EQ(rows[2].source, dir_.file("l.jsonl") + ":5");
  writeFile(dir_.file("blank.jsonl"), "\n \n");
  EXPECT_TRUE(readAll(dir_.file("blank.jsonl")).empty());
}

TEST_F(ConvertTest, ConvertsFromAFifoAndFromStandardInput) {
  // The sample converted from a FIFO and from "-" (standard input, a pipe) gives the same bytes
  // as from the file.
  const ConvertReport from_file = convertAll("unified-feedback", "unified-feedback.jsonl");
  const std::string want = readFile(out("unified-feedback", Product::kPairs));
  ASSERT_FALSE(want.empty());
  const std::string contents = readFile(input("unified-feedback.jsonl"));
  ConvertOptions options;
  options.format = "unified-feedback";
  options.input = dir_.file("uf.fifo");
  options.outputs[Product::kPairs] = dir_.file("from-fifo.jsonl");
  {
    FifoWriter writer(options.input, contents);
    const ConvertReport report = convertFile(options);
    EXPECT_EQ(report.rows, from_file.rows);
    EXPECT_EQ(report.bad_rows, from_file.bad_rows);
  }
  EXPECT_EQ(readFile(dir_.file("from-fifo.jsonl")), want);

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const int saved_stdin = ::dup(STDIN_FILENO);
  ASSERT_GE(saved_stdin, 0);
  ASSERT_EQ(::dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
  ::close(fds[0]);
  std::thread feed([&] {
    size_t done = 0;
    while (done < contents.size()) {
      const ssize_t n = ::write(fds[1], contents.data() + done, contents.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fds[1]);
  });
  options.input = "-";
  options.outputs[Product::kPairs] = dir_.file("from-stdin.jsonl");
  ConvertReport report;
  try {
    report = convertFile(options);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  feed.join();
  ::dup2(saved_stdin, STDIN_FILENO);
  ::close(saved_stdin);
  EXPECT_EQ(readFile(dir_.file("from-stdin.jsonl")), want);
  EXPECT_EQ(report.bad_rows, from_file.bad_rows);
  ASSERT_FALSE(report.problems.empty());
  EXPECT_THAT(report.problems.front(), ::testing::StartsWith("stdin:"));
}

TEST_F(ConvertTest, EveryConverterIsListedOnce) {
  std::vector<std::string> names;
  for (const DatasetConverter* c : converters()) names.emplace_back(c->name());
  EXPECT_EQ(names, (std::vector<std::string>{"unified-feedback", "hh-rlhf", "ultrafeedback-binarized", "tldr",
                                             "rewardbench", "judgebench", "alpacaeval", "gram-released"}));
  EXPECT_EQ(findConverter("tldr").dataset(), "openai/summarize_from_feedback (comparisons)");
}

}  // namespace
}  // namespace gramrl::data::convert
