#include "launch/reward_command.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <utility>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/config/config_loader.h"
#include "common/config/experiment_config.h"
#include "common/control/heartbeat_sender.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/data/json_line.h"
#include "common/rendezvous/rendezvous.h"
#include "launch/local_launcher.h"
#include "reward/backends/backend_registry.h"
#include "reward/service/reward_client.h"
#include "reward/service/reward_server.h"

namespace gramrl {

int runRewardServe(const RewardServeArgs& args) {
  ExperimentConfig config = loadExperimentConfig(args.config, args.overrides);
  if (!args.rendezvous.empty()) {
    GRAMRL_CHECK(args.replica >= 0, ConfigError, "reward serve --rendezvous serves one replica: give --replica K");
    config.reward.server.port = 0;
    config.reward.server.http_port = 0;
    const auto timeout = std::chrono::seconds(config.launch.rendezvous.timeout_s);
    auto store = std::shared_ptr<Rendezvous>(Rendezvous::connect(RendezvousAddress::parse(args.rendezvous), timeout));
    const RewardOptions options = config.reward;
    const int64_t replica = args.replica;
    // NOTE [Heartbeats]: starting until its endpoint is registered, then ready.
    std::shared_ptr<control::HeartbeatSender> heartbeat = control::HeartbeatSender::fromEnvironment(
        "reward", replica, std::chrono::milliseconds(config.launch.heartbeat_ms));
    const int rc = reward::serveReward(
        config, replica, [options](const std::string& device) { return reward::makeRewardBackend(options, device); },
        [store, replica, heartbeat](const std::string& endpoint) {
          store->publish("reward", replica, "zmq", endpoint);
          if (heartbeat) heartbeat->setPhase(control::ProcessPhase::kReady);
        });
    if (heartbeat) heartbeat->setPhase(control::ProcessPhase::kDraining);
    return rc;
  }
  const int64_t replicas = config.reward.replicas;
  GRAMRL_CHECK(args.replica < replicas, ConfigError, "--replica {}: reward.replicas is {} (replicas are 0 to {})",
               args.replica, replicas, replicas - 1);
  if (args.replica >= 0 || replicas == 1) {
    const RewardOptions options = config.reward;
    return reward::serveReward(config, std::max<int64_t>(args.replica, 0), [options](const std::string& device) {
      return reward::makeRewardBackend(options, device);
    });
  }
  log::setIdentity("reward");
  GRAMRL_CHECK(config.reward.server.port != 0, ConfigError,
               "reward.server.port is 0 with {} replicas: give a fixed port (replica i binds port + i)", replicas);
  const std::string exe = selfExecutable();
  std::vector<ProcessSpec> specs;
  for (int64_t k = 0; k < replicas; ++k) {
    ProcessSpec spec;
    spec.name = "reward-" + std::to_string(k);
    spec.argv = {exe, "reward", "serve", args.config};
    spec.argv.insert(spec.argv.end(), args.overrides.begin(), args.overrides.end());
    spec.argv.push_back("--replica");
    spec.argv.push_back(std::to_string(k));
    specs.push_back(std::move(spec));
  }
  log::info("starting {} reward replicas on ports {}-{}", replicas, config.reward.server.port,
            config.reward.server.port + replicas - 1);
  const auto grace = std::chrono::seconds(config.reward.server.drain_timeout_s + 10);
  const LaunchResult result = runLocal(specs, {}, grace);
  // A forwarded SIGTERM after which every replica drained and exited 0 is a clean stop.
  if (result.failed.empty()) return 0;
  log::error("reward replica {} failed with exit code {}", result.failed, result.exit_code);
  return result.exit_code;
}

namespace {

using OrderedJson = nlohmann::ordered_json;

struct ScoreItem {
  int64_t line = 0;  // in --data, for errors about the item
  OrderedJson row;   // written back with "score" added, keys in input order
  reward::PointwiseItem item;
};

// A string field, or a number/boolean label as its JSON text (as the HTTP endpoint does).
std::string textField(const OrderedJson& row, const char* key, bool required, bool scalar_ok,
                      const std::string& where) {
  const auto it = row.find(key);
  if (it == row.end() || it->is_null()) {
    GRAMRL_CHECK(!required, DataError, "{}: missing field '{}' (expected a string)", where, key);
    return "";
  }
  if (it->is_string()) return it->get<std::string>();
  GRAMRL_CHECK(scalar_ok && (it->is_number() || it->is_boolean()), DataError, "{}: field '{}' must be a string, got {}",
               where, key, it->type_name());
  return it->dump();
}

std::vector<ScoreItem> readScoreItems(const std::string& path) {
  data::checkInputFile(path, "--data");  // a directory opens, then fails as a "read error"
  std::ifstream in(path);
  GRAMRL_CHECK(in.is_open(), DataError, "--data {}: cannot open the file", path);
  std::vector<ScoreItem> items;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", path, number);
    ScoreItem item;
    item.line = number;
    data::parseJsonLine(line, where);  // strict (a repeated key, a NUL byte); then again keeping key order
    item.row = OrderedJson::parse(line);
    GRAMRL_CHECK(item.row.is_object(), DataError, "{}: expected a JSON object with prompt and response, got {}", where,
                 item.row.type_name());
    GRAMRL_CHECK(!item.row.contains("score"), DataError, "{}: the item already has a 'score' field", where);
    item.item.prompt = textField(item.row, "prompt", true, false, where);
    GRAMRL_CHECK(!item.row.contains("chosen") && !item.row.contains("rejected"), DataError,
                 "{}: the item has 'chosen'/'rejected' as well as 'response'; reward score takes one response per "
                 "item (split a pair into two items)",
                 where);
    item.item.response = textField(item.row, "response", true, false, where);
    item.item.reference = textField(item.row, "reference", false, false, where);
    item.item.label = textField(item.row, "label", false, true, where);
    items.push_back(std::move(item));
  }
  GRAMRL_CHECK(!in.bad(), DataError, "--data {}: read error", path);
  return items;
}

// "<file>:<line>: <message>" for the item a request error names ("pointwise[3]"), else the lines
// of the whole request.
std::string describeItems(const std::string& path, const std::vector<ScoreItem>& items, size_t begin, size_t end,
                          const std::string& message) {
  const std::string tag = "pointwise[";
  if (const auto at = message.find(tag); at != std::string::npos) {
    size_t k = 0, i = at + tag.size();
    bool digits = false;
    for (; i < message.size() && message[i] >= '0' && message[i] <= '9' && k < items.size(); ++i, digits = true) {
      k = k * 10 + static_cast<size_t>(message[i] - '0');
    }
    if (digits && i < message.size() && message[i] == ']' && begin + k < end) {
      return fmt::format("{}:{}: {}", path, items[begin + k].line, message);
    }
  }
  return fmt::format("{}:{}-{} (items {} to {}): {}", path, items[begin].line, items[end - 1].line, begin + 1, end,
                     message);
}

}  // namespace

