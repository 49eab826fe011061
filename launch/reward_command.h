// `gramrl reward serve CONFIG [overrides...] [--replica K]`: the reward service of a config.
//
// With reward.replicas == 1 (or with --replica K) this process serves one replica, binding
// tcp://<launch.transport.bind_host>:<reward.server.port + K> (serveReward in
// reward/service/reward_server.h). With more replicas and no --replica, it starts one
// `gramrl reward serve ... --replica K` child per replica under local supervision (NOTE [Local
// supervision] in local_launcher.h), forwarding SIGTERM/SIGINT so that each drains; it exits 0
// when every replica drained cleanly.
//
// `gramrl reward score CONFIG --data ITEMS.jsonl [--out OUT.jsonl] [--endpoint tcp://...]
// [--batch N] [overrides...]`: a client of that service. Reads pointwise items (one JSON object
// a line: prompt and response strings, optional reference and label), scores them in requests
// of N items through RewardClient (every replica of the config, or the --endpoint ones; CURVE
// from reward.server.curve_keys_dir), and writes each item back as one JSON line with "score"
// added, in input order: to OUT atomically (nothing is left on failure), else to stdout.
// Progress goes to the log (stderr) about every 10 s.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gramrl {

struct RewardServeArgs {
  std::string config;
  std::vector<std::string> overrides;
  int64_t replica = -1;  // -1: every replica (one process each when reward.replicas > 1)
  // host:port of a run's store: the replica binds a free port and registers it there as
  // ("reward", replica, "zmq"); the HTTP endpoint stays off.
  std::string rendezvous;
};

int runRewardServe(const RewardServeArgs& args);

struct RewardScoreArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::string data;                    // --data ITEMS.jsonl
  std::string out;                     // --out OUT.jsonl; empty: stdout
  std::vector<std::string> endpoints;  // --endpoint (repeatable); empty: from the config
  int64_t batch = 32;                  // --batch: items per request
};

// Blocking: until every item is scored. Throws ConfigError (config, keys, --batch), DataError
// naming file:line for a bad item, and what RewardClient::score throws (Timeout, Overloaded,
// Disconnected, DataError) when the service fails.
int runRewardScore(const RewardScoreArgs& args);

}  // namespace gramrl
