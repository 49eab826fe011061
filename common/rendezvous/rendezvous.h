// Rendezvous: how gramrl processes find each other.
//
// Learner rank 0 (or, for tools and tests, any one process) hosts a c10d TCPStore; every
// process connects to it, registers the ZeroMQ endpoints it bound, and looks up the endpoints
// of the processes it talks to. The launcher passes only the store's host:port and each
// process's role and index. Keys are "gramrl/ep/<role>/<index>/<name>".
//
// Thread safety: a Rendezvous may be used from several threads (the TCPStore client serialises
// its requests). Calls block for at most the timeout given (lookups) or the connect timeout
// (construction). Errors: Timeout when a peer has not registered in time; CollectiveError when
// the store is unreachable or fails; ConfigError for malformed names.
//
// This header keeps c10d out of its includers (the store lives behind a pointer).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gramrl {

struct RendezvousAddress {
  std::string host = "127.0.0.1";
  uint16_t port = 0;

  // Parses "host:port" (e.g. from --rendezvous or GRAMRL_RENDEZVOUS); throws ConfigError.
  static RendezvousAddress parse(const std::string& text);
  std::string toString() const;
};

class Rendezvous {
 public:
  // Hosts the store on `address` (port 0 picks a free port; read it back with address()) and
  // connects to it. `world_size` is informational here; hosting does not wait for anyone.
  static std::unique_ptr<Rendezvous> host(RendezvousAddress address, std::chrono::milliseconds timeout);
  // Connects to a store hosted elsewhere, retrying until `timeout`.
  static std::unique_ptr<Rendezvous> connect(RendezvousAddress address, std::chrono::milliseconds timeout);

  ~Rendezvous();
  Rendezvous(const Rendezvous&) = delete;
  Rendezvous& operator=(const Rendezvous&) = delete;

  // The store's address as peers should dial it (the real port when hosted on port 0).
  RendezvousAddress address() const;
  bool isHost() const;

  // Registers one endpoint of this process: role ("reward", "learner"...), index, and a
  // channel name ("reward", "rollout", ...). Re-registering overwrites (a restarted process).
  void publish(const std::string& role, int64_t index, const std::string& name, const std::string& endpoint);
  // Removes a registration, so that lookups wait for the next publish (the launcher does this
  // before it restarts the learner ranks: NOTE [Learner restarts] in launch/local_launcher.h).
  void unpublish(const std::string& role, int64_t index, const std::string& name);
  // Blocks until that endpoint is registered, up to `timeout`; throws Timeout naming the key.
  std::string lookup(const std::string& role, int64_t index, const std::string& name,
                     std::chrono::milliseconds timeout);
  // Arbitrary small values (run ids, world sizes, "ready" flags).
  void set(const std::string& key, const std::string& value);
  std::string get(const std::string& key, std::chrono::milliseconds timeout);
  // Atomically adds `delta` to an integer counter and returns the new value (barriers, ids).
  int64_t add(const std::string& key, int64_t delta);

 private:
  struct Impl;
  explicit Rendezvous(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The store key of an endpoint; validates that the parts are non-empty names without '/'.
std::string endpointKey(const std::string& role, int64_t index, const std::string& name);

}  // namespace gramrl
