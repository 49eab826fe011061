// The reward backends (reward/backends/): rule checks against hand-computed values, the scalar
// backends' pairwise and best-of-n readings, composites as weighted sums, the gram and
// bradley_terry backends against their scorers called directly, and makeRewardBackend from YAML.
// Model backends use builtin:toy (byte-level: judge template compact, chat template plain) on the
// CPU, so every test runs in seconds.
#include <cmath>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/config/config_loader.h"
#include "common/core/errors.h"
#include "common/model/pretrained.h"
#include "common/model/sequence_batch.h"
#include "common/model/transformer.h"
#include "common/tokenizer/byte_tokenizer.h"
#include "common/world/world.h"
#include "reward/backends/backend_registry.h"
#include "reward/backends/composite_backend.h"
#include "reward/backends/rule_backend.h"
#include "reward/gram/best_of_n.h"
#include "reward/gram/gram_judge.h"
#include "reward/gram/judge_template.h"
#include "reward/gram/scalar_scorers.h"
#include "tests/support/temp_dir.h"

namespace gramrl::reward {
namespace {

constexpr int64_t kMaxTokens = 96;
constexpr int64_t kBatch = 4;
constexpr double kSame = 1e-9;  // the same computation in the same batches: equal up to rounding

double sigmoidByHand(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Runs `f`, expects it to throw E, and returns the message (empty when it did not throw).
template <class E, class F>
std::string errorOf(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception";
  return {};
}

RewardOptions ruleOptions(const std::string& check) {
  RewardOptions o;
  o.backend = "rule";
  o.rule.check = check;
  return o;
}

// ------------------------------------------------------------------------------------------------
// Rule checks

TEST(RuleBackend, WorldGoldMatchesHandComputedEditDistances) {
  RuleBackend rule("world_gold");
  EXPECT_EQ(rule.name(), "rule:world_gold");
  // rev:9371 -> 1739, srt:9371 -> 1379, add:347+85 -> 432 (common/world/tasks.h).
  const std::vector<PointwiseItem> items{
      {"rev:9371", "1739", "", ""},     // correct: 1
      {"rev:9371", " 1739\n", "", ""},  // surrounding whitespace ignored: 1
      {"rev:9371", "1738", "", ""},     // one substitution of four: 1 - 1/4
      {"rev:9371", "17", "", ""},       // two deletions of four: 1 - 2/4
      {"srt:9371", "1397", "", ""},     // two substitutions of four: 1 - 2/4
      {"add:347+85", "423", "", ""},    // two substitutions of three: 1 - 2/3
  };
  const std::vector<double> expected{1.0, 1.0, 0.75, 0.5, 0.5, 1.0 - 2.0 / 3.0};
  const std::vector<double> r = rule.pointwise(items);
  ASSERT_EQ(r.size(), expected.size());
  for (size_t k = 0; k < r.size(); ++k) EXPECT_NEAR(r[k], expected[k], 1e-12) << "item " << k;
}

TEST(RuleBackend, WorldGoldOnGeneratedRowsEqualsGoldScoreAndPrefersTheAnswer) {
  RuleBackend rule("world_gold");
  for (const std::string kind : {"test", "labeled"}) {
    const auto rows = world::generate(kind, 24, world::WorldOptions{});
    std::vector<PointwiseItem> items;
    for (const auto& row : rows) {
      items.push_back({row["prompt"].get<std::string>(), row["chosen"].get<std::string>(), "", ""});
      items.push_back({row["prompt"].get<std::string>(), row["rejected"].get<std::string>(), "", ""});
    }
    const std::vector<double> r = rule.pointwise(items);
    ASSERT_EQ(r.size(), items.size());
    for (size_t k = 0; k < items.size(); ++k) {
      EXPECT_DOUBLE_EQ(r[k], world::goldScore(items[k].prompt, items[k].response)) << kind << " item " << k;
    }
    // The correct answer scores 1 and beats a corrupted copy of it.
    for (const auto& row : rows) {
      const world::Task task = world::parseTask(row["prompt"].get<std::string>());
      std::string corrupted = task.answer;
      corrupted[0] = corrupted[0] == '0' ? '1' : '0';
      const auto s = rule.pointwise({{task.prompt, task.answer, "", ""}, {task.prompt, corrupted, "", ""}});
      EXPECT_DOUBLE_EQ(s[0], 1.0) << task.prompt;
      EXPECT_LT(s[1], s[0]) << task.prompt << " vs " << corrupted;
    }
  }
}

TEST(RuleBackend, WorldGoldNamesTheItemWhosePromptIsNotAWorldPrompt) {
  RuleBackend rule("world_gold");
  const std::string msg = errorOf<DataError>([&] {
    rule.pointwise({{"rev:9371", "1739", "", ""}, {"what is 2+2?", "4", "", ""}});
  });
  EXPECT_NE(msg.find("rule:world_gold"), std::string::npos) << msg;
  EXPECT_NE(msg.find("item 1"), std::string::npos) << msg;
}

TEST(RuleBackend, ExactMatchTrimsWhitespaceAndNeedsALabel) {
  RuleBackend rule("exact_match");
  const std::vector<PointwiseItem> items{
      {"q", "42", "", "42"},  {"q", " 42\n", "", "42"}, {"q", "42", "", "\t42 "},    {"q", "4 2", "", "42"},
      {"q", "421", "", "42"}, {"q", "", "", "42"},      {"q", "Paris", "", "paris"},
  };
  const std::vector<double> expected{1, 1, 1, 0, 0, 0, 0};
  EXPECT_EQ(rule.pointwise(items), expected);
  const std::string msg = errorOf<DataError>([&] {
    rule.pointwise({{"q", "42", "", "42"}, {"q", "42", "", "42"}, {"q", "42", "", ""}});
  });
  EXPECT_NE(msg.find("item 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("label"), std::string::npos) << msg;
  // Pairwise requests carry no labels.
  const std::string pair_msg = errorOf<DataError>([&] { rule.pairwise({{"q", "a", "b"}}); });
  EXPECT_NE(pair_msg.find("pair 0 response_a"), std::string::npos) << pair_msg;
}

TEST(RuleBackend, ContainsLabel) {
  RuleBackend rule("contains_label");
  const std::vector<PointwiseItem> items{
      {"q", "the answer is 42.", "", "42"},
      {"q", "the answer is 4 2", "", "42"},
      {"q", "42", "", "42"},
      {"q", "The Answer", "", "answer"},  // case-sensitive
  };
  const std::vector<double> expected{1, 0, 1, 0};
  EXPECT_EQ(rule.pointwise(items), expected);
  const std::string msg = errorOf<DataError>([&] { rule.pointwise({{"q", "42", "", ""}}); });
  EXPECT_NE(msg.find("item 0"), std::string::npos) << msg;
}

TEST(RuleBackend, LengthCountsUtf8Bytes) {
  RuleBackend rule("length");
  // "h\u00e9llo": e-acute is 2 bytes; two CJK characters 3 bytes each; one emoji 4 bytes.
  const std::vector<PointwiseItem> items{{"q", "h\xc3\xa9llo", "", ""},
                                         {"q", "\xe6\x97\xa5\xe6\x9c\xac", "", ""},
                                         {"q", "\xf0\x9f\x98\x80", "", ""},
                                         {"q", "", "", ""},
                                         {"q", "abc", "", ""}};
  const std::vector<double> expected{6, 6, 4, 0, 3};
  EXPECT_EQ(rule.pointwise(items), expected);
}

TEST(RuleBackend, UnknownCheckIsAConfigError) {
  const std::string msg = errorOf<ConfigError>([] { RuleBackend("nosuch"); });
  EXPECT_NE(msg.find("nosuch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("world_gold, exact_match, contains_label, length"), std::string::npos) << msg;
}

// ------------------------------------------------------------------------------------------------
// The scalar readings: pairwise and best-of-n

TEST(ScalarBackend, PairwiseIsSigmoidOfTheScoreDifference) {
  RuleBackend rule("length");
  const std::vector<double> p = rule.pairwise({{"q", "abc", "a"}, {"q", "a", "abc"}, {"q", "xy", "zw"}});
  ASSERT_EQ(p.size(), 3u);
  EXPECT_NEAR(p[0], 0.8807970779778823, 1e-15);   // sigmoid(3 - 1), by hand
  EXPECT_NEAR(p[1], 0.11920292202211755, 1e-15);  // sigmoid(1 - 3)
  EXPECT_DOUBLE_EQ(p[2], 0.5);
  EXPECT_TRUE(rule.pairwise({}).empty());
}

TEST(ScalarBackend, BestOfNIsTheArgmaxWithTheFirstWinningTies) {
  RuleBackend rule("length");
  const BestOfNResult r =
      rule.bestOfN({{"q", {"a", "abc", "ab"}}, {"q", {"xx", "yy"}}, {"q", {"abc", "abc", "abcd"}}, {"q", {"only"}}});
  const std::vector<double> scores{1, 3, 2, 2, 2, 3, 3, 4, 4};
  const std::vector<uint32_t> best{1, 0, 2, 0};
  EXPECT_EQ(r.scores, scores);
  EXPECT_EQ(r.best, best);
  const std::string msg = errorOf<DataError>([&] { rule.bestOfN({{"q", {"a"}}, {"q", {}}}); });
  EXPECT_NE(msg.find("group 1"), std::string::npos) << msg;
}

// ------------------------------------------------------------------------------------------------
// Composite

RewardOptions lengthAndGold() {
  RewardOptions o;
  o.backend = "composite";
  o.composite.components = {"rule:length", "rule:world_gold"};
  o.composite.weights = {-0.01, 2.0};
  return o;
}

TEST(CompositeBackend, PointwiseIsTheWeightedSumOfItsComponents) {
  auto backend = makeRewardBackend(lengthAndGold(), "cpu");
  EXPECT_EQ(backend->name(), "composite(-0.01*rule:length + 2*rule:world_gold)");
  const std::vector<PointwiseItem> items{
      {"rev:9371", "1738", "", ""}, {"add:347+85", "432", "", ""}, {"rev:9371", "17", "", ""}};
  // -0.01 * length + 2 * gold: 4 bytes, 0.75; 3 bytes, 1; 2 bytes, 0.5.
  const std::vector<double> expected{-0.04 + 1.5, -0.03 + 2.0, -0.02 + 1.0};
  const std::vector<double> r = backend->pointwise(items);
  ASSERT_EQ(r.size(), expected.size());
  for (size_t k = 0; k < r.size(); ++k) EXPECT_NEAR(r[k], expected[k], 1e-12) << k;
}

TEST(CompositeBackend, BestOfNIsTheArgmaxOfTheWeightedSum) {
  auto backend = makeRewardBackend(lengthAndGold(), "cpu");
  // Gold 0.75, 1, 0.5, 1 and lengths 4, 4, 2, 5: the long correct answer loses to the short one.
  const BestOfNResult r = backend->bestOfN({{"rev:9371", {"1738", "1739", "17", "1739 "}}, {"srt:9371", {"1379"}}});
  const std::vector<double> expected{1.46, 1.96, 0.98, 1.95, 1.96};
  ASSERT_EQ(r.scores.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) EXPECT_NEAR(r.scores[k], expected[k], 1e-12) << k;
  EXPECT_EQ(r.best, (std::vector<uint32_t>{1, 0}));
}

TEST(CompositeBackend, PairwiseIsRefused) {
  auto backend = makeRewardBackend(lengthAndGold(), "cpu");
  const std::string msg = errorOf<DataError>([&] { backend->pairwise({{"rev:9371", "1739", "1738"}}); });
  EXPECT_NE(msg.find("composite backends answer pointwise and best-of-n requests only"), std::string::npos) << msg;
}

// ------------------------------------------------------------------------------------------------
// Bad configuration

TEST(BackendRegistry, UnknownBackendListsTheKnownOnes) {
  RewardOptions o;
  o.backend = "nosuch";
  const std::string msg = errorOf<ConfigError>([&] { makeRewardBackend(o, "cpu"); });
  EXPECT_NE(msg.find("'nosuch'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gram, bradley_terry, likelihood, rule, composite"), std::string::npos) << msg;
  EXPECT_EQ(rewardBackendNames(),
            (std::vector<std::string>{"gram", "bradley_terry", "likelihood", "rule", "composite"}));
}

TEST(BackendRegistry, BadCompositesAreConfigErrors) {
  RewardOptions o = lengthAndGold();
  o.composite.components = {"rule:length", "nosuch"};
  std::string msg = errorOf<ConfigError>([&] { makeRewardBackend(o, "cpu"); });
  EXPECT_NE(msg.find("reward.composite.components[1]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'nosuch'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gram, bradley_terry, likelihood, rule"), std::string::npos) << msg;

  o.composite.components = {"rule:nosuch", "rule:length"};
  msg = errorOf<ConfigError>([&] { makeRewardBackend(o, "cpu"); });
  EXPECT_NE(msg.find("reward.composite.components[0]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rule:nosuch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("world_gold, exact_match, contains_label, length"), std::string::npos) << msg;

  o.composite.components = {"rule:length", "composite"};
  msg = errorOf<ConfigError>([&] { makeRewardBackend(o, "cpu"); });
  EXPECT_NE(msg.find("cannot contain another composite"), std::string::npos) << msg;

  o.composite.components = {"rule:length", "rule:world_gold", "rule:length"};  // 3 components, 2 weights
  msg = errorOf<ConfigError>([&] { makeRewardBackend(o, "cpu"); });
  EXPECT_NE(msg.find("reward.composite.weights"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 components"), std::string::npos) << msg;

  o.composite.components = {};
  o.composite.weights = {};
  msg = errorOf<ConfigError>([&] { makeRewardBackend(o, "cpu"); });
  EXPECT_NE(msg.find("at least one component"), std::string::npos) << msg;

  o.composite.components = {"rule:length"};
  o.composite.weights = {std::numeric_limits<double>::infinity()};
  msg = errorOf<ConfigError>([&] { makeRewardBackend(o, "cpu"); });
  EXPECT_NE(msg.find("reward.composite.weights[0]"), std::string::npos) << msg;
}

TEST(BackendRegistry, MalformedOrMissingDevicesAreConfigErrors) {
  for (const std::string device : {"tpu", "cuda:", "cuda:x", "CPU", "cuda:1234"}) {
    const std::string msg = errorOf<ConfigError>([&] { makeRewardBackend(ruleOptions("length"), device); });
    EXPECT_NE(msg.find("'" + device + "'"), std::string::npos) << msg;
  }
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA is available: cuda:0 exists";
  RewardOptions o;
  o.backend = "gram";
  o.model = "builtin:toy";
  const std::string msg = errorOf<ConfigError>([&] { makeRewardBackend(o, "cuda:0"); });
  EXPECT_NE(msg.find("0 CUDA device"), std::string::npos) << msg;
}

// ------------------------------------------------------------------------------------------------
// Model backends from YAML, against their scorers called directly

class ModelBackendTest : public ::testing::Test {
 protected:
  // The `reward:` section every test here uses; only the lines in `extra` differ.
  RewardOptions optionsFromYaml(const std::string& extra) {
    const std::string path = dir_.file("reward.yaml");
    std::ofstream(path) << "reward:\n"
                           "  model: builtin:toy\n"
                           "  chat_template: plain\n"
                           "  max_tokens: "
                        << kMaxTokens << "\n  batch_size: " << kBatch
                        << "\n"
                           "  gram:\n"
                           "    template: compact\n"
                           "  rule:\n"
                           "    check: world_gold\n"
                        << extra;
    return loadExperimentConfig(path).reward;
  }

  // The judge and the scorer as gramrl gram eval builds them for builtin:toy on the CPU.
  gram::GramJudge directJudge() {
    judge_model_ = loadPretrained("builtin:toy", torch::kFloat, torch::kCPU, PretrainedOptions{0, false});
    return gram::GramJudge(judge_model_, gram::JudgeEncoder(tok_, "plain", gram::judgeTemplate("compact"), kMaxTokens),
                           kBatch);
  }
  gram::BradleyTerryScorer directBradleyTerry() {
    bt_model_ = loadPretrained("builtin:toy", torch::kFloat, torch::kCPU, PretrainedOptions{0, true});
    return gram::BradleyTerryScorer(bt_model_, tokenizer::ChatEncoder(tok_, "plain", kMaxTokens / 2, kMaxTokens / 2),
                                    kBatch);
  }

  // World rows: the rejected response scored against the chosen one as reference.
  static std::vector<PointwiseItem> worldItems(int64_t n) {
    std::vector<PointwiseItem> items;
    for (const auto& row : world::generate("test", n, world::WorldOptions{})) {
      items.push_back(
          {row["prompt"].get<std::string>(), row["rejected"].get<std::string>(), row["chosen"].get<std::string>(), ""});
    }
    return items;
  }

  testing::TempDir dir_{"backends_test"};
  tokenizer::ByteTokenizer tok_;
  std::shared_ptr<Transformer> judge_model_, bt_model_;
};

// The "done when" of the issue: only reward.backend changes, and each backend gives what its
// scorer gives directly.
TEST_F(ModelBackendTest, SameItemsThroughEachBackendEqualTheirScorers) {
  const std::vector<PointwiseItem> items = worldItems(6);

  auto gram_backend = makeRewardBackend(optionsFromYaml("  backend: gram\n"), "cpu");
  auto bt_backend = makeRewardBackend(optionsFromYaml("  backend: bradley_terry\n"), "cpu");
  auto rule_backend = makeRewardBackend(optionsFromYaml("  backend: rule\n"), "cpu");
  EXPECT_EQ(gram_backend->name(), "gram(builtin:toy)");
  EXPECT_EQ(bt_backend->name(), "bradley_terry(builtin:toy)");
  EXPECT_EQ(rule_backend->name(), "rule:world_gold");
  const std::vector<double> g = gram_backend->pointwise(items);
  const std::vector<double> b = bt_backend->pointwise(items);
  const std::vector<double> r = rule_backend->pointwise(items);
  ASSERT_EQ(g.size(), items.size());
  ASSERT_EQ(b.size(), items.size());
  ASSERT_EQ(r.size(), items.size());

  gram::GramJudge judge = directJudge();
  std::vector<gram::PointwiseQuery> gram_queries;
  for (const auto& item : items) gram_queries.push_back({std::nullopt, item.prompt, item.response, item.reference});
  const std::vector<double> g_direct = judge.pointwiseRewards(gram_queries, "probability", /*debias=*/true);

  gram::BradleyTerryScorer scorer = directBradleyTerry();
  std::vector<gram::ScalarQuery> bt_queries;
  for (const auto& item : items) bt_queries.push_back({std::nullopt, item.prompt, item.response});
  const std::vector<double> b_direct = scorer.scores(bt_queries);

  for (size_t k = 0; k < items.size(); ++k) {
    EXPECT_NEAR(g[k], g_direct[k], kSame) << "gram item " << k;
    EXPECT_NEAR(b[k], b_direct[k], kSame) << "bradley_terry item " << k;
    EXPECT_DOUBLE_EQ(r[k], world::goldScore(items[k].prompt, items[k].response)) << "rule item " << k;
    EXPECT_GT(g[k], 0.0);
    EXPECT_LT(g[k], 1.0);
  }
  // Three different reward functions: no two backends agree on every item.
  auto maxDiff = [](const std::vector<double>& x, const std::vector<double>& y) {
    double d = 0;
    for (size_t k = 0; k < x.size(); ++k) d = std::max(d, std::abs(x[k] - y[k]));
    return d;
  };
  EXPECT_GT(maxDiff(g, b), 1e-3);
  EXPECT_GT(maxDiff(g, r), 1e-3);
  EXPECT_GT(maxDiff(b, r), 1e-3);
  // The backends' scores depend on the response.
  EXPECT_GT(maxDiff(b, std::vector<double>(b.size(), b[0])), 0.0);
  EXPECT_GT(maxDiff(g, std::vector<double>(g.size(), g[0])), 0.0);
}

// The label-free likelihood judge as a reward backend (since issue 12) scores as the judge of
// gramrl gram eval --kind likelihood does.
TEST_F(ModelBackendTest, LikelihoodBackendEqualsTheLikelihoodJudge) {
  const std::vector<PointwiseItem> items = worldItems(6);
  auto backend = makeRewardBackend(optionsFromYaml("  backend: likelihood\n"), "cpu");
  EXPECT_EQ(backend->name(), "likelihood(builtin:toy)");
  const std::vector<double> l = backend->pointwise(items);
  judge_model_ = loadPretrained("builtin:toy", torch::kFloat, torch::kCPU, PretrainedOptions{0, false});
  gram::LikelihoodJudge judge(judge_model_, tok_,
                              gram::JudgeEncoder(tok_, "plain", gram::judgeTemplate("compact"), kMaxTokens), kBatch);
  std::vector<gram::ScalarQuery> queries;
  for (const auto& item : items) queries.push_back({std::nullopt, item.prompt, item.response});
  const std::vector<double> direct = judge.scores(queries);
  ASSERT_EQ(l.size(), items.size());
  for (size_t k = 0; k < items.size(); ++k) {
    EXPECT_NEAR(l[k], direct[k], kSame) << "item " << k;
    EXPECT_LT(l[k], 0.0);  // a sum of log-probabilities
  }
}

TEST_F(ModelBackendTest, GramTransformsAndPairwise) {
  const std::vector<PointwiseItem> items = worldItems(4);
  auto probability = makeRewardBackend(optionsFromYaml("  backend: gram\n"), "cpu");
  auto centered = makeRewardBackend(optionsFromYaml("  backend: gram\n  transform: centered\n"), "cpu");
  auto log_odds = makeRewardBackend(optionsFromYaml("  backend: gram\n  transform: log_odds\n"), "cpu");
  const std::vector<double> p = probability->pointwise(items);
  const std::vector<double> c = centered->pointwise(items);
  const std::vector<double> l = log_odds->pointwise(items);
  for (size_t k = 0; k < items.size(); ++k) {
    EXPECT_NEAR(c[k], p[k] - 0.5, kSame) << k;
    EXPECT_NEAR(l[k], std::log(p[k] / (1 - p[k])), 1e-9) << k;
  }

  // Pairwise: the judge's debiased preference of response over reference, as pointwise with the
  // probability transform computes it.
  std::vector<PairItem> pairs;
  for (const auto& item : items) pairs.push_back({item.prompt, item.response, item.reference});
  const std::vector<double> pair_p = probability->pairwise(pairs);
  ASSERT_EQ(pair_p.size(), items.size());
  for (size_t k = 0; k < items.size(); ++k) EXPECT_NEAR(pair_p[k], p[k], kSame) << k;
}

TEST_F(ModelBackendTest, GramNeedsAReferenceAndNamesTheItem) {
  auto backend = makeRewardBackend(optionsFromYaml("  backend: gram\n"), "cpu");
  std::vector<PointwiseItem> items = worldItems(3);
  items[2].reference.clear();
  const std::string msg = errorOf<DataError>([&] { backend->pointwise(items); });
  EXPECT_NE(msg.find("item 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("reference"), std::string::npos) << msg;
  // An empty reference that was given (a policy's greedy answer that stopped at once) is judged:
  // the same as the judge called directly on an empty answer B.
  items[2].has_reference = true;
  const std::vector<double> scores = backend->pointwise(items);
  gram::GramJudge judge = directJudge();
  const std::vector<double> direct =
      judge.preferenceProbabilities({{std::nullopt, items[2].prompt, items[2].response, ""}}, true);
  EXPECT_NEAR(scores[2], direct[0], 1e-6);
}

// Replays a bracket (best_of_n.h) from a matrix of P(i beats j), counting the rounds each wins.
std::vector<double> roundsWonByHand(const std::vector<std::vector<double>>& p, int64_t* winner) {
  std::vector<int64_t> alive(p.size());
  for (size_t k = 0; k < p.size(); ++k) alive[k] = static_cast<int64_t>(k);
  std::vector<double> wins(p.size(), 0.0);
  while (alive.size() > 1) {
    std::vector<int64_t> next;
    for (size_t k = 0; k + 1 < alive.size(); k += 2) {
      const int64_t i = alive[k], j = alive[k + 1];
      const int64_t w = p[i][j] >= 0.5 ? i : j;
      wins[w] += 1;
      next.push_back(w);
    }
    if (alive.size() % 2 == 1) next.push_back(alive.back());
    alive = next;
  }
  *winner = alive[0];
  return wins;
}

TEST_F(ModelBackendTest, GramBestOfNBracketAndAnchorEqualBestOfNCalledDirectly) {
  const world::Task task = world::parseTask("rev:93715");
  const std::vector<CandidateGroup> groups{
      {task.prompt, {"51739", "5173", "51793", "9", "51739 ", "15739"}},
      {"srt:9371", {"1379", "1397", "3179"}},
      {"add:347+85", {"432"}},
  };
  auto bracket = makeRewardBackend(optionsFromYaml("  backend: gram\n  best_of_n: bracket\n"), "cpu");
  auto anchor = makeRewardBackend(optionsFromYaml("  backend: gram\n  best_of_n: anchor\n"), "cpu");
  const BestOfNResult rb = bracket->bestOfN(groups);
  const BestOfNResult ra = anchor->bestOfN(groups);
  ASSERT_EQ(rb.best.size(), groups.size());
  ASSERT_EQ(ra.best.size(), groups.size());
  ASSERT_EQ(rb.scores.size(), 10u);
  ASSERT_EQ(ra.scores.size(), 10u);

  gram::GramJudge judge = directJudge();
  size_t begin = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& group = groups[g];
    const auto n = static_cast<int64_t>(group.candidates.size());
    const auto compare = gram::makeComparator(judge, std::nullopt, group.prompt, group.candidates, true);
    const gram::BracketResult direct_bracket = gram::bracketBestOfN(n, compare);
    const gram::AnchorResult direct_anchor = gram::anchorBestOfN(n, compare);
    EXPECT_EQ(rb.best[g], static_cast<uint32_t>(direct_bracket.winner)) << "group " << g;
    EXPECT_EQ(ra.best[g], static_cast<uint32_t>(direct_anchor.best)) << "group " << g;
    for (int64_t k = 0; k < n; ++k) EXPECT_NEAR(ra.scores[begin + k], direct_anchor.scores[k], kSame) << g << "/" << k;

    // Bracket scores: the rounds each candidate won, replayed from every pair's probability.
    std::vector<std::vector<double>> p(n, std::vector<double>(n, 0.5));
    std::vector<gram::JudgeQuery> queries;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        if (i != j) queries.push_back({std::nullopt, group.prompt, group.candidates[i], group.candidates[j]});
      }
    }
    const std::vector<double> probs = judge.preferenceProbabilities(queries, true);
    size_t q = 0;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        if (i != j) p[i][j] = probs[q++];
      }
    }
    int64_t winner = -1;
    const std::vector<double> wins = roundsWonByHand(p, &winner);
    EXPECT_EQ(winner, direct_bracket.winner) << "group " << g;
    double total = 0;
    for (int64_t k = 0; k < n; ++k) {
      EXPECT_EQ(rb.scores[begin + k], wins[k]) << g << "/" << k;
      total += rb.scores[begin + k];
    }
    EXPECT_EQ(total, static_cast<double>(n - 1)) << "group " << g;  // n - 1 comparisons, one winner each
    begin += group.candidates.size();
  }
}

TEST_F(ModelBackendTest, BradleyTerryPairwiseAndBestOfNFollowFromItsScores) {
  auto backend = makeRewardBackend(optionsFromYaml("  backend: bradley_terry\n"), "cpu");
  const std::vector<PairItem> pairs{{"rev:9371", "1739", "17"}, {"srt:9371", "1397", "1379"}};
  const std::vector<double> ra = backend->pointwise(
      {{pairs[0].prompt, pairs[0].response_a, "", ""}, {pairs[1].prompt, pairs[1].response_a, "", ""}});
  const std::vector<double> rb = backend->pointwise(
      {{pairs[0].prompt, pairs[0].response_b, "", ""}, {pairs[1].prompt, pairs[1].response_b, "", ""}});
  const std::vector<double> p = backend->pairwise(pairs);
  ASSERT_EQ(p.size(), 2u);
  // pairwise scores all four responses in one batch, pointwise above two at a time: float32 value
  // heads in batches of different shape agree to ~1e-7, not to the last bit.
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_NEAR(p[k], sigmoidByHand(ra[k] - rb[k]), 1e-6) << k;
    EXPECT_GT(std::abs(p[k] - 0.5), 1e-5) << k;  // so the check above is not 0.5 == 0.5
  }

  const std::vector<std::string> candidates{"1739", "17", "1738", "9371", "1"};
  const BestOfNResult best = backend->bestOfN({{"rev:9371", candidates}});
  std::vector<PointwiseItem> items;
  for (const auto& c : candidates) items.push_back({"rev:9371", c, "", ""});
  const std::vector<double> r = backend->pointwise(items);
  ASSERT_EQ(best.scores.size(), candidates.size());
  uint32_t argmax = 0;
  for (size_t k = 0; k < r.size(); ++k) {
    EXPECT_NEAR(best.scores[k], r[k], kSame) << k;
    if (r[k] > r[argmax]) argmax = static_cast<uint32_t>(k);
  }
  EXPECT_EQ(best.best, std::vector<uint32_t>{argmax});
}

// A composite with a GRAM component: the weighted sum, with GRAM's best-of-n scores from the
// anchor variant (comparable across candidates) whatever reward.best_of_n says.
TEST_F(ModelBackendTest, CompositeWithGramUsesAnchorScores) {
  const RewardOptions options = optionsFromYaml(
      "  backend: composite\n"
      "  best_of_n: bracket\n"
      "  composite:\n"
      "    components: [gram, 'rule:length']\n"
      "    weights: [1.0, -0.01]\n");
  auto composite = makeRewardBackend(options, "cpu");
  EXPECT_EQ(composite->name(), "composite(1*gram(builtin:toy) + -0.01*rule:length)");
  auto anchor = makeRewardBackend(optionsFromYaml("  backend: gram\n  best_of_n: anchor\n"), "cpu");
  RuleBackend length("length");

  const std::vector<PointwiseItem> items = worldItems(3);
  const std::vector<double> c = composite->pointwise(items);
  const std::vector<double> g = anchor->pointwise(items);
  const std::vector<double> n = length.pointwise(items);
  for (size_t k = 0; k < items.size(); ++k) EXPECT_NEAR(c[k], g[k] - 0.01 * n[k], kSame) << k;

  const std::vector<CandidateGroup> groups{{"rev:9371", {"1739", "17", "1738", "1739 1739"}}};
  const BestOfNResult rc = composite->bestOfN(groups);
  const BestOfNResult ra = anchor->bestOfN(groups);
  const BestOfNResult rl = length.bestOfN(groups);
  uint32_t argmax = 0;
  for (size_t k = 0; k < rc.scores.size(); ++k) {
    EXPECT_NEAR(rc.scores[k], ra.scores[k] - 0.01 * rl.scores[k], kSame) << k;
    if (rc.scores[k] > rc.scores[argmax]) argmax = static_cast<uint32_t>(k);
  }
  EXPECT_EQ(rc.best, std::vector<uint32_t>{argmax});
}

TEST_F(ModelBackendTest, ComponentWeightMismatchInYamlIsAConfigError) {
  const std::string msg = errorOf<ConfigError>([&] {
    optionsFromYaml(
        "  backend: composite\n"
        "  composite:\n"
        "    components: [gram, 'rule:length']\n"
        "    weights: [1.0]\n");
  });
  EXPECT_NE(msg.find("reward.composite.weights"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 components"), std::string::npos) << msg;
}

}  // namespace
}  // namespace gramrl::reward
