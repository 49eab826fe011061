#include "common/world/tasks.h"

#include <set>

#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "tests/support/seed.h"

namespace gramrl::world {
namespace {

TEST(WorldTasks, FamilyNamesAndHeldOut) {
  EXPECT_EQ(familyNames(), (std::vector<std::string>{"srt", "rev", "ddp", "add", "inc", "rot"}));
  EXPECT_EQ(defaultHeldOutFamilies(), (std::vector<std::string>{"rev", "inc"}));
  EXPECT_TRUE(isFamily("ddp"));
  EXPECT_FALSE(isFamily("sort"));
}

// Answers worked out by hand from each family's definition.
TEST(WorldTasks, AnswersOnHandWorkedInputs) {
  EXPECT_EQ(makeTask("srt", "9371").answer, "1379");
  EXPECT_EQ(makeTask("srt", "5050").answer, "0055");
  EXPECT_EQ(makeTask("rev", "9371").answer, "1739");
  EXPECT_EQ(makeTask("rev", "1200").answer, "0021");
  // 3 1 3 3 2 2 1: keep 3, 1, skip 3 3, keep 2, skip 2 1.
  EXPECT_EQ(makeTask("ddp", "3133221").answer, "312");
  EXPECT_EQ(makeTask("ddp", "70077").answer, "70");
  EXPECT_EQ(makeTask("add", "347+85").answer, "432");
  EXPECT_EQ(makeTask("add", "0+0").answer, "0");
  EXPECT_EQ(makeTask("add", "999+999").answer, "1998");
  EXPECT_EQ(makeTask("inc", "1239").answer, "2340");
  EXPECT_EQ(makeTask("inc", "9999").answer, "0000");
  EXPECT_EQ(makeTask("rot", "1234").answer, "2341");
  EXPECT_EQ(makeTask("rot", "90817").answer, "08179");
  const Task t = makeTask("add", "347+85");
  EXPECT_EQ(t.family, "add");
  EXPECT_EQ(t.input, "347+85");
  EXPECT_EQ(t.prompt, "add:347+85");
}

TEST(WorldTasks, ParseTaskRoundTrip) {
  CounterRng rng(gramrl::testing::testSeed(), 99, 0);
  for (int i = 0; i < 600; ++i) {
    const Task t = sampleTask(familyNames()[i % 6], rng);
    const Task back = parseTask(t.prompt);
    EXPECT_EQ(back.family, t.family);
    EXPECT_EQ(back.input, t.input);
    EXPECT_EQ(back.prompt, t.prompt);
    EXPECT_EQ(back.answer, t.answer);
  }
  // Surrounding whitespace, as a prompt from a text file may carry, is ignored.
  EXPECT_EQ(parseTask("  srt:9371\n").answer, "1379");
}

TEST(WorldTasks, ParseTaskRejectsWhatIsNotAWorldPrompt) {
  for (const char* bad : {"", "srt", "srt:", ":1234", "sort:1234", "srt:12a4", "srt:-123", "srt: 1234x", "add:1+",
                          "add:+1", "add:1000+1", "add:01+2", "add:1+2+3", "add:12", "rev:12 34", "SRT:1234"}) {
    EXPECT_THROW(parseTask(bad), DataError) << bad;
  }
  try {
    parseTask("srt:12a4");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("srt:12a4"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parseTask("srt:" + std::string(kMaxInputDigits + 1, '1')), DataError);
  EXPECT_NO_THROW(parseTask("srt:" + std::string(kMaxInputDigits, '1')));
}

TEST(WorldTasks, SampledInputsFollowTheFamilyDistributions) {
  std::set<size_t> list_lengths;
  std::set<size_t> ddp_lengths;
  std::set<size_t> ddp_distinct;
  int64_t max_addend = 0;
  CounterRng rng(7, 1, 2);
  for (int i = 0; i < 3000; ++i) {
    for (const char* family : {"srt", "rev", "inc", "rot"}) {
      const Task t = sampleTask(family, rng);
      list_lengths.insert(t.input.size());
    }
    const Task d = sampleTask("ddp", rng);
    ddp_lengths.insert(d.input.size());
    ddp_distinct.insert(std::set<char>(d.input.begin(), d.input.end()).size());
    const Task a = sampleTask("add", rng);
    const size_t plus = a.input.find('+');
    max_addend = std::max({max_addend, std::stol(a.input.substr(0, plus)), std::stol(a.input.substr(plus + 1))});
  }
  EXPECT_EQ(list_lengths, (std::set<size_t>{4, 5, 6, 7}));
  EXPECT_EQ(ddp_lengths, (std::set<size_t>{5, 6, 7}));
  // A pool of 3-5 digits: at most 5 distinct; at least 1 (drawing one pool digit 5 times is rare but legal).
  EXPECT_LE(*ddp_distinct.rbegin(), 5u);
  EXPECT_TRUE(ddp_distinct.count(5));
  EXPECT_TRUE(ddp_distinct.count(3));
  EXPECT_GE(max_addend, 990);
  EXPECT_LE(max_addend, 999);
  EXPECT_THROW(sampleTask("mul", rng), ConfigError);
}

}  // namespace
}  // namespace gramrl::world
