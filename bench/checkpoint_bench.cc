// Checkpoint loading against reading the same bytes, with the page cache warm and cold.
//
//   build/bench/checkpoint_bench [--model CONFIG_JSON] [--shard-mb 500] [--mb 100] [--runs 5] [--dir $TMPDIR]
//
// With --model (e.g. tests/data/checkpoint/qwen3_config.json, Qwen3-0.6B: 1.19 GB of bf16 in 310
// tensors) the checkpoint is that model's, random bf16 weights, saved as gramrl saves (and
// save_pretrained shards) with model.safetensors.index.json past --shard-mb. Without it, --mb MB of
// bf16 in 2 M-element tensors, one file.
//
// The reference, measured in the same run on the same files: what any load must do at least,
// read every file once (pread into one reused buffer) and look at every byte (an XOR over 64-bit
// words). Rows: the mapped load (LoadMode::kMap, NOTE [Mapped tensors]) and the read load
// (kRead), each timed until every byte of every tensor has been read once (the XOR, checked
// against the value of the saved tensors: a mapped load otherwise returns before touching the
// data); with --model also loadPretrained into a bf16 model and into a float32 model (the whole
// "load a model" path: map, check names and shapes, copy or convert into the parameters; its
// copy touches every byte), checked against the saved weights after the timing. Printed per row:
// MB/s = file bytes / 1e6 / seconds, and the ratio load time / reference time (1.00 = as fast as
// reading the bytes). Median of --runs runs. "Cold" evicts every file from the page cache with
// posix_fadvise(POSIX_FADV_DONTNEED) before each run (no root needed; the files are clean), so
// the disk (here a VM's virtual disk) is read again. Exit status 1 when a check fails.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <torch/torch.h>

#include "common/checkpoint/checkpoint.h"
#include "common/checkpoint/file_io.h"
#include "common/checkpoint/hf_config.h"
#include "common/model/pretrained.h"

