#include "launch/run_inputs.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/config/config_loader.h"
#include "common/core/errors.h"
#include "common/core/logging.h"

namespace gramrl {
namespace fs = std::filesystem;
namespace {

constexpr char kRecordFile[] = "run_inputs.json";
// 2: every input file of the run (describeRunInputs); 1 (no "format"): config and learner.data.*.
constexpr int64_t kRecordFormat = 2;
constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

uint64_t fnv1a(uint64_t h, const char* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= kFnvPrime;
  }
  return h;
}

std::string hex(uint64_t h) { return fmt::format("{:016x}", h); }

// A committed checkpoint: checkpoints/step-<8 digits>/trainer_state.json (NOTE [Training
// checkpoint layout] in learner/engine/run_checkpoints.h).
bool hasCheckpoint(const fs::path& run_dir) {
  std::error_code ec;
  const fs::path dir = run_dir / "checkpoints";
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 13 && name.rfind("step-", 0) == 0 && fs::exists(entry.path() / "trainer_state.json", ec)) {
      return true;
    }
  }
  return false;
}

std::string readText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Lines of the new config that the old one lacks: what changed, as "key: value" lines.
std::string changedLines(const std::string& before, const std::string& after) {
  std::set<std::string> old_lines;
  std::istringstream a(before);
  for (std::string line; std::getline(a, line);) old_lines.insert(line);
  std::string out;
  int shown = 0;
  std::istringstream b(after);
  for (std::string line; std::getline(b, line);) {
    if (old_lines.count(line) || line.find_first_not_of(' ') == std::string::npos) continue;
    if (++shown > 5) {
      out += "; ...";
      break;
    }
    const auto first = line.find_first_not_of(' ');
    out += (out.empty() ? "" : "; ") + line.substr(first);
  }
  return out;
}

}  // namespace

std::string digestFile(const std::string& path, const std::string& what, uint64_t* bytes) {
  std::ifstream in(path, std::ios::binary);
  GRAMRL_CHECK(in.is_open(), DataError, "{} {}: cannot read the file to record what the run trains on", what, path);
  uint64_t h = kFnvOffset;
  uint64_t total = 0;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<size_t>(in.gcount());
    h = fnv1a(h, buffer.data(), n);
    total += n;
  }
  GRAMRL_CHECK(!in.bad(), DataError, "{} {}: read error", what, path);
  if (bytes) *bytes = total;
  return hex(h);
}

namespace {

// A weights file (*.safetensors, *.bin, *.pt, *.gguf) is recorded by name, size and, for
// safetensors, its header (tensor names, dtypes, shapes, offsets), never by its values (NOTE
// [Resume checks what was trained on]).
bool isWeightsFile(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".safetensors" || ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".gguf";
}

constexpr uint64_t kMaxSafetensorsHeaderBytes = uint64_t{100} << 20;

uint64_t digestWeightsFile(uint64_t h, const fs::path& p, uint64_t size) {
  const std::string name = p.filename().string();
  h = fnv1a(h, name.data(), name.size());
  h = fnv1a(h, reinterpret_cast<const char*>(&size), sizeof(size));
  if (p.extension() != ".safetensors" || size < 8) return h;
  std::ifstream in(p, std::ios::binary);
  unsigned char length_bytes[8] = {};
  in.read(reinterpret_cast<char*>(length_bytes), 8);
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | length_bytes[i];
  if (!in || length > kMaxSafetensorsHeaderBytes || length > size - 8) return h;
  std::string header(length, '\0');
  in.read(header.data(), static_cast<std::streamsize>(length));
  return fnv1a(h, header.data(), static_cast<size_t>(in.gcount()));
}

}  // namespace

std::string digestModelPath(const std::string& path, uint64_t* bytes) {
  std::error_code ec;
  const fs::path root(path);
  if (fs::is_regular_file(root, ec)) {
    if (!isWeightsFile(root)) return digestFile(path, "model", bytes);
    const uint64_t size = fs::file_size(root, ec);
    if (bytes) *bytes = size;
    return hex(digestWeightsFile(kFnvOffset, root, size));
  }
  GRAMRL_CHECK(fs::is_directory(root, ec), DataError, "{}: not a file or directory to record", path);
  // The files of the directory (not its subdirectories: a Hugging Face checkpoint is flat), in
  // name order.
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_regular_file(ec)) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  uint64_t h = kFnvOffset;
  uint64_t total = 0;
  for (const fs::path& f : files) {
    const uint64_t size = fs::file_size(f, ec);
    total += size;
    if (isWeightsFile(f)) {
      h = digestWeightsFile(h, f, size);
      continue;
    }
    const std::string name = f.filename().string();
    h = fnv1a(h, name.data(), name.size());
    const std::string content = digestFile(f.string(), "model file", nullptr);
    h = fnv1a(h, content.data(), content.size());
  }
  if (bytes) *bytes = total;
  return hex(h);
}

