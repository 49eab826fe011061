// Reward service throughput: items/s and tokens/s through the ZeroMQ server and dynamic batcher
// (tcp loopback, in this process) against batch size and concurrent clients, versus calling the
// same backend in-process on the same items in the same run.
//   overhead ratio = service wall time / in-process wall time   (1.0 = no overhead)
//   tokens = UTF-8 bytes of prompt + response / 4 (the batcher's estimate)
// Every service score is checked against the in-process score of the same item (to 1e-5 relative:
// a model's float32 scores vary at rounding level with the batch a row ran in).
//
// reward_service_bench [--items N] [--gram-items N] [--request-items R]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/config/experiment_config.h"
#include "common/world/generators.h"
#include "reward/backends/backend_registry.h"
#include "reward/service/batcher.h"
#include "reward/service/reward_client.h"
#include "reward/service/reward_server.h"

namespace gramrl::reward {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<PointwiseItem> makeItems(size_t n) {
  world::WorldOptions options;
  options.seed = 1;
  std::vector<PointwiseItem> items;
  size_t i = 0;
  for (const auto& row : world::generate("prompts", static_cast<int64_t>(n), options)) {
    std::string response = row["reference"].get<std::string>();
    if (i++ % 2) response[0] = '#';
    items.push_back(PointwiseItem{row["prompt"].get<std::string>(), response, row["reference"].get<std::string>(), ""});
  }
  return items;
}

double seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Row {
  size_t batch, clients;
  double items_per_s, tokens_per_s, ratio, mean_batch;
};

int runBench(const std::string& label, RewardOptions options, size_t n_items, size_t request_items) {
  const std::vector<PointwiseItem> items = makeItems(n_items);
  double tokens = 0;
  for (const auto& it : items) tokens += double(it.prompt.size() + it.response.size() + it.reference.size()) / 4.0;
  std::printf("\n== %s: %zu items, %.0f tokens, %zu items per request ==\n", label.c_str(), items.size(), tokens,
              request_items);
  std::printf("%6s %8s %12s %12s %14s %10s %10s\n", "batch", "clients", "in-proc it/s", "service it/s", "service tok/s",
              "mean batch", "ratio");
  int failures = 0;
  for (size_t batch : {size_t{8}, size_t{64}}) {
    // In-process: the same backend, batches of `batch` items.
    std::vector<double> reference;
    auto backend = makeRewardBackend(options, "cpu");
    const auto t0 = Clock::now();
    for (size_t at = 0; at < items.size(); at += batch) {
      std::vector<PointwiseItem> part(items.begin() + at, items.begin() + std::min(items.size(), at + batch));
      auto s = backend->pointwise(part);
      reference.insert(reference.end(), s.begin(), s.end());
    }
    const double inproc = seconds(t0);
    for (size_t clients : {size_t{1}, size_t{4}, size_t{16}}) {
      BatcherOptions bo;
      bo.max_batch_items = batch;
      bo.max_wait = std::chrono::milliseconds(2);
      bo.max_queue_items = 1 << 20;
      DynamicBatcher batcher(bo, [&](const std::string& device) { return makeRewardBackend(options, device); });
      transport::ZmqContext context;
      RewardServerSettings settings;
      settings.endpoint = "tcp://127.0.0.1:*";
      settings.stats_interval = std::chrono::hours(1);
      RewardServer server(context, batcher, settings);
      std::thread serving([&] { server.run(); });
      std::vector<std::thread> threads;
      std::vector<int> bad(clients, 0);
      const auto t1 = Clock::now();
      for (size_t c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
          RewardClientOptions co;
          co.endpoints = {server.endpoint()};
          co.retry.attempt_timeout = std::chrono::seconds(600);
          RewardClient client(context, co);
          // Client c scores requests c, c + clients, ... of request_items items each.
          for (size_t at = c * request_items; at < items.size(); at += clients * request_items) {
            ScoreRequest r;
            r.pointwise.assign(items.begin() + at, items.begin() + std::min(items.size(), at + request_items));
            const ScoreReply reply = client.score(r);
            for (size_t i = 0; i < reply.scores.size(); ++i) {
              // A model backend's float32 scores depend on the batch a row ran in (BLAS blocking
              // differs with the batch shape), so allow rounding-level differences.
              const double want = reference[at + i];
              if (std::abs(reply.scores[i] - want) > 1e-5 * std::max(1.0, std::abs(want))) ++bad[c];
            }
          }
        });
      }
      for (auto& t : threads) t.join();
      const double service = seconds(t1);
      server.requestStop();
      serving.join();
      int wrong = 0;
      for (int b : bad) wrong += b;
      failures += wrong;
      std::printf("%6zu %8zu %12.0f %12.0f %14.0f %10.1f %10.2f%s\n", batch, clients, items.size() / inproc,
                  items.size() / service, tokens / service, batcher.stats().meanBatchItems(), service / inproc,
                  wrong ? "  WRONG SCORES" : "");
      std::fflush(stdout);
    }
  }
  return failures;
}

}  // namespace
}  // namespace gramrl::reward

int main(int argc, char** argv) {
  size_t items = 8192, gram_items = 256, request_items = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--items")) items = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--gram-items")) gram_items = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--request-items")) request_items = std::stoul(argv[i + 1]);
  }
  using namespace gramrl;
  int failures = 0;
  RewardOptions rule;
  rule.backend = "rule";
  rule.rule.check = "world_gold";
  failures += reward::runBench("rule world_gold", rule, items, request_items);
  if (gram_items > 0) {
    RewardOptions gram;
    gram.backend = "gram";
    gram.model = "builtin:toy";
    // The toy reproduction's settings (configs/gram-toy.yaml): the byte-level toy model needs the
    // compact judge template and the plain chat template to fit its 512 positions.
    gram.chat_template = "plain";
    gram.gram.judge_template = "compact";
    gram.max_tokens = 128;
    gram.batch_size = 64;
    try {
      failures += reward::runBench("gram builtin:toy", gram, gram_items, request_items);
    } catch (const std::exception& e) {
      std::printf("gram skipped: %s\n", e.what());
    }
  }
  std::printf("\nratio = service wall time / in-process wall time on the same items; scores checked: %s\n",
              failures ? "MISMATCHES" : "all equal");
  return failures ? 1 : 0;
}
