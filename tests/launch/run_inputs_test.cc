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

// Issue 15: the check covers every input a run reads, not only learner.data: rollout.prompts by
// its contents, a local model directory by its small files and its weights' headers (not values).
TEST_F(RunInputsTest, PromptsAndModelDirectoriesAreCheckedToo) {
  const std::string model = dir_.file("policy");
  fs::create_directories(model);
  spit(model + "/config.json", "{\"hidden_size\": 64}");
  spit(model + "/tokenizer.json", "{\"model\": {}}");
  // A safetensors file: 8-byte header length, the JSON header, then the values.
  auto safetensors = [&](const std::string& shape, const std::string& values) {
    const std::string header = "{\"w\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[0,8]}}";
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    spit(model + "/model.safetensors", bytes + header + values);
  };
  safetensors("[2]", "AAAABBBB");
  const std::string prompts = dir_.file("prompts.jsonl");
  spit(prompts, "{\"prompt\": \"one\"}\n");
  const std::vector<std::string> overrides{"policy.model=" + model, "rollout.prompts=" + prompts,
                                           "reward.model=" + dir_.file("not-there")};
  EXPECT_EQ(prepare(config(overrides)), 1);  // a path that does not exist is recorded, not refused
  addCheckpoint();
  EXPECT_EQ(prepare(config(overrides)), 2);

  spit(prompts, "{\"prompt\": \"two\"}\n");  // same size, other prompts
  std::string e = refusal(config(overrides));
  EXPECT_NE(e.find("rollout.prompts: " + prompts + " is not the file the checkpoints were trained on"),
            std::string::npos)
      << e;
  spit(prompts, "{\"prompt\": \"one\"}\n");

  spit(model + "/config.json", "{\"hidden_size\": 32}");
  e = refusal(config(overrides));
  EXPECT_NE(e.find("policy.model: " + model + " is not the file"), std::string::npos) << e;
  spit(model + "/config.json", "{\"hidden_size\": 64}");

  safetensors("[4]", "AAAABBBB");  // another shape in the header
  e = refusal(config(overrides));
  EXPECT_NE(e.find("policy.model"), std::string::npos) << e;
  safetensors("[2]", "CCCCDDDD");  // same header and size, other values: not read (documented)
  EXPECT_EQ(prepare(config(overrides)), 3);

  // A record written before these inputs were recorded (format 1) is not compared for them.
  const std::string record = run_ + "/run_inputs.json";
  std::string text = slurp(record);
  text.replace(text.find("\"format\": 2"), std::string("\"format\": 2").size(), "\"format\": 1");
  spit(record, text);
  spit(model + "/config.json", "{\"hidden_size\": 16}");
  EXPECT_EQ(prepare(config(overrides)), 4);
  spit(model + "/config.json", "{\"hidden_size\": 8}");
  EXPECT_THROW(prepare(config(overrides)), ConfigError);  // the new record is format 2 again
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
