#include "learner/engine/run_checkpoints.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/core/errors.h"
#include "common/core/logging.h"

namespace gramrl {
namespace fs = std::filesystem;
namespace {

constexpr char kStepPrefix[] = "step-";
constexpr char kStagingPrefix[] = ".staging-";

std::optional<int64_t> parseStepDir(const std::string& name) {
  const std::string prefix = kStepPrefix;
  if (name.size() != prefix.size() + 8 || name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  int64_t step = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

void fsyncPath(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  GRAMRL_CHECK(fd >= 0, SystemError, "cannot open {} to fsync it: {}", path.string(), std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  GRAMRL_CHECK(rc == 0, SystemError, "fsync of {} failed: {}", path.string(), std::strerror(err));
}

void fsyncTree(const fs::path& dir) {
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() || entry.is_directory()) fsyncPath(entry.path());
  }
  fsyncPath(dir);
}

void removeAll(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  GRAMRL_CHECK(!ec, SystemError, "cannot delete {}: {}", path.string(), ec.message());
}

}  // namespace

std::string TrainerState::toJson() const {
  nlohmann::json j = {{"step", step},
                      {"policy_version", policy_version},
                      {"data_epoch", cursor.epoch},
                      {"data_offset", cursor.offset},
                      {"samples_seen", samples_seen},
                      {"tokens_seen", tokens_seen},
                      {"algorithm", algorithm},
                      {"world_size", world_size},
                      {"seed", seed},
                      {"dataset_size", dataset_size}};
  return j.dump(2) + "\n";
}

TrainerState TrainerState::fromJson(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    GRAMRL_CHECK(false, DataError, "{}: not valid JSON: {}", source, e.what());
  }
  GRAMRL_CHECK(j.is_object(), DataError, "{}: expected a JSON object", source);
  TrainerState s;
  auto integer = [&](const char* key, auto& out) {
    GRAMRL_CHECK(j.contains(key) && j[key].is_number_integer(), DataError, "{}: field '{}' missing or not an integer",
                 source, key);
    out = j[key].get<std::remove_reference_t<decltype(out)>>();
  };
  integer("step", s.step);
  integer("policy_version", s.policy_version);
  integer("data_epoch", s.cursor.epoch);
  integer("data_offset", s.cursor.offset);
  integer("samples_seen", s.samples_seen);
  integer("tokens_seen", s.tokens_seen);
  integer("world_size", s.world_size);
  integer("seed", s.seed);
  integer("dataset_size", s.dataset_size);
  GRAMRL_CHECK(j.contains("algorithm") && j["algorithm"].is_string(), DataError,
               "{}: field 'algorithm' missing or not a string", source);
  s.algorithm = j["algorithm"].get<std::string>();
  return s;
}

TrainerState readTrainerState(const std::string& checkpoint_dir) {
  const std::string path = (fs::path(checkpoint_dir) / kTrainerStateFile).string();
  return TrainerState::fromJson(checkpoint::readFile(path, 1 << 20), path);
}

RunCheckpoints::RunCheckpoints(std::string dir, int64_t keep_last) : dir_(std::move(dir)), keep_last_(keep_last) {
  GRAMRL_ASSERT(keep_last_ >= 1);
}

std::string RunCheckpoints::stepDirName(int64_t step) { return fmt::format("{}{:08d}", kStepPrefix, step); }

std::vector<std::pair<int64_t, std::string>> RunCheckpoints::list() const {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    const auto step = parseStepDir(entry.path().filename().string());
    if (step && fs::is_regular_file(entry.path() / kTrainerStateFile, ec))
      out.emplace_back(*step, entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> RunCheckpoints::latest() const {
  auto all = list();
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

std::string RunCheckpoints::beginSave(int64_t step) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  GRAMRL_CHECK(!ec, SystemError, "cannot create checkpoint directory {}: {}", dir_, ec.message());
  const fs::path staging = fs::path(dir_) / fmt::format("{}{}-{}", kStagingPrefix, stepDirName(step), ::getpid());
  removeAll(staging);
  fs::create_directories(staging, ec);
  GRAMRL_CHECK(!ec, SystemError, "cannot create {}: {}", staging.string(), ec.message());
  return staging.string();
}

std::string RunCheckpoints::commitSave(int64_t step, const std::string& staging) {
  fsyncTree(staging);
  const fs::path final_path = fs::path(dir_) / stepDirName(step);
  std::error_code ec;
  if (fs::exists(final_path, ec)) {
    // rename(2) cannot replace a non-empty directory: move the old one aside first. Between the
    // two renames no checkpoint of this step exists, never a mixed one.
    const fs::path old = fs::path(dir_) / fmt::format("{}old-{}-{}", kStagingPrefix, stepDirName(step), ::getpid());
    removeAll(old);
    fs::rename(final_path, old, ec);
    GRAMRL_CHECK(!ec, SystemError, "cannot move {} aside: {}", final_path.string(), ec.message());
    removeAll(old);
  }
  fs::rename(staging, final_path, ec);
  GRAMRL_CHECK(!ec, SystemError, "cannot rename {} to {}: {}", staging, final_path.string(), ec.message());
  checkpoint::syncDirectory(dir_);
  auto all = list();
  for (size_t i = 0; i + static_cast<size_t>(keep_last_) < all.size(); ++i) {
    log::info("deleting checkpoint {} (keep_last {})", all[i].second, keep_last_);
    removeAll(all[i].second);
  }
  return final_path.string();
}

int RunCheckpoints::removeStaleStaging() {
  int removed = 0;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kStagingPrefix, 0) == 0) {
      log::warn("removing {} left by an interrupted save", entry.path().string());
      removeAll(entry.path());
      ++removed;
    }
  }
  return removed;
}

}  // namespace gramrl