int runRewardScore(const RewardScoreArgs& args) {
  log::setIdentity("reward-score");
  const ExperimentConfig config = loadExperimentConfig(args.config, args.overrides);
  const int64_t most = config.reward.server.max_request_items;
  GRAMRL_CHECK(args.batch >= 1 && args.batch <= most, ConfigError,
               "--batch: expected 1 to {} items per request (the server's reward.server.max_request_items), got {}",
               most, args.batch);
  for (const auto& endpoint : args.endpoints) reward::validateEndpoint(endpoint, "--endpoint");
  std::vector<ScoreItem> items = readScoreItems(args.data);
  transport::ZmqContext context;
  reward::RewardClient client(context, reward::RewardClientOptions::fromConfig(config, args.endpoints));
  {  // ZeroMQ retries a refused connect silently: say at once when no replica is there at all.
    std::string refused;
    for (const auto& endpoint : client.endpoints()) {
      const std::string why = reward::probeTcpEndpoint(endpoint, std::chrono::seconds(2));
      if (why.empty()) {
        refused.clear();
        break;
      }
      refused += fmt::format("{}{}: {}", refused.empty() ? "" : "; ", endpoint, why);
    }
    GRAMRL_CHECK(refused.empty(), Disconnected,
                 "no reward server to score with ({}); is `gramrl reward serve` running there?", refused);
  }
  std::string endpoints;
  for (const auto& endpoint : client.endpoints()) endpoints += (endpoints.empty() ? "" : ", ") + endpoint;
  log::info("scoring {} item(s) from {} in requests of <= {} on {}{}", items.size(), args.data, args.batch, endpoints,
            config.reward.server.curve_keys_dir.empty() ? "" : " (CURVE)");

  const auto start = std::chrono::steady_clock::now();
  auto next_progress = start + std::chrono::seconds(10);
  const size_t batch = static_cast<size_t>(args.batch);
  for (size_t begin = 0; begin < items.size(); begin += batch) {
    const size_t end = std::min(items.size(), begin + batch);
    reward::ScoreRequest request;
    request.kind = reward::RequestKind::kPointwise;
    for (size_t i = begin; i < end; ++i) request.pointwise.push_back(items[i].item);
    reward::ScoreReply reply;
    try {
      reply = client.score(request);
    } catch (const DataError& e) {
      // The server's message names an item by its index in the request; the user needs file:line.
      throw DataError(describeItems(args.data, items, begin, end, e.what()));
    }
    for (size_t i = begin; i < end; ++i) items[i].row["score"] = reply.scores[i - begin];
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_progress) {
      const double seconds = std::chrono::duration<double>(now - start).count();
      log::info("scored {}/{} item(s) in {:.0f} s ({:.1f} items/s)", end, items.size(), seconds, end / seconds);
      next_progress = now + std::chrono::seconds(10);
    }
  }

  std::string text;
  for (const ScoreItem& item : items) text += item.row.dump() + "\n";
  if (args.out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  } else {
    checkpoint::writeFileAtomically(args.out, text);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log::info("scored {} item(s) in {:.1f} s{}", items.size(), seconds, args.out.empty() ? "" : " into " + args.out);
  return 0;
}

}  // namespace gramrl
