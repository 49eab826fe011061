#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "common/config/config_loader.h"
#include "common/core/errors.h"

namespace gramrl {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("gramrl_config_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }

  std::vector<std::string> errors(const std::string& path, const std::vector<std::string>& overrides = {}) {
    std::vector<std::string> out;
    for (const auto& issue : checkExperimentConfig(path, overrides).issues) out.push_back(issue.describe());
    return out;
  }

  fs::path dir_;
};

TEST_F(ConfigTest, EmptyFileGivesDefaults) {
  const std::string p = write("empty.yaml", "");
  ConfigLoadResult r = checkExperimentConfig(p);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r.config.learner.ppo.clip, 0.2);
  EXPECT_EQ(r.config.reward.backend, "gram");
  EXPECT_EQ(r.config.launch.transport.bind_host, "127.0.0.1");
}

TEST_F(ConfigTest, ReadsNestedValues) {
  const std::string p = write("ok.yaml",
                              "learner:\n  lr: 3.0e-5\n  ppo:\n    clip: 0.1\n    epochs: 2\n"
                              "reward:\n  backend: rule\n  debias: false\n"
                              "launch:\n  slurm:\n    extra_args: [--exclusive, '--gres=gpu:8']\n");
  ExperimentConfig c = loadExperimentConfig(p);
  EXPECT_DOUBLE_EQ(c.learner.lr, 3e-5);
  EXPECT_DOUBLE_EQ(c.learner.ppo.clip, 0.1);
  EXPECT_EQ(c.learner.ppo.epochs, 2);
  EXPECT_EQ(c.reward.backend, "rule");
  EXPECT_FALSE(c.reward.debias);
  EXPECT_EQ(c.launch.slurm.extra_args, (std::vector<std::string>{"--exclusive", "--gres=gpu:8"}));
}

TEST_F(ConfigTest, UnknownKeySuggestsTheClosestName) {
  const std::string p = write("typo.yaml", "learner:\n  ppo:\n    clp: 0.1\n");
  EXPECT_EQ(errors(p),
            std::vector<std::string>{"learner.ppo.clp: unknown key (did you mean learner.ppo.clip?) (" + p + ":3:5)"});
}

TEST_F(ConfigTest, UnknownKeyWithoutNearNameListsKnownKeys) {
  // experiment: a small section whose key list rarely changes.
  const std::string p = write("unknown.yaml", "experiment:\n  zzzzzzzz: 1\n");
  EXPECT_EQ(errors(p), std::vector<std::string>{"experiment.zzzzzzzz: unknown key (known keys here: name, seed, "
                                                "output_dir, log_level, check_resume_inputs) (" +
                                                p + ":2:3)"});
}

TEST_F(ConfigTest, UnknownSection) {
  const std::string p = write("section.yaml", "learnr:\n  lr: 0.1\n");
  EXPECT_EQ(errors(p), std::vector<std::string>{"learnr: unknown key (did you mean learner?) (" + p + ":1:1)"});
}

TEST_F(ConfigTest, WrongTypes) {
  const std::string p = write("types.yaml",
                              "learner:\n  lr: fast\n  total_steps: 1.5\n  ppo: 3\n"
                              "reward:\n  debias: yes\n  replicas: \"2\"\n"
                              "launch:\n  slurm:\n    extra_args: --exclusive\n");
  const std::vector<std::string> e = errors(p);
  ASSERT_EQ(e.size(), 6u);
  // Issues come in the order the option structs declare their fields.
  EXPECT_EQ(e[0], "reward.replicas: expected an integer, got the string \"2\" (" + p + ":7:13)");
  EXPECT_EQ(e[1], "reward.debias: expected true or false, got yes (" + p + ":6:11)");
  EXPECT_EQ(e[2], "learner.total_steps: expected an integer, got 1.5 (" + p + ":3:16)");
  EXPECT_EQ(e[3], "learner.lr: expected a number, got fast (" + p + ":2:7)");
  EXPECT_EQ(e[4], "learner.ppo: expected a section (a mapping of keys), got 3 (" + p + ":4:8)");
  EXPECT_EQ(e[5], "launch.slurm.extra_args: expected a list of strings, got --exclusive (" + p + ":10:17)");
}

