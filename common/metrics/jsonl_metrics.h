// Per-step scalars as JSON lines: {"step":12,"time":1732622401.5,"loss":0.51,...,"phase":"ppo"}.
// One line per step, flushed as written, so `tail -f` and a crashed run's file show every step
// that finished. A resumed run first drops the lines its checkpoint does not cover.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gramrl::metrics {

// Threads: one thread at a time. Blocking: every write() ends in fflush (into the OS, no fsync).
// Throws SystemError naming the path when the file cannot be opened, rewritten or written; the
// destructor closes the file and never throws.
class JsonlMetricsWriter {
 public:
  // Without resume_after_step: creates or truncates `path`. With it: keeps the existing lines whose
  // "step" is <= *resume_after_step (dropping later steps, a torn last line, and anything that is
  // not a JSON object with an integer "step"), rewrites the file atomically (temp file + rename,
  // NOTE [Atomic checkpoint files] in common/checkpoint/file_io.h), then appends. A missing file
  // starts empty either way. Parent directories are created.
  JsonlMetricsWriter(const std::string& path, std::optional<int64_t> resume_after_step);
  ~JsonlMetricsWriter();
  JsonlMetricsWriter(const JsonlMetricsWriter&) = delete;
  JsonlMetricsWriter& operator=(const JsonlMetricsWriter&) = delete;

  // Appends {"step":..,"time":..,<scalars in order>..,<tags in order>..}. Non-finite scalars are
  // written as null (JSON has no NaN or Infinity). A name repeated, or named "step" or "time", is
  // a caller bug (InternalError).
  void write(int64_t step, double wall_time, const std::vector<std::pair<std::string, double>>& scalars,
             const std::vector<std::pair<std::string, std::string>>& tags = {});

  const std::string& path() const { return path_; }
  // Lines kept from the previous run by the resume rewrite (0 without resume).
  int64_t keptLines() const { return kept_lines_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  int64_t kept_lines_ = 0;
};

}  // namespace gramrl::metrics
