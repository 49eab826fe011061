// TensorBoardWriter: file naming, the file_version record, scalars read back, and corruption.
#include "common/metrics/tensorboard_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "common/core/errors.h"
#include "common/metrics/tensorboard_event.pb.h"
#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

namespace gramrl::metrics {
namespace {

using testing::slurp;
using testing::spit;

std::string dataErrorOf(const std::string& path) {
  try {
    readScalarEvents(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(TensorBoardWriterTest, FileNameAndVersionRecord) {
  testing::TempDir tmp("metrics");
  const std::string dir = tmp.file("runs/a");  // created with parents
  TensorBoardWriter writer(dir, ".learner");
  const std::string name = std::filesystem::path(writer.path()).filename().string();
  EXPECT_EQ(std::filesystem::path(writer.path()).parent_path().string(), dir);
  ASSERT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
  EXPECT_NE(name.find("." + std::to_string(getpid()) + "."), std::string::npos) << name;
  EXPECT_EQ(name.substr(name.size() - 8), ".learner") << name;

  // Valid on disk before any flush() by the caller: exactly the file_version event.
  const std::vector<std::string> records = readTfRecords(writer.path());
  ASSERT_EQ(records.size(), 1u);
  tensorboard::Event event;
  ASSERT_TRUE(event.ParseFromString(records[0]));
  EXPECT_EQ(event.file_version(), "brain.Event:2");
  EXPECT_GT(event.wall_time(), 1.6e9);

  // A second writer in the same directory and second gets its own file.
  TensorBoardWriter other(dir, ".learner");
  EXPECT_NE(other.path(), writer.path());
}

TEST(TensorBoardWriterTest, ScalarsRoundTrip) {
  testing::TempDir tmp("metrics");
  std::string path;
  {
    TensorBoardWriter writer(tmp.path());
    path = writer.path();
    writer.addScalars(1, 1700000000.25, {{"loss", 0.5}, {"train/acc", 0.1}});
    writer.addScalars(2, 1700000001.5, {{"loss", 0.0}});  // 0 must still be written
    writer.addScalars(-3, 1700000002.0, {});              // an event with an empty summary
    writer.addScalars(1LL << 40, 1700000003.0, {{"lr", 3e-6}, {"bad", std::nan("")}});
    writer.flush();
  }
  const std::vector<ScalarEvent> events = readScalarEvents(path);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].step, 1);
  EXPECT_EQ(events[0].wall_time, 1700000000.25);
  EXPECT_EQ(events[0].tag, "loss");
  EXPECT_EQ(events[0].value, 0.5f);
  EXPECT_EQ(events[1].tag, "train/acc");
  EXPECT_EQ(events[1].value, 0.1f);  // stored as float: 0.1f, not 0.1
  EXPECT_EQ(events[2].step, 2);
  EXPECT_EQ(events[2].value, 0.0f);
  EXPECT_EQ(events[3].step, 1LL << 40);
  EXPECT_EQ(events[3].tag, "lr");
  EXPECT_EQ(events[3].value, 3e-6f);
  EXPECT_TRUE(std::isnan(events[4].value));

  // Framing is independent of the proto: 1 version + 4 scalar events.
  EXPECT_EQ(readTfRecords(path).size(), 5u);
}

TEST(TensorBoardWriterTest, ZeroIsSerialisedInTheOneof) {
  // proto3 drops a plain field holding 0; upstream's simple_value is in a oneof, so a reader can
  // tell "0" from "not a scalar". Check the wire bytes of Summary.Value{tag "a", simple_value 0}.
  tensorboard::Summary::Value v;
  v.set_tag("a");
  v.set_simple_value(0.0f);
  std::string wire;
  ASSERT_TRUE(v.SerializeToString(&wire));
  // field 1 (tag), wire type 2: 0x0a, length 1, 'a'; field 2, wire type 5 (fixed32): 0x15, 0 0 0 0.
  EXPECT_EQ(wire, std::string("\x0a\x01"
                              "a\x15\x00\x00\x00\x00",
                              8));
}

TEST(TensorBoardWriterTest, FlippedByteAndTruncationNameTheOffset) {
  testing::TempDir tmp("metrics");
  std::string path;
  {
    TensorBoardWriter writer(tmp.path());
    path = writer.path();
    writer.addScalars(1, 1.0, {{"loss", 1.0}});
    writer.addScalars(2, 2.0, {{"loss", 2.0}});
  }
  const std::string good = slurp(path);
  const std::vector<std::string> records = parseTfRecords(good, path);
  ASSERT_EQ(records.size(), 3u);
  const size_t second = 12 + records[0].size() + 4;  // offset of the first scalar event
  const size_t third = second + 12 + records[1].size() + 4;

  std::string flipped = good;
  flipped[second + 12 + 3] ^= 0x20;
  spit(path, flipped);
  std::string msg = dataErrorOf(path);
  EXPECT_NE(msg.find("bad data CRC"), std::string::npos) << msg;
  EXPECT_NE(msg.find("byte offset " + std::to_string(second)), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;

  spit(path, good.substr(0, good.size() - 2));
  msg = dataErrorOf(path);
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("byte offset " + std::to_string(third)), std::string::npos) << msg;

  EXPECT_THROW(readScalarEvents(tmp.file("missing")), DataError);
}

TEST(TensorBoardWriterTest, RecordThatIsNotAnEvent) {
  testing::TempDir tmp("metrics");
  // Valid framing around bytes that are not a protobuf message (a truncated varint).
  spit(tmp.file("x"), frameTfRecord("\x08\xff"));
  const std::string msg = dataErrorOf(tmp.file("x"));
  EXPECT_NE(msg.find("record 0 is not a tensorboard.Event"), std::string::npos) << msg;
}

}  // namespace
}  // namespace gramrl::metrics