TEST_F(ConfigTest, OutOfRangeValues) {
  const std::string p = write("range.yaml",
                              "learner:\n  ppo:\n    clip: -2\n    gamma: 1.5\n  ranks: 0\n"
                              "rollout:\n  top_p: 0\n"
                              "reward:\n  backend: magic\n");
  EXPECT_EQ(errors(p),
            (std::vector<std::string>{
                "reward.backend: expected one of gram, bradley_terry, likelihood, rule, composite, got 'magic' (" + p +
                    ":9:12)",
                "rollout.top_p: expected a number in (0, 1], got 0 (" + p + ":7:10)",
                "learner.ranks: expected an integer in [1, 65536], got 0 (" + p + ":5:10)",
                "learner.ppo.clip: expected a number in (0, 1), got -2 (" + p + ":3:11)",
                "learner.ppo.gamma: expected a number in [0, 1], got 1.5 (" + p + ":4:12)",
            }));
}

TEST_F(ConfigTest, DuplicateKeys) {
  const std::string p = write("dup.yaml", "learner:\n  lr: 0.1\n  ranks: 2\n  lr: 0.2\n");
  EXPECT_EQ(errors(p),
            std::vector<std::string>{"learner.lr: duplicate key (first defined at " + p + ":2:3) (" + p + ":4:3)"});
}

TEST_F(ConfigTest, DuplicateSections) {
  const std::string p = write("dupsec.yaml", "reward:\n  replicas: 2\nreward:\n  replicas: 3\n");
  EXPECT_EQ(errors(p),
            std::vector<std::string>{"reward: duplicate key (first defined at " + p + ":1:1) (" + p + ":3:1)"});
}

TEST_F(ConfigTest, YamlSyntaxError) {
  const std::string p = write("syntax.yaml", "learner:\n  ppo: [1, 2\n");
  const auto e = errors(p);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].rfind("YAML syntax error: ", 0), 0u) << e[0];
  EXPECT_NE(e[0].find("(" + p + ":"), std::string::npos) << e[0];
}

// Issue 15: a small document must not expand into gigabytes. Inputs differ from the issue's
// (9 levels of 9): here 12 levels of 6 maps-of-aliases (6^12 ~ 2e9 values) and a long scalar
// aliased many times; each must fail fast, without building the tree.
TEST_F(ConfigTest, AliasBombsAreRefusedBeforeExpansion) {
  std::string bomb = "base: &l0 {k: v}\n";
  for (int level = 1; level <= 12; ++level) {
    bomb += fmt::format("l{}: &l{} {{", level, level);
    for (int i = 0; i < 6; ++i) bomb += fmt::format("{}x{}: *l{}", i ? ", " : "", i, level - 1);
    bomb += "}\n";
  }
  const std::string p = write("bomb.yaml", bomb);
  const auto start = std::chrono::steady_clock::now();
  const auto e = errors(p);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("expands to more than 100000 values"), std::string::npos) << e[0];
  EXPECT_NE(e[0].find("(" + p + ":"), std::string::npos) << e[0];
  EXPECT_LT(ms.count(), 2000) << "the guard must not expand the aliases";

  std::string wide = "big: &big '" + std::string(1 << 20, 'x') + "'\nmany: [";
  for (int i = 0; i < 40; ++i) wide += i ? ", *big" : "*big";
  wide += "]\n";
  const auto e2 = errors(write("wide.yaml", wide));
  ASSERT_EQ(e2.size(), 1u);
  EXPECT_NE(e2[0].find("expands to more than 16777216 bytes"), std::string::npos) << e2[0];
}

TEST_F(ConfigTest, AliasCountAndSelfReferenceAreBounded) {
  std::string many = "a: &a 1\nlist: [";
  for (int i = 0; i < 1500; ++i) many += i ? ",*a" : "*a";
  many += "]\n";
  const auto e = errors(write("many.yaml", many));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("more than 1000 aliases"), std::string::npos) << e[0];

  const auto e2 = errors(write("self.yaml", "learner: &me\n  inner: *me\n"));
  ASSERT_EQ(e2.size(), 1u);
  EXPECT_NE(e2[0].find("contains it"), std::string::npos) << e2[0];

  // A few ordinary aliases still work.
  const std::string ok = write("ok.yaml", "learner:\n  lr: &rate 0.25\n  ppo:\n    clip: *rate\n");
  EXPECT_TRUE(errors(ok).empty());
  EXPECT_DOUBLE_EQ(loadExperimentConfig(ok).learner.ppo.clip, 0.25);
}

