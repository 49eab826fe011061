#include "common/world/corruptions.h"

#include <algorithm>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "tests/support/seed.h"

namespace gramrl::world {
namespace {

std::vector<size_t> differingPositions(const std::string& a, const std::string& b) {
  std::vector<size_t> out;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] != b[i]) out.push_back(i);
  }
  return out;
}

// Whether `longer` is `shorter` with one character inserted such that the inserted character
// repeats its left neighbour (a duplicate), or, when dup is false, any character (a deletion seen
// from the other side).
bool isOneInsertion(const std::string& shorter, const std::string& longer, bool dup) {
  if (longer.size() != shorter.size() + 1) return false;
  for (size_t i = 0; i < longer.size(); ++i) {
    if (longer.substr(0, i) + longer.substr(i + 1) != shorter) continue;
    if (!dup || (i > 0 && longer[i] == longer[i - 1])) return true;
  }
  return false;
}

// Each corruption against its definition, on many random tasks and positions.
TEST(WorldCorruptions, EachMatchesItsDefinition) {
  CounterRng rng(gramrl::testing::testSeed(), 5, 0);
  std::set<std::pair<size_t, size_t>> swapped_pairs;
  std::set<int> shifts;
  for (int i = 0; i < 3000; ++i) {
    const Task task = sampleTask(familyNames()[i % 6], rng);
    const std::string& s = task.answer;
    const std::string swap = applyCorruption(Corruption::kSwap, s, task, rng);
    ASSERT_EQ(swap.size(), s.size());
    const auto diff = differingPositions(s, swap);
    if (s.size() >= 2) {
      ASSERT_TRUE(diff.empty() || diff.size() == 2) << s << " -> " << swap;
    }
    if (diff.size() == 2) {
      EXPECT_EQ(swap[diff[0]], s[diff[1]]);
      EXPECT_EQ(swap[diff[1]], s[diff[0]]);
      if (s.size() == 4) swapped_pairs.insert({diff[0], diff[1]});
    }

    const std::string drop = applyCorruption(Corruption::kDrop, s, task, rng);
    EXPECT_TRUE(isOneInsertion(drop, s, false)) << s << " -> " << drop;

    const std::string dup = applyCorruption(Corruption::kDuplicate, s, task, rng);
    EXPECT_TRUE(isOneInsertion(s, dup, true)) << s << " -> " << dup;

    const std::string shift = applyCorruption(Corruption::kDigitShift, s, task, rng);
    ASSERT_EQ(shift.size(), s.size());
    const auto changed = differingPositions(s, shift);
    ASSERT_EQ(changed.size(), 1u) << s << " -> " << shift;
    const int delta = ((shift[changed[0]] - '0') - (s[changed[0]] - '0') + 10) % 10;
    EXPECT_TRUE(delta == 1 || delta == 9) << s << " -> " << shift;
    shifts.insert(delta);

    EXPECT_EQ(applyCorruption(Corruption::kTruncate, s, task, rng), s.substr(0, s.size() / 2));
    EXPECT_EQ(applyCorruption(Corruption::kCopyInput, s, task, rng), task.input);
  }
  // Every unordered pair of positions of a 4-digit answer is reachable, and both shift directions.
  EXPECT_EQ(swapped_pairs.size(), 6u);
  EXPECT_EQ(shifts, (std::set<int>{1, 9}));
}

TEST(WorldCorruptions, HandWorkedExamples) {
  const Task task = makeTask("srt", "9371");  // answer 1379
  CounterRng rng(1, 2, 3);
  EXPECT_EQ(applyCorruption(Corruption::kTruncate, "1379", task, rng), "13");
  EXPECT_EQ(applyCorruption(Corruption::kTruncate, "13795", task, rng), "13");
  EXPECT_EQ(applyCorruption(Corruption::kCopyInput, "1379", task, rng), "9371");
  // A digit shift skips the '+' of an add input copied as a response.
  const Task add = makeTask("add", "5+5");
  for (int i = 0; i < 50; ++i) {
    const std::string s = applyCorruption(Corruption::kDigitShift, "5+5", add, rng);
    EXPECT_EQ(s[1], '+');
    EXPECT_NE(s, "5+5");
  }
  EXPECT_STREQ(corruptionName(Corruption::kDigitShift), "digit_shift");
}

// corrupt() always changes the string, never returns it empty or in `avoid`, and uses every kind.
TEST(WorldCorruptions, CorruptAlwaysChangesTheString) {
  CounterRng rng(gramrl::testing::testSeed(), 6, 0);
  std::map<Corruption, int> kinds;
  const int kDraws = 12000;
  for (int i = 0; i < kDraws; ++i) {
    const Task task = sampleTask(familyNames()[i % 6], rng);
    Corruption kind{};
    const std::string once = corrupt(task, task.answer, rng, {}, &kind);
    ++kinds[kind];
    EXPECT_NE(once, task.answer);
    EXPECT_FALSE(once.empty());
    const std::string twice = corrupt(task, once, rng, {task.answer});
    EXPECT_NE(twice, once);
    EXPECT_NE(twice, task.answer);
    EXPECT_FALSE(twice.empty());
  }
  ASSERT_EQ(kinds.size(), static_cast<size_t>(kNumCorruptions));
  // Uniform (1/6) except for redrawn no-ops, e.g. a copy of a palindrome's input for rev.
  for (const auto& [kind, n] : kinds) EXPECT_GT(n, kDraws / 10) << corruptionName(kind);
}

// Answers of one character ("add:0+0" -> "0") leave only some corruptions that change them.
TEST(WorldCorruptions, SingleCharacterAnswers) {
  const Task task = makeTask("add", "0+0");
  CounterRng rng(3, 3, 3);
  std::set<std::string> seen;
  for (int i = 0; i < 500; ++i) seen.insert(corrupt(task, task.answer, rng));
  EXPECT_EQ(seen, (std::set<std::string>{"00", "1", "9", "0+0"}));
}

}  // namespace
}  // namespace gramrl::world