namespace {

using namespace gramrl::checkpoint;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

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

// XOR over the tensors' bytes, each tensor starting at word 0 (order-free).
uint64_t checksum(const StateDict& tensors) {
  uint64_t acc = 0;
  for (const auto& [name, t] : tensors) acc ^= xorWords(t.data_ptr(), t.numel() * t.element_size());
  return acc;
}

void evict(const std::vector<std::string>& files) {
  for (const std::string& path : files) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd >= 0) {
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      ::close(fd);
    }
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
  std::string model_config, base;
  int64_t megabytes = 100, shard_mb = 500;
  int runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") {
      model_config = v;
    } else if (k == "--shard-mb") {
      shard_mb = std::stoll(v);
    } else if (k == "--mb") {
      megabytes = std::stoll(v);
    } else if (k == "--runs") {
      runs = std::stoi(v);
    } else if (k == "--dir") {
      base = v;
    } else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  if (runs < 1 || megabytes < 1 || shard_mb < 1) {
    std::cerr << "--runs, --mb and --shard-mb must be positive\n";
    return 2;
  }
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? tmp : "/tmp";
  }
  const std::string dir = base + "/gramrl-checkpoint-bench";
  fs::remove_all(dir);
  torch::NoGradGuard no_grad;
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  torch::manual_seed(0);

  // The checkpoint.
  StateDict saved;
  std::shared_ptr<gramrl::Transformer> model;
  double save_s = 0;
  std::string what;
  if (!model_config.empty()) {
    const gramrl::ModelConfig config = readHfConfigFile(model_config);
    model = std::make_shared<gramrl::Transformer>(config, at::kBFloat16, at::kCPU);
    for (auto& p : model->parameters()) p.normal_(0, 0.02);
    const auto start = Clock::now();
    gramrl::savePretrained(*model, dir, static_cast<uint64_t>(shard_mb) * 1'000'000);
    save_s = std::chrono::duration<double>(Clock::now() - start).count();
    saved = gramrl::stateDict(*model);
    what = fmt::format("{} ({}), random bf16, shards of at most {} MB", model_config, config.model_type, shard_mb);
  } else {
    const int64_t elements = megabytes * 1'000'000 / 2;
    const int64_t per_tensor = 1024 * 2048;
    for (int64_t i = 0, left = elements; left > 0; ++i, left -= per_tensor) {
      saved[fmt::format("model.layers.{}.weight", i)] = torch::randn({std::min(left, per_tensor)}).to(torch::kBFloat16);
    }
    gramrl::ModelConfig config;
    config.vocab_size = config.hidden_size = config.intermediate_size = 8;
    config.num_hidden_layers = config.num_attention_heads = config.num_key_value_heads = 1;
    config.head_dim = 8;
    const auto start = Clock::now();
    saveCheckpointDir(dir, config, saved);
    save_s = std::chrono::duration<double>(Clock::now() - start).count();
    what = fmt::format("{} MB of synthetic bf16, one file", megabytes);
  }
  const uint64_t expected = checksum(saved);
  std::vector<std::string> files;
  double bytes = 0;
  size_t largest = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".safetensors") continue;
    files.push_back(entry.path().string());
    bytes += static_cast<double>(entry.file_size());
    largest = std::max<size_t>(largest, entry.file_size());
  }
  std::sort(files.begin(), files.end());
  std::printf(
      "checkpoint_bench: %s\n  %s: %zu files, %.1f MB, %zu tensors; median of %d runs; MB/s = file bytes / 1e6 "
      "/ seconds; ratio = load time / reference time\n",
      what.c_str(), dir.c_str(), files.size(), bytes / 1e6, saved.size(), runs);
  std::printf("  %-52s %8.0f MB/s\n", "save (write + fsync + rename)", bytes / 1e6 / save_s);

  // References: read every file once into a reused buffer and look at every byte.
  std::vector<uint8_t> buffer(largest);
  uint64_t sink = 0;
  auto readAll = [&] {
    for (const std::string& file : files) {
      const ReadOnlyFile f(file);
      f.readAt(buffer.data(), f.size(), 0);
      sink ^= xorWords(buffer.data(), f.size());
    }
  };
  const double read_warm_s = medianSeconds(
      runs, [] {}, readAll);
  const double read_cold_s = medianSeconds(
      runs, [&] { evict(files); }, readAll);

  bool ok = true;
  auto loadAndTouch = [&](LoadMode mode) {
    LoadOptions options;
    options.mode = mode;
    const StateDict loaded = loadCheckpointDir(dir, options);
    ok = ok && checksum(loaded) == expected;
  };
  const double map_only_s = medianSeconds(
      runs, [] {}, [&] { const StateDict loaded = loadCheckpointDir(dir); });
  struct Row {
    std::string what;
    double seconds, reference_s;
  };
  std::vector<Row> rows;
  for (const bool cold : {false, true}) {
    const std::function<void()> before = cold ? std::function<void()>([&] { evict(files); }) : [] {};
    const double ref = cold ? read_cold_s : read_warm_s;
    const char* cache = cold ? "cold" : "warm";
    rows.push_back({fmt::format("kMap load + read every byte, {}", cache),
                    medianSeconds(runs, before, [&] { loadAndTouch(LoadMode::kMap); }), ref});
    rows.push_back({fmt::format("kRead load + read every byte, {}", cache),
                    medianSeconds(runs, before, [&] { loadAndTouch(LoadMode::kRead); }), ref});
    if (model) {
      for (const at::ScalarType dtype : {at::kBFloat16, at::kFloat}) {
        std::shared_ptr<gramrl::Transformer> loaded;
        const double s = medianSeconds(runs, before, [&] {
          loaded.reset();  // the previous model's memory is not part of the next load
          loaded = gramrl::loadPretrained(dir, dtype, at::kCPU);
        });
        StateDict back = gramrl::stateDict(*loaded);
        for (auto& [name, t] : back) t = t.to(at::kBFloat16);
        ok = ok && checksum(back) == expected;
        rows.push_back(
            {fmt::format("loadPretrained into a {} model, {}", dtype == at::kFloat ? "float32" : "bf16", cache), s,
             ref});
      }
    }
  }

  std::printf("  %-52s %8.0f MB/s\n", "reference: read every file + every byte, warm", bytes / 1e6 / read_warm_s);
  std::printf("  %-52s %8.0f MB/s\n", "reference: read every file + every byte, cold", bytes / 1e6 / read_cold_s);
  std::printf("  %-52s %8.3f ms\n", "kMap load, data not touched", map_only_s * 1e3);
  for (const Row& r : rows) {
    std::printf("  %-52s %8.0f MB/s  ratio %.2f\n", r.what.c_str(), bytes / 1e6 / r.seconds, r.seconds / r.reference_s);
  }
  g_sink = sink;
  std::printf("  checks (every load gives the saved bytes): %s\n", ok ? "pass" : "FAIL");
  fs::remove_all(dir);
  return ok ? 0 : 1;
}