TEST_F(ConfigTest, CommonTextMistakesSayWhatHappened) {
  // A tab in the indentation of a nested key.
  const auto tab = errors(write("tab.yaml", "reward:\n  replicas: 2\n\tbackend: rule\n"));
  ASSERT_EQ(tab.size(), 1u);
  EXPECT_NE(tab[0].find("line 3 is indented with a tab"), std::string::npos) << tab[0];

  // A NUL byte inside a quoted value, located.
  const std::string nul_text = std::string("experiment:\n  name: \"ab") + '\0' + "cd\"\n";
  const std::string np = write("nul.yaml", nul_text);
  const auto nul = errors(np);
  ASSERT_EQ(nul.size(), 1u);
  EXPECT_NE(nul[0].find("NUL byte"), std::string::npos) << nul[0];
  EXPECT_NE(nul[0].find(np + ":2:12"), std::string::npos) << nul[0];

  // Deep nesting, flow and block.
  const auto flow = errors(write("flow.yaml", "learner: " + std::string(300, '{') + "\n"));
  ASSERT_EQ(flow.size(), 1u);
  EXPECT_NE(flow[0].find("nested more than 64 levels"), std::string::npos) << flow[0];
  std::string block;
  for (int i = 0; i < 80; ++i) block += std::string(static_cast<std::size_t>(i), ' ') + "k" + std::to_string(i) + ":\n";
  const auto deep = errors(write("deep.yaml", block));
  ASSERT_EQ(deep.size(), 1u);
  EXPECT_NE(deep[0].find("nested more than 64 levels"), std::string::npos) << deep[0];

  // Overrides go through the same guard.
  const auto o = errors(write("plain.yaml", ""), {"learner.lr=" + std::string(100, '[')});
  ASSERT_EQ(o.size(), 1u);
  EXPECT_NE(o[0].find("nested more than 64 levels"), std::string::npos) << o[0];
}

// Issue 15: a key with no value is reported at the key's own line, whatever follows it (another
// key, a deeper or shallower one, blank lines and comments, the end of the file).
TEST_F(ConfigTest, AKeyWithoutAValueIsReportedAtItsLine) {
  const std::string p = write("empty.yaml",
                              "reward:\n"
                              "  replicas:\n"
                              "  server:\n"
                              "    max_request_items:\n"
                              "\n"
                              "    # a comment\n"
                              "    max_batch_tokens: 100\n"
                              "rollout:\n"
                              "  top_k:\n"
                              "learner:\n"
                              "  lr:");
  std::string all;
  for (const auto& e : errors(p)) all += e + "\n";
  for (const auto& [key, where] :
       std::vector<std::pair<std::string, std::string>>{{"reward.replicas: ", ":2:3)"},
                                                        {"reward.server.max_request_items: ", ":4:5)"},
                                                        {"rollout.top_k: ", ":9:3)"},
                                                        {"learner.lr: ", ":11:3)"}}) {
    const auto at = all.find(key);
    ASSERT_NE(at, std::string::npos) << key << " not reported:\n" << all;
    EXPECT_EQ(all.substr(at, all.find('\n', at) - at).find(p + where) != std::string::npos, true)
        << key << " should point at " << where << ":\n"
        << all;
  }
}

TEST_F(ConfigTest, DirectoryWhereAFileIsExpected) {
  fs::create_directories(dir_ / "adir");
  const std::string d = (dir_ / "adir").string();
  EXPECT_EQ(errors(d), std::vector<std::string>{"cannot read config: this is a directory; give the path of a YAML "
                                                "file in it (" +
                                                d + ")"});
  const auto e = errors(write("child.yaml", "extends: adir\n"));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("this is a directory"), std::string::npos) << e[0];
}

