// Hugging Face checkpoint directories: config.json plus model.safetensors, or plus
// model.safetensors.index.json and its shards model-00001-of-0000N.safetensors.
//
// NOTE [Mapped tensors]
// LoadMode::kMap (the default) maps each safetensors file copy-on-write (file_io.h MappedFile) and
// returns tensors that wrap the mapping without copying; each tensor holds a reference to the
// mapping, which is unmapped when the last tensor of the file is destroyed. Pages are read on
// first touch and are page cache, not process heap; writing to a tensor copies that page (the
// file never changes). Tensors whose bytes are not aligned to their element size (files from
// writers that do not pad the header, see NOTE [Safetensors layout]) are copied. kRead instead
// reads every tensor into its own memory with pread.
// Measured with bench/checkpoint_bench.cc (then in tests/; 2-core dev VM shared with other
// builds, 100 MB of bf16 in 24 tensors, load timed until every byte has been read once, median of
// 5, four runs): the mapped load itself takes 0.14 ms; load + read runs at 7.2-7.6 GB/s with the
// file in the page cache (2.4-2.7x the reference, a pread into a reused buffer plus the same pass:
// 2.8-3.0 GB/s) against 1.5-2.5 GB/s for kRead; after evicting the file from the page cache (a VM
// disk) at 1.3-1.7 GB/s (1.15-1.4x the reference, 1.1-1.4 GB/s) against 1.05-1.36 GB/s for kRead.
// Mapping wins in both cases because it avoids the copy and the page faults on fresh memory, so
// it is the default. Two costs: a mapped file must not be modified in place while mapped (a
// truncation would make later reads fault; gramrl never does that, it replaces files by rename,
// NOTE [Atomic checkpoint files]); and a writable private mapping counts its whole size against
// the commit limit when the kernel runs with vm.overcommit_memory=2, where kRead is the choice.
//
// NOTE [Saving over a checkpoint]
// saveCheckpointDir writes config.json, then the shards, then the commit point last: the index
// for a sharded checkpoint, model.safetensors for a single file. Before writing anything it
// removes an existing commit point from the directory, so a save interrupted at any moment leaves
// a directory that loadCheckpointDir rejects (no index or weights) rather than a mix of old and
// new shards that would load. Shards of an older save that the new one does not use are deleted
// after the commit. For a history of checkpoints, save each into a fresh directory.
//
// Threads: free functions; concurrent loads are fine, concurrent saves into one directory are not.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/Tensor.h>

#include "common/checkpoint/safetensors.h"
#include "common/checkpoint/state_dict.h"
#include "common/model/model_config.h"

namespace gramrl::checkpoint {

inline constexpr char kConfigFile[] = "config.json";
inline constexpr char kSingleFile[] = "model.safetensors";
inline constexpr char kIndexFile[] = "model.safetensors.index.json";
// transformers' default max_shard_size ("5GB").
inline constexpr uint64_t kDefaultMaxShardBytes = 5'000'000'000;

enum class LoadMode {
  kMap,   // wrap the mapped file (NOTE [Mapped tensors])
  kRead,  // read each tensor into its own memory
};

struct LoadOptions {
  LoadMode mode = LoadMode::kMap;
  // Convert every floating-point tensor to this type (e.g. at::kFloat to compute in float32 on
  // CPU). Integer and bool tensors keep their type. Converted tensors own their memory.
  std::optional<at::ScalarType> dtype;
  uint64_t max_header_bytes = kMaxHeaderBytes;
};

// Loads every tensor of one safetensors file. Throws DataError (missing, unreadable, malformed
// file; a BOOL tensor holding bytes other than 0 and 1) naming the file and tensor.
StateDict loadSafetensorsFile(const std::string& path, const LoadOptions& options = {});

// Loads a sharded checkpoint from its index (model.safetensors.index.json: {"weight_map": {tensor:
// shard file}}). Every shard header is validated before any data is read: each listed tensor must
// be in its shard, no tensor may be in two shards, a shard may hold no tensor the index does not
// list, and shard names must be plain file names in the index's directory. Throws DataError
// listing every inconsistency found.
StateDict loadShardedCheckpoint(const std::string& index_path, const LoadOptions& options = {});

// Loads dir/model.safetensors if present (as transformers does, it wins over an index), else
// dir/model.safetensors.index.json; DataError when neither exists. Does not read config.json
// (hf_config.h readHfConfigFile does).
StateDict loadCheckpointDir(const std::string& dir, const LoadOptions& options = {});

// Writes `tensors` as one safetensors file, atomically, with {"format": "pt"} metadata (which
// transformers requires). Tensors on any device, of any layout, are made contiguous on CPU one
// file at a time. Throws DataError for a dtype safetensors cannot hold, SystemError for I/O.
void saveSafetensorsFile(const std::string& path, const StateDict& tensors);

// Splits names into shards as transformers' save_pretrained does: in `order` (the model's
// parameter order, which is what save_pretrained walks; empty = StateDict order, i.e. by name), a
// shard is closed when the next tensor would take it past max_shard_bytes; a tensor larger than
// that gets a shard of its own. Always at least one shard. Throws ConfigError when `order` is not
// empty and does not name every tensor exactly once.
std::vector<std::vector<std::string>> planShards(const StateDict& tensors, uint64_t max_shard_bytes,
                                                 const std::vector<std::string>& order = {});

// Writes a checkpoint directory that transformers' from_pretrained loads: config.json, and
// model.safetensors (one shard) or model-0000i-of-0000n.safetensors plus
// model.safetensors.index.json (several). Creates `dir` if needed; every file is written
// atomically and in the order of NOTE [Saving over a checkpoint]. `order` as for planShards.
// Returns the file names written. Throws ConfigError for an inconsistent config or
// max_shard_bytes == 0, DataError for an unsupported dtype, SystemError for I/O.
std::vector<std::string> saveCheckpointDir(const std::string& dir, const ModelConfig& config, const StateDict& tensors,
                                           uint64_t max_shard_bytes = kDefaultMaxShardBytes,
                                           const std::vector<std::string>& order = {});

// "model-00002-of-00003.safetensors" for shard index 1 of 3.
std::string shardFileName(size_t index, size_t count);

}  // namespace gramrl::checkpoint
