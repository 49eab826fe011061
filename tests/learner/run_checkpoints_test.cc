#include "learner/engine/run_checkpoints.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {
namespace fs = std::filesystem;

void save(RunCheckpoints& c, int64_t step) {
  const std::string staging = c.beginSave(step);
  TrainerState s;
  s.step = step;
  s.algorithm = "dpo";
  std::ofstream(fs::path(staging) / kTrainerStateFile) << s.toJson();
  c.commitSave(step, staging);
}

TEST(RunCheckpointsTest, StateRoundTripsThroughJson) {
  TrainerState s;
  s.step = 12;
  s.policy_version = 12;
  s.cursor = {3, 5};
  s.samples_seen = 96;
  s.tokens_seen = 12345;
  s.algorithm = "dpo";
  s.world_size = 2;
  s.seed = 99;
  s.dataset_size = 40;
  const TrainerState r = TrainerState::fromJson(s.toJson(), "x");
  EXPECT_EQ(r.step, 12);
  EXPECT_EQ(r.cursor.epoch, 3);
  EXPECT_EQ(r.cursor.offset, 5);
  EXPECT_EQ(r.tokens_seen, 12345);
  EXPECT_EQ(r.algorithm, "dpo");
  EXPECT_EQ(r.seed, 99u);
  EXPECT_EQ(r.dataset_size, 40);
}

TEST(RunCheckpointsTest, MalformedStateNamesFileAndField) {
  try {
    TrainerState::fromJson(R"({"step": 1})", "ck/trainer_state.json");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("ck/trainer_state.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("policy_version"), std::string::npos);
  }
  EXPECT_THROW(TrainerState::fromJson("{", "f"), DataError);
}

TEST(RunCheckpointsTest, KeepsTheNewestNAndIgnoresIncompleteDirectories) {
  testing::TempDir dir;
  RunCheckpoints c((fs::path(dir.path()) / "checkpoints").string(), 2);
  EXPECT_FALSE(c.latest().has_value());
  for (int64_t step : {2, 4, 6}) save(c, step);
  auto all = c.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].first, 4);
  EXPECT_EQ(all[1].first, 6);
  EXPECT_EQ(fs::path(*c.latest()).filename(), "step-00000006");
  // A crashed save: a staging directory and a step directory without trainer_state.json.
  const std::string staging = c.beginSave(8);
  fs::create_directories(fs::path(c.dir()) / "step-00000010" / "model");
  EXPECT_EQ(fs::path(*c.latest()).filename(), "step-00000006");
  EXPECT_EQ(c.removeStaleStaging(), 1);
  EXPECT_FALSE(fs::exists(staging));
}

TEST(RunCheckpointsTest, ResavingAStepReplacesIt) {
  testing::TempDir dir;
  RunCheckpoints c(dir.path(), 3);
  save(c, 5);
  const std::string staging = c.beginSave(5);
  TrainerState s;
  s.step = 5;
  s.policy_version = 77;
  s.algorithm = "dpo";
  std::ofstream(fs::path(staging) / kTrainerStateFile) << s.toJson();
  c.commitSave(5, staging);
  ASSERT_EQ(c.list().size(), 1u);
  EXPECT_EQ(readTrainerState(*c.latest()).policy_version, 77);
}

}  // namespace
}  // namespace gramrl
