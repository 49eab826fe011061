// weight_sync_bench: the RLHF weight sync (NOTE [Weight sync] in learner/rlhf/experience_server.h)
// against a plain Gloo broadcast of the same bytes, measured in the same run.
//
// For each model shape, a policy's parameters go from "learner rank 0" to "an actor":
//   snapshot:   makeWeightSnapshot (rank 0 copies and encodes the parameters once per version);
//   zmq fetch:  an actor thread's WeightReceiver::fetchInto over loopback TCP from the
//               ExperienceServer's weights ROUTER (manifest, then chunks), swapping into its model;
//   gloo bcast: two Gloo ranks (threads, loopback TCP, c10d HashStore) broadcast the same
//               parameter tensors from rank 0 (Collective::broadcast, coalesced buckets).
// Reported: MiB, median ms of `iters` (after one warm-up), GB/s = bytes / time, and the ratio
// gloo ms / zmq ms (1.0 = as fast as the broadcast; issue 11's target is 0.8 or more). Every
// fetch is checked: the actor's parameters equal the learner's after each version.
//
// Usage: weight_sync_bench [iters]   (default 5)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include "actors/weight_receiver.h"
#include "common/collectives/collective.h"
#include "common/collectives/process_group.h"
#include "common/model/presets.h"
#include "common/model/transformer.h"
#include "common/transport/zmq_context.h"
#include "learner/rlhf/experience_server.h"
#include "learner/rlhf/weight_publisher.h"

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<at::Tensor> parametersOf(gramrl::Transformer& model) {
  std::vector<at::Tensor> out;
  for (auto& p : model.parameters()) out.push_back(p.detach());
  return out;
}

bool sameParameters(gramrl::Transformer& a, gramrl::Transformer& b) {
  const auto pa = parametersOf(a);
  const auto pb = parametersOf(b);
  for (size_t i = 0; i < pa.size(); ++i) {
    if (!pa[i].equal(pb[i])) return false;
  }
  return pa.size() == pb.size();
}

struct ZmqResult {
  double snapshot_ms = 0;
  double fetch_ms = 0;
  bool ok = true;
};

ZmqResult zmqSync(const gramrl::ModelConfig& config, int iters) {
  torch::NoGradGuard no_grad;
  gramrl::Transformer learner(config, torch::kFloat, torch::kCPU);
  gramrl::Transformer actor(config, torch::kFloat, torch::kCPU);
  for (auto& p : parametersOf(learner)) p.uniform_(-1.0, 1.0);  // the constructor leaves them unset
  gramrl::transport::ZmqContext context;
  gramrl::rlhf::ExperienceServerOptions options;
  options.receive_limits.max_message_bytes = size_t{256} << 20;
  gramrl::rlhf::ExperienceServer server(context, options, 0, {});
  gramrl::transport::ReceiveLimits limits;
  limits.max_message_bytes = size_t{256} << 20;
  gramrl::WeightReceiver receiver(context, server.weightsEndpoint(), limits, std::chrono::milliseconds(60000));
  std::vector<double> snapshot_ms;
  std::vector<double> fetch_ms;
  ZmqResult r;
  for (int it = 0; it < iters + 1; ++it) {
    for (auto& p : parametersOf(learner)) p.add_(1.0f);  // a new version
    auto t = Clock::now();
    server.publishWeights(gramrl::rlhf::makeWeightSnapshot(learner, it + 1));
    const double s = msSince(t);
    t = Clock::now();
    const int64_t version = receiver.fetchInto(actor);
    const double f = msSince(t);
    if (version != it + 1 || !sameParameters(learner, actor)) r.ok = false;
    if (it > 0) {
      snapshot_ms.push_back(s);
      fetch_ms.push_back(f);
    }
  }
  server.stop();
  r.snapshot_ms = median(snapshot_ms);
  r.fetch_ms = median(fetch_ms);
  return r;
}

double glooBroadcast(const gramrl::ModelConfig& config, int iters, const std::string& group, bool& ok) {
  constexpr int kWorld = 2;
  gramrl::StoreHandle store{c10::make_intrusive<c10d::HashStore>(), "in-process HashStore", true};
  std::vector<double> ms(kWorld);
  std::vector<bool> good(kWorld, true);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < kWorld; ++rank) {
    threads.emplace_back([&, rank] {
      torch::NoGradGuard no_grad;
      gramrl::Transformer model(config, torch::kFloat, torch::kCPU);
      gramrl::CollectiveOptions options;
      options.group_name = group;
      options.timeout = std::chrono::seconds(120);
      auto c = gramrl::makeProcessGroupCollective(store, rank, kWorld, at::Device(at::kCPU), options);
      auto params = parametersOf(model);
      std::vector<double> times;
      for (int it = 0; it < iters + 1; ++it) {
        for (auto& p : params) p.fill_(rank == 0 ? static_cast<float>(it + 1) : -1.0f);
        c->barrier();
        const auto t = Clock::now();
        c->broadcast(params, 0);
        if (it > 0) times.push_back(msSince(t));
        for (auto& p : params) good[rank] = good[rank] && p.eq(static_cast<float>(it + 1)).all().item<bool>();
      }
      ms[rank] = median(times);
    });
  }
  for (auto& t : threads) t.join();
  ok = good[0] && good[1];
  return std::max(ms[0], ms[1]);
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  at::set_num_threads(1);
  std::printf("weight_sync_bench: float32 parameters, loopback TCP, median of %d after one warm-up\n", iters);
  std::printf("GB/s = bytes / time; ratio = gloo broadcast ms / zmq fetch ms (target >= 0.8)\n\n");
  std::printf("%-14s %9s | %11s | %12s %8s | %12s %8s | %6s %s\n", "model", "MiB", "snapshot ms", "zmq fetch ms",
              "GB/s", "gloo bcast ms", "GB/s", "ratio", "check");
  struct Shape {
    const char* name;
    gramrl::ModelConfig config;
  };
  gramrl::ModelConfig medium = gramrl::presetConfig("small");
  medium.hidden_size = 768;
  medium.intermediate_size = 2048;
  medium.num_attention_heads = 12;
  medium.num_key_value_heads = 4;
  medium.head_dim = 64;
  bool all_ok = true;
  int index = 0;
  for (const Shape& s : {Shape{"toy", gramrl::presetConfig("toy")}, Shape{"small", gramrl::presetConfig("small")},
                         Shape{"768x8 (50M)", medium}}) {
    double bytes = 0;
    {
      gramrl::Transformer m(s.config, torch::kFloat, torch::kCPU);
      for (auto& p : m.parameters()) bytes += static_cast<double>(p.numel()) * 4.0;
    }
    const ZmqResult z = zmqSync(s.config, iters);
    bool gloo_ok = true;
    const double g = glooBroadcast(s.config, iters, "weights" + std::to_string(index++), gloo_ok);
    const bool ok = z.ok && gloo_ok;
    all_ok = all_ok && ok;
    auto gbs = [&](double ms) { return bytes / (ms * 1e-3) / 1e9; };
    std::printf("%-14s %9.2f | %11.2f | %12.2f %8.3f | %12.2f %8.3f | %6.2f %s\n", s.name, bytes / (1 << 20),
                z.snapshot_ms, z.fetch_ms, gbs(z.fetch_ms), g, gbs(g), g / z.fetch_ms,
                ok ? "ok" : (z.ok ? "GLOO MISMATCH" : "ZMQ MISMATCH"));
  }
  return all_ok ? 0 : 1;
}
