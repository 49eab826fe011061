#include "common/tokenizer/tokenizer_source.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/core/errors.h"

namespace gramrl::tokenizer {
namespace fs = std::filesystem;
namespace {

constexpr const char* kTokenizerFiles[] = {"tokenizer.json", "tokenizer.json.gz", "tokenizer_config.json"};

std::string readSmall(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  GRAMRL_CHECK(in.good(), DataError, "cannot read {}", path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Temp file + rename, so a crash never leaves a truncated tokenizer next to a valid model.
void writeAtomically(const fs::path& path, const std::string& bytes) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    GRAMRL_CHECK(out.good(), SystemError, "cannot write {}", tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  GRAMRL_CHECK(!ec, SystemError, "cannot rename {} to {}: {}", tmp.string(), path.string(), ec.message());
}

}  // namespace

std::string resolveTokenizerSpec(const std::string& model_source, const std::string& tokenizer_option) {
  if (!tokenizer_option.empty()) return tokenizer_option;
  if (model_source.rfind("builtin:", 0) == 0) return "builtin:bytes";
  const fs::path dir(model_source);
  std::error_code ec;
  if (fs::exists(dir / "tokenizer.json", ec) || fs::exists(dir / "tokenizer.json.gz", ec)) return model_source;
  const fs::path reference = dir / kTokenizerReferenceFile;
  if (fs::exists(reference, ec)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(readSmall(reference));
    } catch (const nlohmann::json::exception& e) {
      GRAMRL_CHECK(false, DataError, "{}: not valid JSON: {}", reference.string(), e.what());
    }
    GRAMRL_CHECK(j.is_object() && j.contains("tokenizer") && j["tokenizer"].is_string(), DataError,
                 "{}: expected {{\"tokenizer\": \"<spec>\"}}", reference.string());
    return j["tokenizer"].get<std::string>();
  }
  GRAMRL_CHECK(false, ConfigError,
               "no tokenizer for model {}: the directory has neither tokenizer.json nor {}; set the tokenizer option "
               "to a tokenizer directory or builtin:bytes",
               model_source, kTokenizerReferenceFile);
  return {};
}

void saveTokenizerReference(const std::string& model_dir, const std::string& spec) {
  const fs::path out(model_dir);
  if (spec.rfind("builtin:", 0) == 0) {
    writeAtomically(out / kTokenizerReferenceFile, nlohmann::json{{"tokenizer", spec}}.dump() + "\n");
    return;
  }
  bool copied = false;
  for (const char* name : kTokenizerFiles) {
    const fs::path from = fs::path(spec) / name;
    std::error_code ec;
    if (!fs::exists(from, ec) || fs::equivalent(from.parent_path(), out, ec)) continue;
    writeAtomically(out / name, readSmall(from));
    copied = true;
  }
  if (!copied) writeAtomically(out / kTokenizerReferenceFile, nlohmann::json{{"tokenizer", spec}}.dump() + "\n");
}

}  // namespace gramrl::tokenizer
