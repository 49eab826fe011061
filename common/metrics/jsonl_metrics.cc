#include "common/metrics/jsonl_metrics.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/core/errors.h"
#include "common/core/logging.h"

namespace gramrl::metrics {
namespace {

// The lines of `path` a run resumed after `last_step` keeps, joined with their newlines.
std::string keptPrefix(const std::string& path, int64_t last_step, int64_t& kept) {
  std::ifstream in(path, std::ios::binary);
  std::string out;
  std::string line;
  int64_t line_no = 0;
  int64_t dropped_bad = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const bool ok = j.is_object() && j.contains("step") && j["step"].is_number_integer();
    if (!ok) {
      ++dropped_bad;
      log::warn("{}:{}: dropping a metrics line that is not a JSON object with an integer \"step\"", path, line_no);
      continue;
    }
    if (j["step"].get<int64_t>() > last_step) continue;
    out += line;
    out += '\n';
    ++kept;
  }
  GRAMRL_CHECK(!in.bad(), SystemError, "{}: read error: {}", path, std::strerror(errno));
  return out;
}

}  // namespace

JsonlMetricsWriter::JsonlMetricsWriter(const std::string& path, std::optional<int64_t> resume_after_step)
    : path_(path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    GRAMRL_CHECK(!ec, SystemError, "{}: cannot create directory {}: {}", path, parent.string(), ec.message());
  }
  if (resume_after_step && std::filesystem::exists(path)) {
    checkpoint::writeFileAtomically(path, keptPrefix(path, *resume_after_step, kept_lines_));
  }
  file_ = std::fopen(path.c_str(), resume_after_step ? "ab" : "wb");
  GRAMRL_CHECK(file_ != nullptr, SystemError, "{}: cannot open metrics file: {}", path, std::strerror(errno));
}

JsonlMetricsWriter::~JsonlMetricsWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void JsonlMetricsWriter::write(int64_t step, double wall_time,
                               const std::vector<std::pair<std::string, double>>& scalars,
                               const std::vector<std::pair<std::string, std::string>>& tags) {
  nlohmann::ordered_json line;
  line["step"] = step;
  line["time"] = wall_time;
  for (const auto& [name, value] : scalars) {
    GRAMRL_ASSERT(!line.contains(name), "metric name \"{}\" repeated or reserved at step {}", name, step);
    // nlohmann would print NaN/Inf as null too, but says so nowhere in its contract; be explicit.
    line[name] = std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
  }
  for (const auto& [name, value] : tags) {
    GRAMRL_ASSERT(!line.contains(name), "metric name \"{}\" repeated or reserved at step {}", name, step);
    line[name] = value;
  }
  // Invalid UTF-8 in a tag is replaced rather than thrown: a metrics line is never worth a crash.
  std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  text += '\n';
  GRAMRL_CHECK(std::fwrite(text.data(), 1, text.size(), file_) == text.size() && std::fflush(file_) == 0, SystemError,
               "{}: write failed at step {}: {}", path_, step, std::strerror(errno));
}

}  // namespace gramrl::metrics
