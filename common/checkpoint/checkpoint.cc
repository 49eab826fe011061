#include "common/checkpoint/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <regex>
#include <set>

#include <fmt/ranges.h>
#include <torch/torch.h>

#include "common/checkpoint/file_io.h"
#include "common/checkpoint/hf_config.h"
#include "common/checkpoint/json_util.h"
#include "common/core/errors.h"

namespace gramrl::checkpoint {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; tensors wrap it as is");

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxIndexBytes = 256 << 20;
constexpr int kMaxIndexDepth = 8;
constexpr size_t kMaxReportedProblems = 50;

// One opened, validated safetensors file: mapped (kMap) or open for reading (kRead).
struct OpenFile {
  std::string path;
  std::shared_ptr<MappedFile> mapped;
  std::unique_ptr<ReadOnlyFile> reader;
  SafetensorsHeader header;
};

OpenFile openSafetensors(const std::string& path, const LoadOptions& options) {
  OpenFile out;
  out.path = path;
  if (options.mode == LoadMode::kMap) {
    out.mapped = std::make_shared<MappedFile>(path);
    out.header = parseSafetensors(out.mapped->data(), out.mapped->size(), path, options.max_header_bytes);
  } else {
    // Header and data through the same descriptor, so a file replaced meanwhile cannot mix.
    out.reader = std::make_unique<ReadOnlyFile>(path);
    out.header = readSafetensorsHeader(*out.reader, options.max_header_bytes);
  }
  return out;
}

at::Tensor makeTensor(const OpenFile& open, const TensorInfo& info, const LoadOptions& options) {
  const at::ScalarType type = toScalarType(info.dtype);
  const auto tensor_options = at::TensorOptions().dtype(type).device(at::kCPU);
  const uint64_t offset = open.header.dataOffset() + info.begin;
  const uint64_t bytes = info.byteSize();
  at::Tensor tensor;
  if (bytes == 0) {
    tensor = at::empty(info.shape, tensor_options);
  } else if (open.mapped != nullptr) {
    uint8_t* src = open.mapped->data() + offset;  // in bounds: parseSafetensors checked the tiling
    if (reinterpret_cast<uintptr_t>(src) % dtypeSize(info.dtype) == 0) {
      // The deleter owns a reference to the mapping: NOTE [Mapped tensors].
      auto release = [keep = open.mapped](void*) {};
      tensor = at::from_blob(src, info.shape, release, tensor_options);
    } else {
      tensor = at::empty(info.shape, tensor_options);
      std::memcpy(tensor.data_ptr(), src, bytes);
    }
  } else {
    tensor = at::empty(info.shape, tensor_options);
    open.reader->readAt(tensor.data_ptr(), bytes, offset);
  }
  if (info.dtype == DType::kBool && bytes > 0) {
    // torch assumes bool bytes are 0 or 1; anything else is undefined behaviour in its kernels.
    const auto* data = static_cast<const uint8_t*>(tensor.data_ptr());
    const uint8_t* bad = std::find_if(data, data + bytes, [](uint8_t b) { return b > 1; });
    GRAMRL_CHECK(bad == data + bytes, DataError, "{}: tensor '{}': BOOL byte {} at file offset {} is neither 0 nor 1",
                 open.path, info.name, static_cast<int>(*bad), offset + (bad - data));
  }
  if (options.dtype && c10::isFloatingType(type) && type != *options.dtype) tensor = tensor.to(*options.dtype);
  return tensor;
}

void addTensors(const OpenFile& open, const LoadOptions& options, StateDict& out) {
  for (const TensorInfo& info : open.header.tensors) {
    auto [it, fresh] = out.emplace(info.name, at::Tensor());
    GRAMRL_ASSERT(fresh, "tensor '{}' added twice", info.name);
    it->second = makeTensor(open, info, options);
  }
}

// A shard name from the index must name a file in the index's directory.
bool isPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

std::map<std::string, std::string> readWeightMap(const std::string& index_path) {
  const json root = detail::parseJsonStrict(readFile(index_path, kMaxIndexBytes), index_path, kMaxIndexDepth);
  GRAMRL_CHECK(root.is_object() && root.contains("weight_map"), DataError,
               "{}: expected an object with \"weight_map\" (a sharded checkpoint index)", index_path);
  const json& map = root["weight_map"];
  GRAMRL_CHECK(map.is_object(), DataError, "{}: weight_map: expected an object of tensor name -> shard file, got {}",
               index_path, detail::brief(map));
  std::map<std::string, std::string> out;
  for (const auto& [name, file] : map.items()) {
    GRAMRL_CHECK(file.is_string() && isPlainFileName(file.get<std::string>()), DataError,
                 "{}: weight_map[\"{}\"]: expected a file name in the same directory, got {}", index_path, name,
                 detail::brief(file));
    out.emplace(name, file.get<std::string>());
  }
  GRAMRL_CHECK(!out.empty(), DataError, "{}: weight_map is empty", index_path);
  return out;
}

std::string joinProblems(const std::vector<std::string>& problems) {
  std::string out;
  for (size_t i = 0; i < problems.size() && i < kMaxReportedProblems; ++i) out += "\n  " + problems[i];
  if (problems.size() > kMaxReportedProblems) {
    out += fmt::format("\n  ... and {} more", problems.size() - kMaxReportedProblems);
  }
  return out;
}

uint64_t tensorBytes(const at::Tensor& t) { return static_cast<uint64_t>(t.numel()) * t.element_size(); }

void writeShard(const std::string& path, const StateDict& tensors, const std::vector<std::string>& names) {
  std::vector<at::Tensor> keep;  // CPU contiguous versions, alive while the file is written
  std::vector<TensorBytes> items;
  keep.reserve(names.size());
  items.reserve(names.size());
  for (const std::string& name : names) {
    const at::Tensor& original = tensors.at(name);
    const DType dtype = toDType(original.scalar_type(), name);
    GRAMRL_CHECK(!original.is_sparse() && !original.is_quantized(), DataError,
                 "tensor '{}': sparse and quantized tensors cannot be saved to safetensors", name);
    keep.push_back(original.to(at::kCPU).contiguous());
    const at::Tensor& t = keep.back();
    items.push_back(TensorBytes{name, dtype, t.sizes().vec(), t.data_ptr(), tensorBytes(t)});
  }
  writeSafetensorsFile(path, std::move(items), {{"format", "pt"}});
}

void removeIfPresent(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
  GRAMRL_CHECK(!ec, SystemError, "cannot remove {}: {}", path.string(), ec.message());
}

}  // namespace

