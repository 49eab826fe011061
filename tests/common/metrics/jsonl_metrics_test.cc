// JsonlMetricsWriter: line contents, null for non-finite values, truncate and resume.
#include "common/metrics/jsonl_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "common/core/errors.h"

#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

namespace gramrl::metrics {
namespace {

using testing::slurp;
using testing::spit;

TEST(JsonlMetricsTest, LineFormat) {
  testing::TempDir tmp("metrics");
  const std::string path = tmp.file("sub/metrics.jsonl");
  JsonlMetricsWriter writer(path, std::nullopt);
  writer.write(3, 1700000000.5, {{"loss", 0.25}, {"nan", std::nan("")}, {"inf", -HUGE_VAL}}, {{"phase", "ppo"}});
  // Flushed per line: visible before the writer is closed. Keys keep the order given.
  EXPECT_EQ(slurp(path),
            "{\"step\":3,\"time\":1700000000.5,\"loss\":0.25,\"nan\":null,\"inf\":null,\"phase\":\"ppo\"}\n");
  writer.write(4, 1700000001.0, {{"loss", 0.1}});
  const std::string text = slurp(path);
  const auto second = nlohmann::json::parse(text.substr(text.find('\n') + 1));
  EXPECT_EQ(second["step"], 4);
  EXPECT_EQ(second["loss"].get<double>(), 0.1);  // round-trips exactly
}

TEST(JsonlMetricsTest, ReservedOrRepeatedNameIsABug) {
  testing::TempDir tmp("metrics");
  JsonlMetricsWriter writer(tmp.file("m.jsonl"), std::nullopt);
  EXPECT_THROW(writer.write(1, 0, {{"step", 1.0}}), InternalError);
  EXPECT_THROW(writer.write(1, 0, {{"a", 1.0}}, {{"a", "x"}}), InternalError);
}

TEST(JsonlMetricsTest, WithoutResumeTruncates) {
  testing::TempDir tmp("metrics");
  const std::string path = tmp.file("m.jsonl");
  spit(path, "{\"step\":1}\n{\"step\":2}\n");
  {
    JsonlMetricsWriter writer(path, std::nullopt);
    EXPECT_EQ(writer.keptLines(), 0);
  }
  EXPECT_EQ(slurp(path), "");
}

TEST(JsonlMetricsTest, ResumeKeepsStepsUpToTheCheckpoint) {
  testing::TempDir tmp("metrics");
  const std::string path = tmp.file("m.jsonl");
  spit(path,
       "{\"step\":1,\"loss\":1}\n"
       "{\"step\":2,\"loss\":2}\n"
       "not json\n"
       "{\"loss\":9}\n"
       "{\"step\":3,\"loss\":3}\n"
       "{\"step\":2,\"loss\":2.5}\n"  // an earlier resume's duplicate of step 2: kept, still <= 2
       "{\"step\":4,\"lo");           // torn by a crash
  {
    JsonlMetricsWriter writer(path, 2);
    EXPECT_EQ(writer.keptLines(), 3);
    EXPECT_EQ(slurp(path), "{\"step\":1,\"loss\":1}\n{\"step\":2,\"loss\":2}\n{\"step\":2,\"loss\":2.5}\n");
    writer.write(3, 10.0, {{"loss", 0.5}});
  }
  EXPECT_EQ(slurp(path),
            "{\"step\":1,\"loss\":1}\n{\"step\":2,\"loss\":2}\n{\"step\":2,\"loss\":2.5}\n"
            "{\"step\":3,\"time\":10.0,\"loss\":0.5}\n");
}

TEST(JsonlMetricsTest, ResumeBeforeEveryStepAndMissingFile) {
  testing::TempDir tmp("metrics");
  const std::string path = tmp.file("m.jsonl");
  spit(path, "{\"step\":5}\n");
  {
    JsonlMetricsWriter writer(path, 0);
    EXPECT_EQ(writer.keptLines(), 0);
  }
  EXPECT_EQ(slurp(path), "");
  const std::string fresh = tmp.file("fresh.jsonl");
  {
    JsonlMetricsWriter writer(fresh, 7);
    writer.write(8, 1.5, {});
  }
  EXPECT_EQ(slurp(fresh), "{\"step\":8,\"time\":1.5}\n");
}

}  // namespace
}  // namespace gramrl::metrics
