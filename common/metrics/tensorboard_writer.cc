#include "common/metrics/tensorboard_writer.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>

#include "common/core/errors.h"
#include "common/metrics/tensorboard_event.pb.h"

namespace gramrl::metrics {
namespace {

constexpr char kFileVersion[] = "brain.Event:2";

std::atomic<int64_t> g_writer_count{0};

std::string hostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

std::string serialize(const tensorboard::Event& event) {
  std::string data;
  GRAMRL_ASSERT(event.SerializeToString(&data), "serializing a tensorboard.Event failed");
  return data;
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(const std::string& dir, const std::string& suffix) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  GRAMRL_CHECK(!ec, SystemError, "{}: cannot create TensorBoard log directory: {}", dir, ec.message());
  const auto now = std::time(nullptr);
  path_ = fmt::format("{}/events.out.tfevents.{:010d}.{}.{}.{}{}", dir, static_cast<int64_t>(now), hostName(),
                      static_cast<int64_t>(getpid()), g_writer_count.fetch_add(1), suffix);
  // "x": never clobber another writer's file.
  file_ = std::fopen(path_.c_str(), "wbx");
  GRAMRL_CHECK(file_ != nullptr, SystemError, "{}: cannot create event file: {}", path_, std::strerror(errno));

  tensorboard::Event event;
  event.set_wall_time(static_cast<double>(now));
  event.set_step(0);
  event.set_file_version(kFileVersion);
  writeRecord(serialize(event));
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_ != nullptr) std::fclose(file_);  // flushes; nothing to report to from a destructor
}

void TensorBoardWriter::addScalars(int64_t step, double wall_time,
                                   const std::vector<std::pair<std::string, double>>& scalars) {
  tensorboard::Event event;
  event.set_wall_time(wall_time);
  event.set_step(step);
  tensorboard::Summary* summary = event.mutable_summary();
  for (const auto& [tag, value] : scalars) {
    tensorboard::Summary::Value* v = summary->add_value();
    v->set_tag(tag);
    v->set_simple_value(static_cast<float>(value));
  }
  writeRecord(serialize(event));
}

void TensorBoardWriter::flush() {
  GRAMRL_CHECK(std::fflush(file_) == 0, SystemError, "{}: flush failed: {}", path_, std::strerror(errno));
}

void TensorBoardWriter::writeRecord(const std::string& data) {
  const std::string record = frameTfRecord(data);
  GRAMRL_CHECK(std::fwrite(record.data(), 1, record.size(), file_) == record.size(), SystemError,
               "{}: write failed: {}", path_, std::strerror(errno));
}

std::vector<ScalarEvent> readScalarEvents(const std::string& path) {
  std::vector<ScalarEvent> out;
  const std::vector<std::string> records = readTfRecords(path);
  for (size_t i = 0; i < records.size(); ++i) {
    tensorboard::Event event;
    GRAMRL_CHECK(event.ParseFromString(records[i]), DataError, "{}: record {} is not a tensorboard.Event ({} bytes)",
                 path, i, records[i].size());
    if (!event.has_summary()) continue;
    for (const auto& value : event.summary().value()) {
      if (value.value_case() != tensorboard::Summary::Value::kSimpleValue) continue;
      out.push_back(ScalarEvent{event.step(), event.wall_time(), value.tag(), value.simple_value()});
    }
  }
  return out;
}

}  // namespace gramrl::metrics