StateDict loadSafetensorsFile(const std::string& path, const LoadOptions& options) {
  StateDict out;
  addTensors(openSafetensors(path, options), options, out);
  return out;
}

StateDict loadShardedCheckpoint(const std::string& index_path, const LoadOptions& options) {
  const std::map<std::string, std::string> weight_map = readWeightMap(index_path);
  const fs::path dir = fs::path(index_path).parent_path();
  std::map<std::string, std::vector<std::string>> listed;  // shard -> tensors the index puts there
  for (const auto& [name, file] : weight_map) listed[file].push_back(name);

  // Open and validate every shard's header before reading any data.
  std::vector<OpenFile> shards;
  std::vector<std::string> problems;
  std::map<std::string, std::string> found_in;  // tensor -> first shard holding it
  for (const auto& [file, names] : listed) {
    shards.push_back(openSafetensors((dir / file).string(), options));
    const SafetensorsHeader& header = shards.back().header;
    for (const std::string& name : names) {
      if (header.find(name) == nullptr) {
        problems.push_back(fmt::format("tensor '{}' is listed in shard {}, which does not hold it", name, file));
      }
    }
    for (const TensorInfo& info : header.tensors) {
      auto [it, fresh] = found_in.emplace(info.name, file);
      if (!fresh) {
        problems.push_back(fmt::format("tensor '{}' is in two shards, {} and {}", info.name, it->second, file));
      } else if (auto listed_at = weight_map.find(info.name); listed_at == weight_map.end()) {
        problems.push_back(fmt::format("shard {} holds tensor '{}', which the index does not list", file, info.name));
      } else if (listed_at->second != file) {
        problems.push_back(
            fmt::format("tensor '{}' is in shard {}, but the index puts it in {}", info.name, file, listed_at->second));
      }
    }
  }
  GRAMRL_CHECK(problems.empty(), DataError, "{}: the index and its shards disagree ({} problems):{}", index_path,
               problems.size(), joinProblems(problems));

  StateDict out;
  for (const OpenFile& shard : shards) addTensors(shard, options, out);
  return out;
}

StateDict loadCheckpointDir(const std::string& dir, const LoadOptions& options) {
  const fs::path root(dir);
  const fs::path single = root / kSingleFile;
  const fs::path index = root / kIndexFile;
  std::error_code ec;  // the non-throwing overloads: an unreadable directory reads as "not there"
  if (fs::is_regular_file(single, ec)) return loadSafetensorsFile(single.string(), options);
  if (fs::is_regular_file(index, ec)) return loadShardedCheckpoint(index.string(), options);
  GRAMRL_CHECK(fs::is_directory(root, ec), DataError, "checkpoint directory {} does not exist", dir);
  throw DataError(
      fmt::format("{} holds neither {} nor {}: not a Hugging Face safetensors checkpoint (or an "
                  "interrupted save)",
                  dir, kSingleFile, kIndexFile));
}

