#include "common/world/generators.h"

#include <map>

#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "common/world/gold.h"

// Statistical checks use fixed seeds: they are deterministic, and their bounds are 5 or more
// standard deviations wide, so a change of the generator cannot make them flaky, only wrong.

namespace gramrl::world {
namespace {

// splitmix64 seeded with 0: the first outputs from the reference implementation
// (https://prng.di.unimi.it/splitmix64.c).
TEST(WorldRng, SplitMix64ReferenceValues) {
  EXPECT_EQ(splitmix64(0), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(splitmix64(0x9E3779B97F4A7C15ULL), 0x6E789E6AA1B965F4ULL);
  CounterRng a(1, 2, 3), b(1, 2, 3), c(1, 2, 4);
  EXPECT_EQ(a.next(), b.next());
  EXPECT_NE(a.next(), c.next());
  CounterRng r(9, 9, 9);
  std::map<uint64_t, int> counts;
  for (int i = 0; i < 7000; ++i) ++counts[r.uniformInt(7)];
  ASSERT_EQ(counts.size(), 7u);
  for (const auto& [v, n] : counts) EXPECT_NEAR(n, 1000, 150) << v;
}

TEST(WorldGenerators, FractionCorrectAndSecondCorruptions) {
  CounterRng rng(11, 0, 0);
  const int kN = 20000;
  int correct = 0, second = 0;
  for (int i = 0; i < kN; ++i) {
    const Task task = sampleTask(familyNames()[i % 6], rng);
    const Response r = sampleResponse(task, rng, 0.4, 0.3);
    EXPECT_EQ(r.corruptions == 0, r.text == task.answer);
    correct += r.corruptions == 0;
    second += r.corruptions == 2;
  }
  // sd 0.0035 for the correct fraction, 0.0042 for the second-corruption share of 12000.
  EXPECT_NEAR(correct / double(kN), 0.4, 0.02);
  EXPECT_NEAR(second / double(kN - correct), 0.3, 0.025);
}

TEST(WorldGenerators, SftDemonstrationsAreCorrectAtDemoRate) {
  WorldOptions options;
  options.seed = 3;
  int correct = 0;
  const auto rows = generate("sft", 10000, options);
  for (const auto& row : rows) {
    EXPECT_EQ(row.size(), 3u);
    correct += goldScore(row["prompt"].get<std::string>(), row["response"].get<std::string>()) == 1.0;
  }
  EXPECT_NEAR(correct / 10000.0, 0.7, 0.025);  // sd 0.0046
}

TEST(WorldGenerators, PromptRowsCarryTheReference) {
  const auto rows = generate("prompts", 60, WorldOptions{});
  for (const auto& row : rows) {
    const Task t = parseTask(row["prompt"].get<std::string>());
    EXPECT_EQ(row["reference"], t.answer);
    EXPECT_EQ(row["family"], t.family);
  }
}

TEST(WorldGenerators, LabeledPairsHaveNoTiesAndTenPercentFlips) {
  WorldOptions options;
  options.seed = 5;
  const int kN = 20000;
  int flipped = 0;
  for (const auto& row : generate("labeled", kN, options)) {
    const std::string prompt = row["prompt"];
    const double chosen = row["chosen_score"], rejected = row["rejected_score"];
    EXPECT_DOUBLE_EQ(chosen, goldScore(prompt, row["chosen"].get<std::string>()));
    EXPECT_DOUBLE_EQ(rejected, goldScore(prompt, row["rejected"].get<std::string>()));
    ASSERT_NE(chosen, rejected) << row.dump();
    EXPECT_EQ(row["flipped"].get<bool>(), chosen < rejected) << row.dump();
    EXPECT_FALSE(row.contains("contains_correct"));
    flipped += row["flipped"].get<bool>();
  }
  EXPECT_NEAR(flipped / double(kN), 0.10, 0.012);  // sd 0.0021
}

TEST(WorldGenerators, TestPairsAreNoiseFreeAndMarkTheCorrectAnswer) {
  WorldOptions options;
  options.seed = 8;
  const int kN = 6000;
  int with_correct = 0;
  for (const auto& row : generate("test", kN, options)) {
    const Task t = parseTask(row["prompt"].get<std::string>());
    EXPECT_GT(row["chosen_score"].get<double>(), row["rejected_score"].get<double>()) << row.dump();
    EXPECT_FALSE(row.contains("flipped"));
    const bool contains = row["chosen"] == t.answer || row["rejected"] == t.answer;
    EXPECT_EQ(row["contains_correct"].get<bool>(), contains) << row.dump();
    if (contains) {
      EXPECT_EQ(row["chosen"], t.answer);
    }
    with_correct += contains;
  }
  // The feasibility study measured 62% of test pairs with the exact answer: 0.48 one-correct
  // against 0.36 two-wrong pairs minus their ties.
  EXPECT_NEAR(with_correct / double(kN), 0.62, 0.04);
}

TEST(WorldGenerators, UnlabeledPairsDifferInGoldScore) {
  for (const auto& row : generate("unlabeled", 3000, WorldOptions{})) {
    const std::string prompt = row["prompt"];
    EXPECT_NE(goldScore(prompt, row["response_a"].get<std::string>()),
              goldScore(prompt, row["response_b"].get<std::string>()));
    EXPECT_EQ(row.size(), 4u);
  }
}

TEST(WorldGenerators, RowsArePureFunctionsOfSeedKindAndIndex) {
  for (const auto& kind : generatorKinds()) {
    WorldOptions options;
    options.seed = 42;
    const auto small = generate(kind, 10, options);
    const auto large = generate(kind, 1000, options);
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(small[i], large[i]) << kind << " row " << i;
      EXPECT_EQ(generateRow(kind, i, options), small[i]);
    }
    EXPECT_EQ(generate(kind, 1000, options), large);
    options.families = {"rot", "add", "srt", "inc", "ddp", "rev", "add"};  // order and duplicates do not matter
    EXPECT_EQ(generate(kind, 1000, options), large) << kind;
    options.seed = 43;
    EXPECT_NE(generate(kind, 10, options), small) << kind;
  }
  // Kinds draw from separate streams: the same seed gives unrelated prompts.
  EXPECT_NE(generate("prompts", 10, WorldOptions{})[3]["prompt"], generate("sft", 10, WorldOptions{})[3]["prompt"]);
}

// Change detector for the data sets: these rows must stay the same across gramrl versions, or
// every stored experiment's data would silently change. Regenerate only on purpose.
TEST(WorldGenerators, PinnedRows) {
  const auto rows = generate("prompts", 6, WorldOptions{});
  std::string prompts;
  for (const auto& row : rows) prompts += row["prompt"].get<std::string>() + " ";
  EXPECT_EQ(prompts, "srt:2817318 rev:2981193 ddp:79726 add:770+902 inc:76348 rot:41641 ");
}

TEST(WorldGenerators, FamilySelection) {
  WorldOptions options;
  options.families = {"srt", "ddp", "add", "rot"};
  std::map<std::string, int> counts;
  for (const auto& row : generate("labeled", 400, options)) ++counts[row["family"].get<std::string>()];
  EXPECT_EQ(counts, (std::map<std::string, int>{{"add", 100}, {"ddp", 100}, {"rot", 100}, {"srt", 100}}));
  EXPECT_EQ(resolveFamilies({}), familyNames());
  EXPECT_EQ(resolveFamilies({"inc", "srt", "inc"}), (std::vector<std::string>{"srt", "inc"}));
}

TEST(WorldGenerators, BadOptionsAreConfigErrors) {
  WorldOptions options;
  EXPECT_THROW(generate("pairs", 1, options), ConfigError);
  EXPECT_THROW(generate("labeled", -1, options), ConfigError);
  options.families = {"srt", "mul"};
  EXPECT_THROW(generate("labeled", 1, options), ConfigError);
  options = WorldOptions{};
  options.label_noise = 1.5;
  EXPECT_THROW(generate("labeled", 1, options), ConfigError);
  options = WorldOptions{};
  options.correct_prob = -0.1;
  EXPECT_THROW(generate("sft", 1, options), ConfigError);
  options = WorldOptions{};
  options.correct_prob = 1.0;  // pairs would always tie; prompts and demonstrations are fine
  EXPECT_THROW(generate("test", 1, options), ConfigError);
  EXPECT_NO_THROW(generate("prompts", 1, options));
  EXPECT_TRUE(generate("labeled", 0, WorldOptions{}).empty());
}

}  // namespace
}  // namespace gramrl::world
