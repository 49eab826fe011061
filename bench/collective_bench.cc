// collective_bench: what coalescing (NOTE [Coalesced collectives] in common/collectives/collective.h)
// buys for a gradient allreduce, against one collective per tensor, measured in the same run.
//
// Two Gloo ranks on threads of this process, joined through a c10d HashStore, talk over
// loopback TCP. Each rank holds `tensors` float32 tensors of `elems` elements (a model's
// parameter list in miniature) and sums them with allreduceSum:
//   per-tensor: bucket_bytes = 1, so every tensor is its own collective;
//   coalesced:  bucket_bytes = 25 MiB (the default), so a few flat buckets.
// Reported per configuration: ms per allreduceSum (median of `iters`), calls per allreduceSum
// (callCount), and bus bandwidth busbw = 2 (n - 1) / n * bytes / time (nccl-tests' formula for
// allreduce; n = 2 ranks). The last column is per-tensor time / coalesced time. Every iteration
// checks the result: rank r fills with r + 1 + i, so the sum is 3 + 2 i on both ranks.
//
// Usage: collective_bench [iters]   (default 20)
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include "common/collectives/collective.h"
#include "common/collectives/process_group.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Result {
  double ms = 0;
  int64_t calls_per_op = 0;
  bool ok = true;
};

Result run(int tensors, int64_t elems, int64_t bucket_bytes, int iters, const std::string& group) {
  constexpr int kWorld = 2;
  gramrl::StoreHandle store{c10::make_intrusive<c10d::HashStore>(), "in-process HashStore", true};
  std::vector<Result> results(kWorld);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < kWorld; ++rank) {
    threads.emplace_back([&, rank] {
      gramrl::CollectiveOptions options;
      options.bucket_bytes = bucket_bytes;
      options.group_name = group;
      options.timeout = std::chrono::seconds(60);
      auto c = gramrl::makeProcessGroupCollective(store, rank, kWorld, at::Device(at::kCPU), options);
      std::vector<at::Tensor> ts;
      for (int i = 0; i < tensors; ++i) ts.push_back(at::empty({elems}));
      std::vector<double> times;
      for (int it = 0; it < iters + 1; ++it) {  // the first iteration warms up and is dropped
        for (int i = 0; i < tensors; ++i) ts[i].fill_(rank + 1 + i);
        c->barrier();
        const auto start = Clock::now();
        c->allreduceSum(ts);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (it > 0) times.push_back(ms);
        for (int i = 0; i < tensors; ++i) {
          if (!ts[i].eq(3 + 2 * i).all().item<bool>()) results[rank].ok = false;
        }
      }
      std::sort(times.begin(), times.end());
      results[rank].ms = times[times.size() / 2];
      results[rank].calls_per_op = (c->callCount() - (iters + 1)) / (iters + 1);  // minus the barriers
    });
  }
  for (auto& t : threads) t.join();
  Result r = results[0];
  r.ms = std::max(results[0].ms, results[1].ms);
  r.ok = results[0].ok && results[1].ok;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::atoi(argv[1]) : 20;
  std::printf("collective_bench: 2 Gloo ranks (threads, loopback TCP), float32, median of %d\n", iters);
  std::printf("busbw = 2 (n - 1) / n * bytes / time, n = 2; ratio = per-tensor ms / coalesced ms\n\n");
  std::printf("%8s %8s %10s | %12s %6s %9s | %12s %6s %9s | %6s %s\n", "tensors", "elems", "MiB", "per-tensor ms",
              "calls", "GB/s", "coalesced ms", "calls", "GB/s", "ratio", "check");
  bool all_ok = true;
  struct Shape {
    int tensors;
    int64_t elems;
  };
  for (const Shape s : {Shape{300, 256}, Shape{300, 16384}, Shape{24, 1 << 20}}) {
    const double bytes = static_cast<double>(s.tensors) * s.elems * 4;
    const Result per = run(s.tensors, s.elems, 1, iters, "per" + std::to_string(s.elems));
    const Result co = run(s.tensors, s.elems, int64_t{25} << 20, iters, "co" + std::to_string(s.elems));
    auto busbw = [&](double ms) { return bytes / (ms * 1e-3) / 1e9; };  // 2 (n - 1) / n = 1 for n = 2
    const bool ok = per.ok && co.ok;
    all_ok = all_ok && ok;
    std::printf("%8d %8lld %10.2f | %12.3f %6lld %9.3f | %12.3f %6lld %9.3f | %6.2f %s\n", s.tensors,
                static_cast<long long>(s.elems), bytes / (1 << 20), per.ms, static_cast<long long>(per.calls_per_op),
                busbw(per.ms), co.ms, static_cast<long long>(co.calls_per_op), busbw(co.ms), per.ms / co.ms,
                ok ? "ok" : "WRONG SUM");
  }
  return all_ok ? 0 : 1;
}