void saveSafetensorsFile(const std::string& path, const StateDict& tensors) {
  std::vector<std::string> names;
  names.reserve(tensors.size());
  for (const auto& [name, unused] : tensors) names.push_back(name);
  writeShard(path, tensors, names);
}

std::vector<std::vector<std::string>> planShards(const StateDict& tensors, uint64_t max_shard_bytes,
                                                 const std::vector<std::string>& order) {
  std::vector<std::string> names = order;
  if (names.empty()) {
    for (const auto& [name, unused] : tensors) names.push_back(name);
  }
  GRAMRL_CHECK(
      names.size() == tensors.size() && std::set<std::string>(names.begin(), names.end()).size() == names.size(),
      ConfigError, "shard order: {} names for {} tensors, or a name given twice", names.size(), tensors.size());
  std::vector<std::vector<std::string>> shards(1);
  uint64_t current = 0;
  for (const std::string& name : names) {
    const auto it = tensors.find(name);
    GRAMRL_CHECK(it != tensors.end(), ConfigError, "shard order names '{}', which is not a tensor to save", name);
    const uint64_t bytes = tensorBytes(it->second);
    if (!shards.back().empty() && (bytes > max_shard_bytes || current + bytes > max_shard_bytes)) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(name);
    current += bytes;
  }
  return shards;
}

std::string shardFileName(size_t index, size_t count) {
  return fmt::format("model-{:05d}-of-{:05d}.safetensors", index + 1, count);
}

std::vector<std::string> saveCheckpointDir(const std::string& dir, const ModelConfig& config, const StateDict& tensors,
                                           uint64_t max_shard_bytes, const std::vector<std::string>& order) {
  GRAMRL_CHECK(max_shard_bytes > 0, ConfigError, "max_shard_bytes must be positive");
  const std::string config_json = toHfConfigJson(config);  // ConfigError before touching the disk
  for (const auto& [name, tensor] : tensors) toDType(tensor.scalar_type(), name);
  const fs::path root(dir);
  std::error_code ec;
  fs::create_directories(root, ec);
  GRAMRL_CHECK(!ec, SystemError, "cannot create checkpoint directory {}: {}", dir, ec.message());

  // NOTE [Saving over a checkpoint]: invalidate what is there first.
  const bool had_commit_point = fs::exists(root / kIndexFile, ec) || fs::exists(root / kSingleFile, ec);
  removeIfPresent(root / kIndexFile);
  removeIfPresent(root / kSingleFile);
  if (had_commit_point) syncDirectory(dir);

  std::vector<std::string> written;
  writeFileAtomically((root / kConfigFile).string(), config_json);
  written.push_back(kConfigFile);
  const std::vector<std::vector<std::string>> plan = planShards(tensors, max_shard_bytes, order);
  if (plan.size() == 1) {
    writeShard((root / kSingleFile).string(), tensors, plan[0]);
    written.push_back(kSingleFile);
  } else {
    json weight_map = json::object();
    uint64_t total = 0;
    for (size_t i = 0; i < plan.size(); ++i) {
      const std::string file = shardFileName(i, plan.size());
      writeShard((root / file).string(), tensors, plan[i]);
      written.push_back(file);
      for (const std::string& name : plan[i]) {
        weight_map[name] = file;
        total += tensorBytes(tensors.at(name));
      }
    }
    const json index = {{"metadata", {{"total_size", total}}}, {"weight_map", std::move(weight_map)}};
    writeFileAtomically((root / kIndexFile).string(), index.dump(2) + "\n");
    written.push_back(kIndexFile);
  }

  // Shards of an earlier save that this one did not overwrite.
  static const std::regex kShardPattern(R"(model-\d{5}-of-\d{5}\.safetensors)");
  const std::set<std::string> keep(written.begin(), written.end());
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (std::regex_match(name, kShardPattern) && keep.count(name) == 0) stale.push_back(it->path());
  }
  GRAMRL_CHECK(!ec, SystemError, "cannot list checkpoint directory {}: {}", dir, ec.message());
  for (const fs::path& path : stale) removeIfPresent(path);
  return written;
}

}  // namespace gramrl::checkpoint
