// NOTE [Resume checks what was trained on] (launch/run_inputs.h): a rerun that would resume from a
// checkpoint refuses other data (even of the same size) or another config, names what changed and
// the override; the override resumes and records the new inputs; each attempt's config is kept.
#include "launch/run_inputs.h"

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "common/config/config_loader.h"
#include "common/core/errors.h"
#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {
namespace fs = std::filesystem;
using gramrl::testing::slurp;
using gramrl::testing::spit;

class RunInputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spit(data_, "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}\n");
    spit(yaml_, "experiment: {name: r, output_dir: " + dir_.path() + "}\nlearner:\n  data: {train: " + data_ + "}\n");
  }
  ExperimentConfig config(const std::vector<std::string>& overrides = {}) {
    return loadExperimentConfig(yaml_, overrides);
  }
  int64_t prepare(const ExperimentConfig& c) { return prepareRunDirectory(run_, c, toYaml(c)); }
  void addCheckpoint() {
    fs::create_directories(run_ + "/checkpoints/step-00000020");
    spit(run_ + "/checkpoints/step-00000020/trainer_state.json", "{}");
  }
  std::string refusal(const ExperimentConfig& c) {
    try {
      prepare(c);
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "expected a ConfigError";
    return "";
  }

  gramrl::testing::TempDir dir_{"grl-run"};
  std::string data_ = dir_.file("train.jsonl");
  std::string yaml_ = dir_.file("exp.yaml");
  std::string run_ = dir_.file("r");
};

TEST_F(RunInputsTest, SameInputsResumeAndEveryAttemptIsKept) {
  EXPECT_EQ(prepare(config()), 1);
  addCheckpoint();
  EXPECT_EQ(prepare(config()), 2);
  EXPECT_EQ(prepare(config()), 3);
  EXPECT_TRUE(fs::is_regular_file(run_ + "/config.attempt-1.yaml"));
  EXPECT_TRUE(fs::is_regular_file(run_ + "/config.attempt-2.yaml"));
  EXPECT_EQ(slurp(run_ + "/config.yaml"), toYaml(config()));
}

TEST_F(RunInputsTest, OtherDataOfTheSameSizeIsRefused) {
  prepare(config());
  addCheckpoint();
  const std::string before = slurp(run_ + "/config.yaml");
  spit(data_, "{\"prompt\": \"q\", \"chosen\": \"b\", \"rejected\": \"a\"}\n");  // same length, other rows
  const std::string e = refusal(config());
  EXPECT_NE(e.find("learner.data.train: " + data_ +
                   " is not the file the checkpoints were trained on (same path, "
                   "other contents)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("experiment.check_resume_inputs=false"), std::string::npos) << e;
  EXPECT_EQ(slurp(run_ + "/config.yaml"), before) << "a refused attempt must not overwrite the record";

  // Forcing resumes and records the new data, so the next rerun is accepted as is.
  EXPECT_EQ(prepare(config({"experiment.check_resume_inputs=false"})), 2);
  EXPECT_EQ(prepare(config()), 3);
}

TEST_F(RunInputsTest, AnotherConfigIsRefusedNamingTheChange) {
  prepare(config());
  addCheckpoint();
  const std::string e = refusal(config({"learner.lr=0.5"}));
  EXPECT_NE(e.find("the resolved config"), std::string::npos) << e;
  EXPECT_NE(e.find("lr: 0.5"), std::string::npos) << e;
}

TEST_F(RunInputsTest, WithoutACheckpointChangedInputsAreRecorded) {
  prepare(config());  // say it failed on a data error before any checkpoint
  spit(data_, "{\"prompt\": \"fixed\", \"chosen\": \"a\", \"rejected\": \"b\"}\n");
  EXPECT_EQ(prepare(config({"learner.lr=0.5"})), 2);
  addCheckpoint();
  EXPECT_EQ(prepare(config({"learner.lr=0.5"})), 3);
}

TEST(RunAdvice, ADataErrorIsNotFixedByRerunning) {
  EXPECT_EQ(adviceAfterFailure(2).find("rerun the same command"), std::string::npos);
  EXPECT_NE(adviceAfterFailure(2).find("fix it"), std::string::npos);
  EXPECT_NE(adviceAfterFailure(137).find("resume"), std::string::npos);
}

}  // namespace
}  // namespace gramrl
