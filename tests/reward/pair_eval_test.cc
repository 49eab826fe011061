// Pair files, the accuracy tally and its table, with a fake scorer: no model.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/core/errors.h"
#include "reward/gram/pair_eval.h"
#include "tests/support/temp_dir.h"

namespace gramrl::gram {
namespace {

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// margin = |chosen| - |rejected| for view "len", and the reverse for "rev".
class LengthScorer : public PairScorer {
 public:
  std::vector<std::string> views() const override { return {"len", "rev"}; }
  std::vector<std::vector<double>> margins(const std::vector<const EvalPair*>& pairs) override {
    ++calls;
    std::vector<std::vector<double>> out;
    for (const auto* p : pairs) {
      const double d = static_cast<double>(p->pair.chosen.size()) - static_cast<double>(p->pair.rejected.size());
      out.push_back({d, -d});
    }
    return out;
  }
  int calls = 0;
};

TEST(PairEval, PairCredit) {
  EXPECT_EQ(pairCredit(0.1), 1.0);
  EXPECT_EQ(pairCredit(0.0), 0.5);
  EXPECT_EQ(pairCredit(-0.0), 0.5);
  EXPECT_EQ(pairCredit(-3), 0.0);
}

TEST(PairEval, TallyByHand) {
  const std::vector<ScoredPair> pairs{
      {"f", "math", true, {1.0, -1.0}},     // view 0 right, view 1 wrong
      {"f", "math", false, {0.0, 2.0}},     // tie, right
      {"f", "code", true, {-0.5, 0.5}},     // wrong, right
      {"f", "", std::nullopt, {3.0, 0.0}},  // right, tie; no category, no contains_correct
  };
  const AccuracyReport r = tallyAccuracy({"a", "b"}, pairs);
  ASSERT_EQ(r.groups.size(), 5u);  // all, category: code, category: math, yes, no (one file: no file rows)
  EXPECT_EQ(r.groups[0].name, "all");
  EXPECT_EQ(r.groups[0].cells[0].pairs, 4);
  EXPECT_DOUBLE_EQ(r.groups[0].cells[0].correct, 2.5);
  EXPECT_DOUBLE_EQ(r.groups[0].cells[1].correct, 2.5);
  EXPECT_DOUBLE_EQ(r.groups[0].cells[0].accuracy(), 0.625);
  EXPECT_EQ(r.groups[1].name, "category: code");
  EXPECT_DOUBLE_EQ(r.groups[1].cells[0].accuracy(), 0.0);
  EXPECT_DOUBLE_EQ(r.groups[1].cells[1].accuracy(), 1.0);
  EXPECT_EQ(r.groups[2].name, "category: math");
  EXPECT_DOUBLE_EQ(r.groups[2].cells[0].accuracy(), 0.75);
  EXPECT_DOUBLE_EQ(r.groups[2].cells[1].accuracy(), 0.5);
  EXPECT_EQ(r.groups[3].name, "contains_correct: yes");
  EXPECT_EQ(r.groups[3].cells[0].pairs, 2);
  EXPECT_DOUBLE_EQ(r.groups[3].cells[0].accuracy(), 0.5);
  EXPECT_EQ(r.groups[4].name, "contains_correct: no");
  EXPECT_DOUBLE_EQ(r.groups[4].cells[0].accuracy(), 0.5);
  EXPECT_DOUBLE_EQ(r.groups[4].cells[1].accuracy(), 1.0);

  EXPECT_EQ(markdownTable(r),
            "| group | pairs | a | b |\n"
            "| --- | ---: | ---: | ---: |\n"
            "| all | 4 | 0.6250 | 0.6250 |\n"
            "| category: code | 1 | 0.0000 | 1.0000 |\n"
            "| category: math | 2 | 0.7500 | 0.5000 |\n"
            "| contains_correct: yes | 2 | 0.5000 | 0.5000 |\n"
            "| contains_correct: no | 1 | 0.5000 | 1.0000 |\n");
  const nlohmann::json j = reportJson(r);
  EXPECT_EQ(j["views"], nlohmann::json({"a", "b"}));
  EXPECT_EQ(j["groups"][0]["name"], "all");
  EXPECT_EQ(j["groups"][0]["pairs"], 4);
  EXPECT_DOUBLE_EQ(j["groups"][0]["accuracy"]["a"].get<double>(), 0.625);
  EXPECT_DOUBLE_EQ(j["groups"][2]["correct"]["b"].get<double>(), 1.0);
}

TEST(PairEval, ReadsFilesAndScoresEndToEnd) {
  testing::TempDir dir;
  // A world test row, a RewardBench row, an A/B labeled row, a blank line.
  writeFile(dir.file("a.jsonl"),
            R"({"prompt": "sort 2 1", "chosen": "1 2", "rejected": "2", "family": "sort", "contains_correct": true})"
            "\n\n"
            R"({"prompt": "hi", "chosen": "x", "rejected": "yyy", "subset": "chat", "contains_correct": 0})"
            "\n");
  writeFile(dir.file("b.jsonl"),
            R"({"question": "q", "response_a": "aa", "response_b": "b", "winner": "model_b", "category": "chat"})"
            "\n");
  auto pairs = readEvalPairs(dir.file("a.jsonl"));
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].pair.category, "sort");
  EXPECT_EQ(pairs[0].contains_correct, std::optional<bool>(true));
  EXPECT_EQ(pairs[1].contains_correct, std::optional<bool>(false));
  EXPECT_EQ(pairs[1].pair.source, dir.file("a.jsonl") + ":3");
  const auto more = readEvalPairs(dir.file("b.jsonl"));
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].pair.chosen, "b");
  EXPECT_FALSE(more[0].contains_correct.has_value());
  pairs.insert(pairs.end(), more.begin(), more.end());

  LengthScorer scorer;
  std::vector<int64_t> progress;
  const auto scored = scorePairs(pairs, scorer, 2, [&](int64_t done) { progress.push_back(done); });
  EXPECT_EQ(scorer.calls, 2);
  EXPECT_EQ(progress, (std::vector<int64_t>{2, 3}));
  const AccuracyReport r = tallyAccuracy(scorer.views(), scored);
  // len: "1 2" > "2" right; "x" < "yyy" wrong; "b" < "aa" wrong.
  EXPECT_EQ(r.groups[0].name, "all");
  EXPECT_DOUBLE_EQ(r.groups[0].cells[0].correct, 1.0);
  EXPECT_DOUBLE_EQ(r.groups[0].cells[1].correct, 2.0);
  std::vector<std::string> names;
  for (const auto& g : r.groups) names.push_back(g.name);
  EXPECT_EQ(names, (std::vector<std::string>{"all", "file: " + dir.file("a.jsonl"), "file: " + dir.file("b.jsonl"),
                                             "category: chat", "category: sort", "contains_correct: yes",
                                             "contains_correct: no"}));
}

TEST(PairEval, BadRowsNameFileAndLine) {
  testing::TempDir dir;
  writeFile(dir.file("bad.jsonl"), "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n{oops\n");
  try {
    readEvalPairs(dir.file("bad.jsonl"));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
  }
  writeFile(dir.file("cc.jsonl"), R"({"prompt": "p", "chosen": "c", "rejected": "r", "contains_correct": "yes"})");
  EXPECT_THROW(readEvalPairs(dir.file("cc.jsonl")), DataError);
  writeFile(dir.file("empty.jsonl"), "\n\n");
  EXPECT_THROW(readEvalPairs(dir.file("empty.jsonl")), DataError);
  EXPECT_THROW(readEvalPairs(dir.file("missing.jsonl")), DataError);
}

}  // namespace
}  // namespace gramrl::gram
