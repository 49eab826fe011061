// The reward server: a ZeroMQ ROUTER on the reward channel in front of a ScoreSink (the dynamic
// batcher), and serveReward, the main loop of one `gramrl reward serve` replica.
//
// NOTE [Replies back to the socket owner]
// The ROUTER belongs to the thread that runs run() (NOTE [One owner thread per socket]), but
// scores are computed on the batcher's worker threads. A sink callback therefore never touches
// the socket: it encodes its reply, appends it to a mutex-guarded inbox and writes to an eventfd.
// The owner polls the ROUTER and the eventfd together (zmq_poll accepts a plain fd), so a reply
// goes out as soon as it is ready and the owner never spins. The inbox is shared-owned by the
// callbacks, so a callback that runs after the server is gone is harmless. A reply to a peer that
// has disconnected (sendTo throws Disconnected, e.g. a client that timed out and reset its
// socket) is dropped and counted. The eventfd also carries requestStop(), which is
// async-signal-safe, so the SIGTERM handler can wake the loop.
//
// NOTE [Reward server CURVE]
// With reward.server.curve_keys_dir set (NOTE [CurveZMQ] in common/transport/curve.h), the server
// loads the server role's keys, starts a ZapAuthenticator on its ZmqContext before the ROUTER
// binds (accepting exactly the keys in authorized_clients/), and makes the ROUTER a CURVE server;
// run() stops with the authenticator's error if its thread fails, because without a handler some
// libzmq builds accept any CURVE client. The client (reward_client.h) reads the client role's keys
// from its own copy of the directory. The HTTP endpoint (http_endpoint.h) is not covered:
// serveReward logs a warning when it is enabled together with CURVE on an address other than
// loopback (it is not refused: OpenRLHF-style trainers on a trusted network need it, and the
// warning names what is open). One ZapAuthenticator per context: a process that runs a CURVE
// reward server gives it a context of its own.
//
// NOTE [Reward server drain]
// After requestStop() the server keeps receiving: pings are answered, score requests are refused
// with SHUTTING_DOWN (a client retries on another replica), and replies to requests already
// submitted go out. run() returns once every submitted request has been answered, or when
// drain_timeout has passed (then it returns false and the caller exits without waiting for the
// stuck backend call).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/transport/curve.h"
#include "common/transport/frame_codec.h"
#include "common/transport/message_socket.h"
#include "common/transport/zmq_context.h"
#include "reward/service/batcher.h"
#include "reward/service/reward_codec.h"
#include "reward/service/score_sink.h"

namespace gramrl {
struct ExperimentConfig;
}

namespace gramrl::reward {

struct RewardServerSettings {
  // Where to bind: "tcp://<launch.transport.bind_host>:<reward.server.port + replica>"; port 0
  // binds an ephemeral port (read it back with RewardServer::endpoint()).
  std::string endpoint = "tcp://127.0.0.1:*";
  RequestLimits request_limits;  // max_request_items, max_request_mb
  // max_message_bytes from max_request_mb; libzmq's cap is answerableMessageBytes of it (NOTE
  // [Oversize messages are answered] in common/transport/frame_codec.h).
  transport::ReceiveLimits receive_limits;
  std::chrono::milliseconds drain_timeout{30000};   // reward.server.drain_timeout_s
  std::chrono::milliseconds stats_interval{10000};  // the heartbeat log line
  // reward.server.curve_keys_dir; empty: no CURVE (NOTE [Reward server CURVE]).
  std::string curve_keys_dir;

  static RewardServerSettings fromConfig(const ExperimentConfig& config, int64_t replica);
};

struct RewardServerStats {
  uint64_t received = 0;          // messages, valid or not
  uint64_t submitted = 0;         // score requests handed to the sink
  uint64_t scored = 0;            // score replies sent
  uint64_t errors = 0;            // error replies sent (any code)
  uint64_t malformed = 0;         // messages that did not decode (answered MALFORMED/TOO_LARGE)
  uint64_t refused_draining = 0;  // score requests refused with SHUTTING_DOWN by the server
  uint64_t pongs = 0;
  uint64_t dropped_replies = 0;  // replies to peers that were gone
  uint64_t curve_accepted = 0;   // CURVE handshakes the ZAP handler accepted (0 without CURVE)
  uint64_t curve_refused = 0;    // ZAP requests it refused (unknown keys, other mechanisms)
};

// Threads: construct on any thread; run() on one thread, which becomes the socket's owner;
// requestStop() from any thread or a signal handler; stats() from any thread.
// Blocking: the constructor binds; run() serves until stopped and drained.
// Throws: SystemError when the endpoint cannot be bound (address in use, bad host); ConfigError
// naming the path when curve_keys_dir lacks a key file or holds a bad key, or libzmq has no
// CURVE; SystemError when the context already has a ZAP handler. run() throws only for libzmq
// failures that are not about one message (never for bad input), and the ZAP handler's error.
class RewardServer {
 public:
  // `sink` must outlive run(). With settings.curve_keys_dir, `context` must have no other ZAP
  // handler (NOTE [Reward server CURVE]).
  RewardServer(transport::ZmqContext& context, ScoreSink& sink, RewardServerSettings settings);
  ~RewardServer();
  RewardServer(const RewardServer&) = delete;
  RewardServer& operator=(const RewardServer&) = delete;

  // The bound endpoint with the real port, e.g. "tcp://127.0.0.1:5555".
  const std::string& endpoint() const { return endpoint_; }
  // A line appended to the periodic heartbeat log line (e.g. the batcher's stats).
  void setHeartbeatDetails(std::function<std::string()> details) { details_ = std::move(details); }

  // Serves until requestStop(), then drains (NOTE [Reward server drain]). Returns true when every
  // submitted request was answered, false when drain_timeout ran out first.
  bool run();
  bool isCurveEnabled() const { return zap_ != nullptr; }
  // Idempotent; async-signal-safe.
  void requestStop() noexcept;
  RewardServerStats stats() const;

  struct Inbox;  // defined in the .cc; shared with the sink callbacks

 private:
  void handleMessage(bool draining);
  void flushReplies();
  enum class ReplyKind { kScore, kError, kPong };
  void sendReply(const std::string& peer, transport::OutgoingMessage&& message, ReplyKind kind);
  void logHeartbeat(bool draining);

  ScoreSink& sink_;
  RewardServerSettings settings_;
  std::unique_ptr<transport::CurveKeys> curve_keys_;  // null without CURVE
  std::unique_ptr<transport::ZapAuthenticator> zap_;  // before router_: outlives the socket
  transport::MessageSocket router_;
  std::string endpoint_;
  std::shared_ptr<Inbox> inbox_;
  std::function<std::string()> details_;
  std::atomic<bool> stop_{false};

  struct AtomicStats;
  std::unique_ptr<AtomicStats> stats_;
};

// One replica of `gramrl reward serve`: makes the batcher (one worker per reward.server.devices,
// each calling `factory`), binds tcp://<bind_host>:<port + replica>, prints "serving reward on
// <endpoint>" on stdout, serves until SIGTERM or SIGINT, drains (NOTE [Reward server drain]) and
// returns 0. When the drain times out it logs the requests left and exits the process with code
// 1 without waiting for the backend. Throws what the factory or the bind throws.
// `on_bound` (optional) is called with the bound endpoint before serving (e.g. to register it in
// a rendezvous store).
int serveReward(const ExperimentConfig& config, int64_t replica, BackendFactory factory,
                const std::function<void(const std::string&)>& on_bound = {});

}  // namespace gramrl::reward
