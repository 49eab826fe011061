// Scalars to TensorBoard event files (TFRecord-framed tensorboard.Event protos).
//
// A file is named events.out.tfevents.<unix seconds, 10 digits>.<hostname>.<pid>.<n><suffix>,
// PyTorch SummaryWriter's convention (n counts the writers this process opened, so two writers
// started in the same second never collide). Its first record is an Event with file_version
// "brain.Event:2"; every addScalars() call appends one Event whose Summary holds one simple_value
// per scalar. The protos (tensorboard_event.proto) keep upstream's package, names and field
// numbers; scripts/reference/tensorboard/read_events.py reads the files independently.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics/crc32c.h"    // crc32c, maskCrc
#include "common/metrics/tfrecord.h"  // readTfRecords

namespace gramrl::metrics {

// Appends scalar events to a new event file.
//
// Threads: one thread at a time. Blocking: writes go to a stdio buffer; addScalars() blocks only
// when the buffer fills and flush() blocks until the bytes are in the OS (not fsynced). A crash
// loses at most the unflushed tail, leaving a truncated last record after intact earlier ones
// (NOTE [TFRecord framing]). Throws SystemError naming the file when it cannot be created or
// written; the destructor flushes and never throws.
class TensorBoardWriter {
 public:
  // Creates `dir` (and parents) if needed and a new event file in it, and writes and flushes the
  // file_version record so that the file is valid from the start. `suffix` is appended to the
  // file name as given (e.g. ".learner").
  explicit TensorBoardWriter(const std::string& dir, const std::string& suffix = "");
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // One Event at `step` and `wall_time` (Unix seconds), one Summary.Value per scalar, stored as
  // float as TensorBoard's simple_value is. Non-finite values are written as they are.
  void addScalars(int64_t step, double wall_time, const std::vector<std::pair<std::string, double>>& scalars);
  void flush();
  const std::string& path() const { return path_; }

 private:
  void writeRecord(const std::string& data);

  std::string path_;
  std::FILE* file_ = nullptr;
};

// One scalar of an event file, as decoded by readScalarEvents.
struct ScalarEvent {
  int64_t step = 0;
  double wall_time = 0;
  std::string tag;
  float value = 0;
};

// Decodes an event file: one entry per simple_value, in file order; other events (file_version)
// are skipped. Throws DataError naming the file and byte offset for framing/CRC errors
// (readTfRecords) and naming the record for one that is not a tensorboard.Event.
std::vector<ScalarEvent> readScalarEvents(const std::string& path);

}  // namespace gramrl::metrics