// Issue 15: experiment.name is one directory under output_dir, never its parent or itself.
TEST_F(ConfigTest, ExperimentNameIsOnePlainPathComponent) {
  for (const std::string bad : {"'.'", "'..'", "a/b", "'../up'", "\"tab\\there\"", "'back\\slash'", "''"}) {
    const auto e = errors(write("name.yaml", "experiment:\n  name: " + bad + "\n"));
    ASSERT_EQ(e.size(), 1u) << bad;
    EXPECT_NE(e[0].find("experiment.name: expected one plain directory name"), std::string::npos) << e[0];
  }
  for (const std::string good : {"run-1", "..hidden", "a.b", "x..y"}) {
    EXPECT_TRUE(errors(write("name.yaml", "experiment:\n  name: '" + good + "'\n")).empty()) << good;
  }
}

// Issue 15: ports that replicas would derive must be ports, and the two ranges apart.
TEST_F(ConfigTest, ReplicaPortsAreChecked) {
  const auto high = errors(write("p.yaml", "reward:\n  replicas: 4\n  server: {port: 65534}\n"));
  ASSERT_EQ(high.size(), 1u);
  EXPECT_NE(high[0].find("reward.server.port: replica ports 65534 to 65537 pass 65535"), std::string::npos) << high[0];
  const auto overlap = errors(write("o.yaml", "reward:\n  replicas: 3\n  server: {port: 7000, http_port: 7002}\n"));
  ASSERT_EQ(overlap.size(), 1u);
  EXPECT_NE(overlap[0].find("reward.server.http_port: the HTTP ports overlap"), std::string::npos) << overlap[0];
  EXPECT_TRUE(errors(write("ok.yaml", "reward:\n  replicas: 3\n  server: {port: 7000, http_port: 7003}\n")).empty());
}

// Issue 15: the HTTP endpoint's limits are keys with bounds, read from the file.
TEST_F(ConfigTest, HttpEndpointLimitsAreKeysWithBounds) {
  const std::string good = write("http.yaml",
                                 "reward:\n  server:\n    http:\n      max_connections: 300\n"
                                 "      max_connections_per_address: 20\n      header_timeout_ms: 2500\n"
                                 "      max_header_kb: 8\n");
  const ExperimentConfig c = loadExperimentConfig(good);
  EXPECT_EQ(c.reward.server.http.max_connections, 300);
  EXPECT_EQ(c.reward.server.http.max_connections_per_address, 20);
  EXPECT_EQ(c.reward.server.http.header_timeout_ms, 2500);
  EXPECT_EQ(c.reward.server.http.max_header_kb, 8);
  EXPECT_EQ(c.reward.server.http.io_timeout_ms, 30000);  // the default

  const auto e = errors(write("bad.yaml",
                              "reward:\n  server:\n    http:\n      header_timeout_ms: 5\n      io_threads: 0\n"
                              "      max_header_kb: 4096\n"),
                        {"reward.server.http.max_connections=0"});
  std::string all;
  for (const auto& line : e) all += line + "\n";
  EXPECT_EQ(e.size(), 4u) << all;
  for (const char* key : {"reward.server.http.header_timeout_ms: expected an integer in [100, 3600000], got 5",
                          "reward.server.http.io_threads: expected an integer in [1, 64], got 0",
                          "reward.server.http.max_header_kb: expected an integer in [1, 1024], got 4096",
                          "reward.server.http.max_connections: expected an integer in [1, 65536], got 0"}) {
    EXPECT_NE(all.find(key), std::string::npos) << key << " in\n" << all;
  }
  const auto per = errors(write("per.yaml",
                                "reward: {server: {http: {max_connections: 10, "
                                "max_connections_per_address: 11}}}\n"));
  ASSERT_EQ(per.size(), 1u);
  EXPECT_NE(per[0].find("reward.server.http.max_connections_per_address: expected at most max_connections (10)"),
            std::string::npos)
      << per[0];
}

TEST_F(ConfigTest, MissingFile) {
  const std::string p = (dir_ / "nope.yaml").string();
  EXPECT_EQ(errors(p), std::vector<std::string>{"cannot read config: no such file (" + p + ")"});
  EXPECT_THROW(loadExperimentConfig(p), ConfigError);
}

TEST_F(ConfigTest, TopLevelMustBeAMapping) {
  const std::string p = write("list.yaml", "- a\n- b\n");
  EXPECT_EQ(errors(p), std::vector<std::string>{
                           "a config file must be a mapping of sections (experiment:, policy:, ...) (" + p + ":1:1)"});
}

