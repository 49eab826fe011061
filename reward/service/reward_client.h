// The reward client of rollout actors: score requests to one or more reward server replicas,
// with per-attempt timeouts, backoff and failover (NOTE [Request retries] in
// common/transport/request_client.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/transport/request_client.h"
#include "common/transport/zmq_context.h"
#include "reward/service/reward_codec.h"
#include "schemas/reward.capnp.h"

namespace gramrl {
struct ExperimentConfig;
}

namespace gramrl::reward {

struct RewardClientOptions {
  std::vector<std::string> endpoints;  // every replica, e.g. tcp://127.0.0.1:5555, ...:5556
  transport::RetryPolicy retry;
  transport::ReceiveLimits receive_limits;
  // reward.server.curve_keys_dir: a directory with client.key, client.key_secret and server.key
  // (NOTE [CurveZMQ] in common/transport/curve.h); the client's DEALERs then speak CURVE. Empty:
  // plain ZeroMQ (which a CURVE server never answers).
  std::string curve_keys_dir;
  // The servers' request limits (reward.server.max_request_items, max_request_mb). When set,
  // score() refuses a larger request at once with a DataError naming the key, instead of sending
  // it: a message far over the server's ZeroMQ limit is dropped by libzmq with the connection, so
  // no error reply could come back and the client would wait out every attempt (issue 15).
  std::optional<RequestLimits> request_limits;

  // Endpoints tcp://<host>:<reward.server.port + i> for i < reward.replicas (host: bind_host, or
  // 127.0.0.1 when the servers bind every interface); retries from launch.transport
  // (request_timeout_ms, max_attempts, backoff_initial_ms, backoff_max_ms); curve_keys_dir from
  // reward.server.curve_keys_dir.
  // `endpoints`, when not empty, replace the config's (reward.server.port may then be 0).
  // Throws ConfigError when reward.server.port is 0 and no endpoints are given.
  static RewardClientOptions fromConfig(const ExperimentConfig& config, std::vector<std::string> endpoints = {});
};

struct RewardClientStats {
  uint64_t requests = 0;           // score() calls
  uint64_t overloaded = 0;         // OVERLOADED replies seen (each retried after a backoff)
  uint64_t deadline_exceeded = 0;  // DEADLINE_EXCEEDED replies seen
  uint64_t shutting_down = 0;      // SHUTTING_DOWN replies seen (retried on the next replica)
  transport::RequestStats transport;
};

// Threads: one owner thread (the sockets' owner); give each thread its own client.
// Blocking: score() for up to about max_attempts * attempt_timeout plus backoffs.
// Throws (score, scoreAll): Overloaded, Timeout or Disconnected when the attempts run out
// (DEADLINE_EXCEEDED ends as Timeout, SHUTTING_DOWN as Disconnected); DataError for a request
// the server refused as malformed, too large or unsupported, or that its backend could not
// score (with the server's message); ProtocolError for an invalid reply.
// Throws ConfigError unless `endpoint` is tcp://host:port with a port in 1..65535, ipc://path or
// inproc://name; `what` names where it came from ("--endpoint").
void validateEndpoint(const std::string& endpoint, const std::string& what);

// A TCP connect to a tcp:// endpoint within `timeout`: "" when something accepts it (or the
// endpoint is not tcp://), else why not ("connection refused"). ZeroMQ retries a refused connect
// silently, so a command that meets no server at all would otherwise learn it only after every
// attempt timed out. Does not throw.
std::string probeTcpEndpoint(const std::string& endpoint, std::chrono::milliseconds timeout);

class RewardClient {
 public:
  // Throws ConfigError (naming the path) when options.curve_keys_dir lacks a key file or holds a
  // bad key, or libzmq has no CURVE, and for an endpoint that is not tcp://host:port (port 1 to
  // 65535), ipc://path or inproc://name (validateEndpoint). Does not connect (sockets are made on
  // first use).
  RewardClient(transport::ZmqContext& context, RewardClientOptions options);

  ScoreReply score(const ScoreRequest& request);
  // One reply per request, in request order (the requests are sent one after another).
  std::vector<ScoreReply> scoreAll(const std::vector<ScoreRequest>& requests);
  // True when a replica answers a ping within `timeout` (each replica is tried once).
  bool ping(std::chrono::milliseconds timeout);

  RewardClientStats stats() const;
  const std::vector<std::string>& endpoints() const { return options_.endpoints; }
  void adoptByCurrentThread() { client_.adoptByCurrentThread(); }

 private:
  transport::ZmqContext& context_;
  RewardClientOptions options_;
  transport::SocketOptions socket_options_;  // CURVE client options, or defaults
  transport::RequestClient<wire::RewardMessage> client_;
  RewardClientStats stats_;
};

}  // namespace gramrl::reward
