// serveReward: the main loop of one `gramrl reward serve` replica (reward_server.h).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/config/experiment_config.h"
#include "common/core/logging.h"
#include "reward/service/http_endpoint.h"
#include "reward/service/reward_server.h"

namespace gramrl::reward {

namespace {

std::atomic<RewardServer*> g_server{nullptr};

void onStopSignal(int) {
  RewardServer* server = g_server.load();
  if (server != nullptr) server->requestStop();
}

bool isLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

int serveReward(const ExperimentConfig& config, int64_t replica, BackendFactory factory,
                const std::function<void(const std::string&)>& on_bound) {
  log::setIdentity("reward", replica);
  const auto& server_options = config.reward.server;
  transport::ZmqContext context;
  DynamicBatcher batcher(BatcherOptions::fromConfig(server_options), std::move(factory));
  RewardServer server(context, batcher, RewardServerSettings::fromConfig(config, replica));
  server.setHeartbeatDetails([&batcher] { return batcher.stats().summary(); });

  struct sigaction sa {};
  sa.sa_handler = onStopSignal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  g_server.store(&server);
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);

  log::info("reward replica {}: backend {} on {} device worker(s), batches of <= {} items / {} tokens, wait {} ms",
            replica, batcher.backendName(), server_options.devices.size(), server_options.max_batch_items,
            server_options.max_batch_tokens, server_options.max_wait_ms);
  std::unique_ptr<HttpRewardEndpoint> http;
  if (server_options.http_port != 0) {
    HttpEndpointOptions http_options = httpEndpointOptions(server_options, config.launch.transport);
    http_options.port = static_cast<uint16_t>(server_options.http_port + replica);
    http = std::make_unique<HttpRewardEndpoint>(http_options, batcher);
    log::info("reward replica {}: OpenRLHF-compatible HTTP endpoint on {}:{} (POST /get_reward)", replica,
              http_options.bind_host, http->port());
    // NOTE [Reward server CURVE]: CURVE covers the ZeroMQ channel only.
    if (server.isCurveEnabled() && !isLoopbackHost(http_options.bind_host)) {
      log::warn(
          "reward replica {}: the HTTP endpoint on {}:{} is NOT authenticated or encrypted "
          "(reward.server.curve_keys_dir covers only the ZeroMQ endpoint); anyone who can reach it can "
          "score; set reward.server.http_port: 0 or bind loopback unless that network is trusted",
          replica, http_options.bind_host, http->port());
    }
  }

  // Only now is every endpoint bound: a port in use has already failed above (issue 15).
  if (on_bound) on_bound(server.endpoint());
  std::printf("serving reward on %s\n", server.endpoint().c_str());
  std::fflush(stdout);

  bool drained = server.run();
  if (http) http->stop();
  if (drained) drained = batcher.drain(std::chrono::seconds(5));
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  g_server.store(nullptr);
  if (!drained) {
    // A backend call is stuck; its worker cannot be joined, so the process ends here.
    log::error("reward replica {}: exiting without finishing the requests in flight", replica);
    std::fflush(nullptr);
    std::_Exit(1);
  }
  log::info("reward replica {}: drained; {}", replica, batcher.stats().summary());
  return 0;
}

}  // namespace gramrl::reward
