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
#include "common/core/errors.h"
#include "common/core/logging.h"
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
    return reward::serveReward(
        config, replica, [options](const std::string& device) { return reward::makeRewardBackend(options, device); },
        [store, replica](const std::string& endpoint) { store->publish("reward", replica, "zmq", endpoint); });
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
  OrderedJson row;  // written back with "score" added, keys in input order
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
  std::ifstream in(path);
  GRAMRL_CHECK(in.is_open(), DataError, "--data {}: cannot open the file", path);
  std::vector<ScoreItem> items;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", path, number);
    ScoreItem item;
    try {
      item.row = OrderedJson::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw DataError(fmt::format("{}: not valid JSON: {}", where, e.what()));
    }
    GRAMRL_CHECK(item.row.is_object(), DataError, "{}: expected a JSON object with prompt and response, got {}", where,
                 item.row.type_name());
    GRAMRL_CHECK(!item.row.contains("score"), DataError, "{}: the item already has a 'score' field", where);
    item.item.prompt = textField(item.row, "prompt", true, false, where);
    item.item.response = textField(item.row, "response", true, false, where);
    item.item.reference = textField(item.row, "reference", false, false, where);
    item.item.label = textField(item.row, "label", false, true, where);
    items.push_back(std::move(item));
  }
  GRAMRL_CHECK(!in.bad(), DataError, "--data {}: read error", path);
  return items;
}

}  // namespace

int runRewardScore(const RewardScoreArgs& args) {
  log::setIdentity("reward-score");
  GRAMRL_CHECK(args.batch >= 1, ConfigError, "--batch: expected a positive number of items, got {}", args.batch);
  const ExperimentConfig config = loadExperimentConfig(args.config, args.overrides);
  std::vector<ScoreItem> items = readScoreItems(args.data);
  transport::ZmqContext context;
  reward::RewardClient client(context, reward::RewardClientOptions::fromConfig(config, args.endpoints));
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
    const reward::ScoreReply reply = client.score(request);
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