std::vector<InputDigest> describeRunInputs(const ExperimentConfig& config) {
  ExperimentConfig normalised = config;
  normalised.experiment.check_resume_inputs = true;  // forcing a resume must not change the digest
  const std::string text = toYaml(normalised);
  std::vector<InputDigest> out;
  out.push_back({"config", "", text.size(), hex(fnv1a(kFnvOffset, text.data(), text.size()))});
  for (const auto& [what, path] : {std::pair<const char*, std::string>{"learner.data.train", config.learner.data.train},
                                   {"learner.data.eval", config.learner.data.eval}}) {
    if (path.empty()) continue;
    InputDigest d{what, path, 0, ""};
    d.digest = digestFile(path, what, &d.bytes);
    out.push_back(std::move(d));
  }
  // Every other file a run may read. A spec that is not a local path (builtin:tiny) is in the
  // config digest already; a path that does not exist is recorded as absent, not refused: a
  // command that does not read it (a DPO run does not read rollout.prompts) must not fail here.
  const std::pair<const char*, const std::string*> others[] = {
      {"rollout.prompts", &config.rollout.prompts},
      {"policy.model", &config.policy.model},
      {"policy.tokenizer", &config.policy.tokenizer},
      {"reward.model", &config.reward.model},
      {"reward.tokenizer", &config.reward.tokenizer},
      {"learner.dpo.reference_model", &config.learner.dpo.reference_model},
  };
  for (const auto& [what, path] : others) {
    if (path->empty() || path->rfind("builtin:", 0) == 0) continue;
    InputDigest d{what, *path, 0, ""};
    std::error_code ec;
    if (!fs::exists(*path, ec)) {
      d.digest = "absent";
    } else if (std::string_view(what) == "rollout.prompts") {
      d.digest = digestFile(*path, what, &d.bytes);
    } else {
      d.digest = digestModelPath(*path, &d.bytes);
    }
    out.push_back(std::move(d));
  }
  return out;
}

int64_t prepareRunDirectory(const std::string& run_dir_text, const ExperimentConfig& config,
                            const std::string& config_yaml) {
  const fs::path run_dir(run_dir_text);
  const std::vector<InputDigest> now = describeRunInputs(config);
  const fs::path record_path = run_dir / kRecordFile;
  const fs::path config_path = run_dir / "config.yaml";
  std::error_code ec;
  int64_t attempt = 1;
  nlohmann::json record;
  if (fs::exists(record_path, ec)) {
    try {
      record = nlohmann::json::parse(readText(record_path));
      attempt = record.at("attempts").get<int64_t>() + 1;
    } catch (const nlohmann::json::exception& e) {
      throw DataError(fmt::format("{}: not a run_inputs record ({}); move it away to start the record again",
                                  record_path.string(), e.what()));
    }
  } else if (fs::exists(config_path, ec)) {
    attempt = 2;  // a run directory from before this record existed
  }

  if (record.is_object() && hasCheckpoint(run_dir)) {
    std::string changed;
    // A record of format 1 (before issue 15's follow-up) holds only the config and learner.data.*:
    // the inputs recorded since are not compared with it, only recorded for the next attempt.
    const int64_t format = record.value("format", int64_t{1});
    for (const InputDigest& d : now) {
      if (format < 2 && d.what != "config" && d.what.rfind("learner.data.", 0) != 0) continue;
      std::string old_digest, old_path;
      for (const auto& r : record.value("inputs", nlohmann::json::array())) {
        if (r.value("what", "") == d.what) {
          old_digest = r.value("digest", "");
          old_path = r.value("path", "");
        }
      }
      if (old_digest == d.digest) continue;
      if (d.what == "config") {
        const std::string diff = changedLines(readText(config_path), config_yaml);
        changed +=
            fmt::format("\n  the resolved config ({}){}", config_path.string(), diff.empty() ? "" : ": now " + diff);
      } else if (old_digest.empty()) {
        changed += fmt::format("\n  {}: {} was not part of the run", d.what, d.path);
      } else {
        changed += fmt::format("\n  {}: {} is not the file the checkpoints were trained on{}", d.what, d.path,
                               old_path == d.path ? " (same path, other contents)" : " (was " + old_path + ")");
      }
    }
    for (const auto& r : record.value("inputs", nlohmann::json::array())) {
      const std::string what = r.value("what", "");
      bool present = false;
      for (const InputDigest& d : now) present = present || d.what == what;
      if (!present) changed += fmt::format("\n  {}: {} is no longer given", what, r.value("path", ""));
    }
    if (!changed.empty()) {
      GRAMRL_CHECK(!config.experiment.check_resume_inputs, ConfigError,
                   "{} holds checkpoints of a run with other inputs, and a rerun resumes from them:{}\nUse a new "
                   "experiment.name for a new run, restore the inputs, or resume on the new inputs anyway with "
                   "experiment.check_resume_inputs=false",
                   run_dir.string(), changed);
      log::warn("resuming {} on changed inputs (experiment.check_resume_inputs=false):{}", run_dir.string(), changed);
    }
  }

  fs::create_directories(run_dir / "logs", ec);
  GRAMRL_CHECK(!ec, SystemError, "cannot create run directory {}: {}", run_dir.string(), ec.message());
  if (fs::exists(config_path, ec)) {
    // Keep the record of the earlier attempt (issue 15: every rerun overwrote it).
    const fs::path kept = run_dir / fmt::format("config.attempt-{}.yaml", attempt - 1);
    if (!fs::exists(kept, ec)) checkpoint::writeFileAtomically(kept.string(), readText(config_path));
  }
  checkpoint::writeFileAtomically(config_path.string(), config_yaml);
  nlohmann::json inputs = nlohmann::json::array();
  for (const InputDigest& d : now) {
    inputs.push_back({{"what", d.what}, {"path", d.path}, {"bytes", d.bytes}, {"digest", d.digest}});
  }
  nlohmann::json out{{"format", kRecordFormat}, {"attempts", attempt}, {"inputs", inputs}};
  checkpoint::writeFileAtomically(record_path.string(), out.dump(2) + "\n");
  return attempt;
}

std::string adviceAfterFailure(int exit_code) {
  switch (exit_code) {
    case 2: return "a config or data error (above): fix it and rerun; rerunning as is fails the same way";
    case 70:
      return "an internal error (a bug in gramrl; please report it with the log); a rerun resumes from the "
             "last checkpoint";
    default: return "rerun the same command to resume from the last checkpoint";
  }
}

}  // namespace gramrl
