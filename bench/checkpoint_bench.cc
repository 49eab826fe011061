// Checkpoint load throughput: mapped (LoadMode::kMap) vs read (LoadMode::kRead), with the page
// cache warm and cold, against references measured in the same run: memcpy of the same number of
// bytes (memory bandwidth), and the least any load must do, a sequential pread of the file into a
// reused buffer followed by one pass over every byte. Also the save throughput.
//
//   <build>/tests/common/checkpoint/checkpoint_bench [MB=100] [dir=$TMPDIR]
//
// It lives here rather than in bench/ only because this change may not touch bench/; move it.
//
// Throughput = file bytes / wall seconds, MB = 1e6 bytes, median of 5 runs. A load is timed up to
// the point where every byte of every tensor has been read once (an XOR over 64-bit words that
// is checked against the value computed when the tensors were made), because a mapped load
// otherwise returns before touching the data. "Cold" evicts the file from the page cache with
// posix_fadvise(POSIX_FADV_DONTNEED) before each run (no root needed; the file is clean).
// Not a ctest: it takes a few seconds and its figures depend on the machine.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <torch/torch.h>

#include "common/checkpoint/checkpoint.h"
#include "common/checkpoint/file_io.h"

namespace {

using namespace gramrl::checkpoint;
using Clock = std::chrono::steady_clock;

volatile uint64_t g_sink = 0;  // keeps the reference's reads from being optimised away

uint64_t xorWords(const void* data, size_t bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc ^= w;
  }
  for (; i < bytes; ++i) acc ^= uint64_t{p[i]} << (8 * (i % 8));
  return acc;
}

uint64_t checksum(const StateDict& tensors) {
  uint64_t acc = 0;
  for (const auto& [name, t] : tensors) acc ^= xorWords(t.data_ptr(), t.numel() * t.element_size());
  return acc;
}

void evict(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

double medianSeconds(int runs, const std::function<void()>& before, const std::function<void()>& body) {
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    before();
    const auto start = Clock::now();
    body();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t megabytes = argc > 1 ? std::stoll(argv[1]) : 100;
  const char* tmp = std::getenv("TMPDIR");
  const std::string base = argc > 2 ? argv[2] : (tmp && *tmp ? tmp : "/tmp");
  const std::string dir = base + "/gramrl-checkpoint-bench";
  std::filesystem::remove_all(dir);

  // A model-like state dict: bf16 matrices of a few MB each.
  torch::manual_seed(0);
  StateDict tensors;
  const int64_t elements = megabytes * 1'000'000 / 2;
  const int64_t per_tensor = 1024 * 2048;
  for (int64_t i = 0, left = elements; left > 0; ++i, left -= per_tensor) {
    const int64_t n = std::min(left, per_tensor);
    tensors[fmt::format("model.layers.{}.weight", i)] = torch::randn({n}).to(torch::kBFloat16);
  }
  const uint64_t expected = checksum(tensors);
  gramrl::ModelConfig config;
  config.vocab_size = config.hidden_size = config.intermediate_size = 8;
  config.num_hidden_layers = config.num_attention_heads = config.num_key_value_heads = 1;
  config.head_dim = 8;

  const auto save_start = Clock::now();
  saveCheckpointDir(dir, config, tensors);
  const double save_s = std::chrono::duration<double>(Clock::now() - save_start).count();
  const std::string file = dir + "/" + kSingleFile;
  const double bytes = static_cast<double>(std::filesystem::file_size(file));
  std::printf("checkpoint_bench: %s, %.1f MB, %zu tensors; MB/s = file bytes / 1e6 / median of 5 runs\n", file.c_str(),
              bytes / 1e6, tensors.size());
  std::printf("  %-44s %8.0f MB/s\n", "save (write + fsync + rename)", bytes / 1e6 / save_s);

  // References.
  std::vector<uint8_t> src(static_cast<size_t>(bytes), 1), dst(static_cast<size_t>(bytes));
  const double memcpy_s = medianSeconds(
      5, [] {}, [&] { std::memcpy(dst.data(), src.data(), src.size()); });
  uint64_t sink = 0;
  auto preadAll = [&] {  // what any load must do: read the file once and look at every byte
    ReadOnlyFile(file).readAt(dst.data(), dst.size(), 0);
    sink ^= xorWords(dst.data(), dst.size());
  };
  const double pread_warm_s = medianSeconds(
      5, [] {}, preadAll);
  const double pread_cold_s = medianSeconds(
      5, [&] { evict(file); }, preadAll);

  bool ok = true;
  auto load = [&](LoadMode mode) {
    LoadOptions options;
    options.mode = mode;
    const StateDict loaded = loadCheckpointDir(dir, options);
    ok = ok && checksum(loaded) == expected;
  };
  double load_only_map_s = medianSeconds(
      5, [] {},
      [&] {
        LoadOptions options;
        const StateDict loaded = loadCheckpointDir(dir, options);
      });
  const double map_warm_s = medianSeconds(
      5, [] {}, [&] { load(LoadMode::kMap); });
  const double read_warm_s = medianSeconds(
      5, [] {}, [&] { load(LoadMode::kRead); });
  const double map_cold_s = medianSeconds(
      5, [&] { evict(file); }, [&] { load(LoadMode::kMap); });
  const double read_cold_s = medianSeconds(
      5, [&] { evict(file); }, [&] { load(LoadMode::kRead); });

  auto row = [&](const char* what, double seconds, double reference_s, const char* reference) {
    std::printf("  %-44s %8.0f MB/s  (%.2fx %s)\n", what, bytes / 1e6 / seconds, reference_s / seconds, reference);
  };
  std::printf("  %-44s %8.0f MB/s\n", "reference: memcpy", bytes / 1e6 / memcpy_s);
  std::printf("  %-44s %8.0f MB/s\n", "reference: pread + read every byte, warm", bytes / 1e6 / pread_warm_s);
  std::printf("  %-44s %8.0f MB/s\n", "reference: pread + read every byte, cold", bytes / 1e6 / pread_cold_s);
  std::printf("  %-44s %8.3f ms\n", "kMap load, data not touched", load_only_map_s * 1e3);
  row("kMap load + read every byte, warm cache", map_warm_s, pread_warm_s, "pread warm");
  row("kRead load + read every byte, warm cache", read_warm_s, pread_warm_s, "pread warm");
  row("kMap load + read every byte, cold cache", map_cold_s, pread_cold_s, "pread cold");
  row("kRead load + read every byte, cold cache", read_cold_s, pread_cold_s, "pread cold");
  g_sink = sink;
  std::printf("  checksums %s\n", ok ? "match" : "DIFFER");
  std::filesystem::remove_all(dir);
  return ok ? 0 : 1;
}