TEST_F(ConfigTest, CrossFieldConstraint) {
  const std::string p = write("batch.yaml", "learner:\n  global_batch_size: 30\n  micro_batch_size: 4\n  ranks: 2\n");
  EXPECT_EQ(errors(p), std::vector<std::string>{"learner.global_batch_size: expected a multiple of micro_batch_size * "
                                                "ranks (4 * 2), got 30 (" +
                                                p + ":2:22)"});
}

TEST_F(ConfigTest, ExtendsMergesSectionBySection) {
  write("base.yaml", "learner:\n  lr: 0.01\n  ppo:\n    clip: 0.3\n    epochs: 4\nreward:\n  replicas: 3\n");
  const std::string child = write("child.yaml", "extends: base.yaml\nlearner:\n  ppo:\n    clip: 0.1\n");
  ExperimentConfig c = loadExperimentConfig(child);
  EXPECT_DOUBLE_EQ(c.learner.lr, 0.01);       // from the base
  EXPECT_DOUBLE_EQ(c.learner.ppo.clip, 0.1);  // the child wins
  EXPECT_EQ(c.learner.ppo.epochs, 4);         // sibling keys of the base survive
  EXPECT_EQ(c.reward.replicas, 3);
}

TEST_F(ConfigTest, ExtendsChainsAndReportsErrorsInTheRightFile) {
  const std::string base = write("base.yaml", "learner:\n  ppo:\n    clip: 7\n");
  write("mid.yaml", "extends: base.yaml\nreward:\n  replicas: 2\n");
  const std::string top = write("top.yaml", "extends: mid.yaml\n");
  EXPECT_EQ(errors(top),
            std::vector<std::string>{"learner.ppo.clip: expected a number in (0, 1), got 7 (" + base + ":3:11)"});
}

TEST_F(ConfigTest, ExtendsMissingBase) {
  const std::string p = write("child.yaml", "extends: missing.yaml\n");
  EXPECT_EQ(errors(p), std::vector<std::string>{"extends: cannot read base config " + (dir_ / "missing.yaml").string() +
                                                ": no such file (" + p + ":1:10)"});
}

TEST_F(ConfigTest, ExtendsCycle) {
  write("a.yaml", "extends: b.yaml\n");
  const std::string b = write("b.yaml", "extends: a.yaml\n");
  const auto e = errors(dir_ / "a.yaml");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("extends: config files extend each other in a cycle"), std::string::npos) << e[0];
}

TEST_F(ConfigTest, OverridesApplyAfterFiles) {
  const std::string p = write("o.yaml", "learner:\n  ppo:\n    clip: 0.3\n");
  ExperimentConfig c = loadExperimentConfig(
      p, {"learner.ppo.clip=0.1", "reward.backend=rule", "launch.slurm.extra_args=[a, b]", "experiment.name='x 1'"});
  EXPECT_DOUBLE_EQ(c.learner.ppo.clip, 0.1);
  EXPECT_EQ(c.reward.backend, "rule");
  EXPECT_EQ(c.launch.slurm.extra_args, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.experiment.name, "x 1");
}

TEST_F(ConfigTest, OverridesAreValidatedLikeTheFile) {
  const std::string p = write("o.yaml", "");
  EXPECT_EQ(errors(p, {"learner.ppo.clip=2"}),
            std::vector<std::string>{
                "learner.ppo.clip: expected a number in (0, 1), got 2 (command line: learner.ppo.clip=2)"});
  EXPECT_EQ(errors(p, {"learner.ppo.clp=0.1"}),
            std::vector<std::string>{"learner.ppo.clp: unknown key (did you mean learner.ppo.clip?) (command line: "
                                     "learner.ppo.clp=0.1)"});
  EXPECT_EQ(errors(p, {"learner.lr"}),
            std::vector<std::string>{"an override must look like section.key=value (command line: learner.lr)"});
  EXPECT_EQ(errors(p, {"learner..lr=1"}),
            std::vector<std::string>{
                "learner..lr: an override path must be dot-separated key names (command line: learner..lr=1)"});
  EXPECT_EQ(errors(p, {"learner.lr.x=1"}),
            std::vector<std::string>{"learner.lr: expected a number, got a section (command line: learner.lr.x=1)"});
}

TEST_F(ConfigTest, OverrideThroughAScalarSetInTheFile) {
  const std::string p = write("o.yaml", "learner:\n  lr: 0.1\n");
  EXPECT_EQ(errors(p, {"learner.lr.x=1"}),
            std::vector<std::string>{
                "learner.lr.x: learner.lr is not a section, so it has no key x (command line: learner.lr.x=1)"});
}

TEST_F(ConfigTest, EveryErrorIsReportedAndTheThrownMessageListsThemAll) {
  const std::string p = write("many.yaml", "learner:\n  lr: -1\n  bogus: 1\nreward:\n  replicas: 0\n");
  try {
    loadExperimentConfig(p);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              p +
                  " has 3 errors:\n"
                  "  reward.replicas: expected an integer in [1, 1024], got 0 (" +
                  p +
                  ":5:13)\n"
                  "  learner.lr: expected a number in (0, 1], got -1 (" +
                  p +
                  ":2:7)\n"
                  "  learner.bogus: unknown key (known keys here: algorithm, ranks, device, threads, total_steps, "
                  "global_batch_size, micro_batch_size, lr, min_lr_ratio, weight_decay, adam_beta1, adam_beta2, "
                  "adam_eps, schedule, warmup_ratio, max_grad_norm, precision, freeze, activation_checkpointing, "
                  "zero_stage, resume, eval_every, eval_batch_size, log_every, tensorboard, collective_timeout_s, "
                  "allreduce_bucket_mb, data, gram, ppo, grpo, dpo, reward_shaping, checkpoint) (" +
                  p + ":3:3)");
  }
}

TEST_F(ConfigTest, ResolvedYamlReadsBackToTheSameConfig) {
  const std::string p = write("r.yaml",
                              "learner:\n  lr: 3.0e-7\n  ppo:\n    clip: 0.15\nexperiment:\n  name: 'a: b'\n"
                              "launch:\n  slurm:\n    extra_args: ['--x=1', y]\n");
  ExperimentConfig c = loadExperimentConfig(p);
  const std::string yaml = toYaml(c);
  const std::string again = write("again.yaml", yaml);
  ExperimentConfig d = loadExperimentConfig(again);
  EXPECT_EQ(toYaml(d), yaml);
  EXPECT_DOUBLE_EQ(d.learner.lr, 3e-7);
  EXPECT_EQ(d.experiment.name, "a: b");
  EXPECT_EQ(d.launch.slurm.extra_args, (std::vector<std::string>{"--x=1", "y"}));
}

TEST_F(ConfigTest, NumbersAreStrict) {
  const std::string p = write("n.yaml", "learner:\n  lr: .inf\n  total_steps: 99999999999999999999\n");
  EXPECT_EQ(errors(p), (std::vector<std::string>{
                           "learner.total_steps: expected an integer, got 99999999999999999999 (out of the 64-bit "
                           "range) (" +
                               p + ":3:16)",
                           "learner.lr: expected a number, got .inf (" + p + ":2:7)",
                       }));
}

TEST(ConfigReference, DocsMatchTheOptionStructs) {
  const std::string path = std::string(GRAMRL_SOURCE_DIR) + "/docs/config-reference.md";
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "missing " << path << "; run: gramrl config reference > docs/config-reference.md";
  const std::string committed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(committed, configReferenceMarkdown())
      << "docs/config-reference.md is out of date; run: gramrl config reference > docs/config-reference.md";
}

TEST(ConfigReference, EveryKeyIsDocumented) {
  for (const auto& row : configReferenceRows()) {
    EXPECT_FALSE(row.doc.empty()) << row.path;
    EXPECT_FALSE(row.type.empty()) << row.path;
  }
}

TEST(ShippedConfigs, AllPassValidation) {
  int checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(std::string(GRAMRL_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    ConfigLoadResult r = checkExperimentConfig(entry.path().string());
    std::string all;
    for (const auto& i : r.issues) all += i.describe() + "\n";
    EXPECT_TRUE(r.ok()) << entry.path() << ":\n" << all;
    ++checked;
  }
  EXPECT_GE(checked, 2);
}

TEST(ShippedConfigs, DefaultsAreValid) {
  ConfigLoadResult r = readExperimentConfig(ConfigNode::makeMap());
  EXPECT_TRUE(r.ok());
}

}  // namespace
}  // namespace gramrl
