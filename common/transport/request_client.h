// Request/reply over DEALER sockets with timeouts, retries, backoff and failover.
//
// NOTE [Request retries]
// A call assigns the request the next sequence number, encodes it once, and makes up to
// RetryPolicy::max_attempts attempts. Attempt k goes to endpoint (first + k) % n, where `first`
// is the endpoint that answered last (so a client stays on a healthy replica and moves on from
// a dead one). Each attempt waits up to attempt_timeout for a reply carrying the request's seq;
// replies with other seqs are stale (answers to earlier attempts) and are dropped and counted.
// Seqs start at 1: an error reply with seq 0 is a server's answer to a message whose seq it could
// not read (malformed, or too large to keep: NOTE [Oversize messages are answered] in
// frame_codec.h). A DEALER carries at most one unanswered request (each attempt either gets its
// reply or ends with the socket's reset), so such a reply is the answer to the current request
// and is handed to validate(), which ends the call on it instead of waiting out the attempts.
// A server can also drop the connection without answering: libzmq does so when a frame passes
// the server's ZMQ_MAXMSGSIZE (NOTE [Oversize messages are answered] in frame_codec.h), a CURVE
// server when it refuses the client's keys, and a server process that dies. Each DEALER is
// watched by a socket monitor (ZMQ_EVENT_DISCONNECTED), so an attempt whose connection closes
// while its request is outstanding ends at once as Disconnected (counted in `disconnects`), and
// the next attempt follows after the backoff, instead of waiting out attempt_timeout.
// After a timeout the endpoint's DEALER is closed with linger 0 and recreated on next use (the
// "Lazy Pirate" pattern), so a request stuck in a dead connection is never delivered later.
// A reply is handed to the caller's validate(), which may throw Overloaded, Timeout or
// Disconnected to ask for another attempt (after a backoff of backoff_initial *
// backoff_multiplier^k, capped at backoff_max); anything else it throws ends the call. When the
// attempts run out the call throws the last failure's type (Timeout, Overloaded or
// Disconnected), naming the endpoints, the attempts and the elapsed time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/transport/frame_codec.h"
#include "common/transport/message_socket.h"
#include "common/transport/socket.h"
#include "common/transport/zmq_context.h"

namespace gramrl::transport {

struct RetryPolicy {
  int max_attempts = 3;
  std::chrono::milliseconds attempt_timeout{5000};
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2000};
  double backoff_multiplier = 2.0;
};

// Counters since construction, for metrics and tests.
struct RequestStats {
  uint64_t calls = 0;
  uint64_t attempts = 0;
  uint64_t timeouts = 0;          // attempts that got no matching reply in time
  uint64_t retryable_errors = 0;  // validate() asked for a retry
  uint64_t stale_replies = 0;     // replies whose seq did not match, dropped
  uint64_t socket_resets = 0;     // DEALERs closed after a timeout or a drop (Lazy Pirate)
  uint64_t disconnects = 0;       // attempts ended because the server closed the connection
};

namespace detail {

// Whether a reply envelope is an error (envelopes without an `error` member never are).
template <class Reader>
auto isErrorEnvelope(const Reader& reply, int) -> decltype(reply.isError()) {
  return reply.isError();
}
template <class Reader>
bool isErrorEnvelope(const Reader&, long) {
  return false;
}

// The non-template part of RequestClient (request_client.cc).
class RequestCore {
 public:
  RequestCore(ZmqContext& context, Channel channel, std::vector<std::string> endpoints, RetryPolicy policy,
              SocketOptions socket_options, ReceiveLimits limits);
  ~RequestCore();

  uint64_t takeSeq() { return next_seq_++; }
  Channel channel() const { return channel_; }
  // Runs the attempts of NOTE [Request retries]. seq_of reads a reply's seq (may throw
  // ProtocolError); validate may throw Overloaded/Timeout/Disconnected to retry.
  IncomingMessage exchange(uint64_t seq, const EncodedMessage& request,
                           const std::function<uint64_t(const IncomingMessage&)>& seq_of,
                           const std::function<void(const IncomingMessage&)>& validate);
  const RequestStats& stats() const { return stats_; }
  const std::vector<std::string>& endpoints() const { return endpoints_; }
  void adoptByCurrentThread();

 private:
  MessageSocket& socketFor(size_t index);
  void resetSocket(size_t index);
  // Discards the monitor events queued so far (from connections before this attempt).
  void drainMonitor(size_t index);
  enum class Wait { kReadable, kDropped, kDeadline };
  // Waits until the DEALER can receive, its connection drops, or the deadline passes.
  Wait waitForReply(size_t index, Deadline deadline);
  void checkOwner() const;

  ZmqContext& context_;
  Channel channel_;
  std::vector<std::string> endpoints_;
  RetryPolicy policy_;
  SocketOptions socket_options_;
  ReceiveLimits limits_;
  std::vector<std::unique_ptr<MessageSocket>> sockets_;  // one DEALER per endpoint, lazily
  std::vector<std::unique_ptr<Socket>> monitors_;        // each DEALER's disconnect monitor (PAIR)
  size_t first_ = 0;
  uint64_t next_seq_ = 1;
  RequestStats stats_;
  std::thread::id owner_;
};

}  // namespace detail

// Client side of a request/reply channel whose envelope is `Envelope` (e.g.
// wire::RewardMessage): a struct with `seq @0 :UInt64`.
// Threads: one owner thread, as for sockets (NOTE [One owner thread per socket]); give each
// thread its own client. Blocking: call() blocks for at most about
// max_attempts * attempt_timeout plus the backoffs. Throws: see call().
template <class Envelope>
class RequestClient {
 public:
  // `endpoints`: one or more replicas serving the channel (ROUTER sockets). Sockets are
  // created on first use, so construction does not connect. socket_options.linger_ms is
  // forced to 0: a request whose call has ended is discarded, never delivered later.
  RequestClient(ZmqContext& context, Channel channel, std::vector<std::string> endpoints, RetryPolicy policy = {},
                SocketOptions socket_options = {}, ReceiveLimits limits = {})
      : core_(context, channel, std::move(endpoints), policy, std::move(socket_options), limits) {}

  // Builds a request (sets its seq, then fill(Envelope::Builder&) writes the body; fill runs
  // once per call), sends it and returns the reply whose seq matches, after
  // validate(Envelope::Reader) accepted it. The returned message is the caller's.
  // Throws: Timeout/Overloaded/Disconnected after the last attempt (see NOTE [Request
  // retries]); ProtocolError if a reply is not a valid message of the channel (or validate
  // reads a field that does not match the schema); Disconnected if the context is shut down
  // (at once while waiting for a reply, after the current backoff while backing off);
  // whatever fill or validate throw otherwise.
  template <class Fill, class Validate>
  IncomingMessage call(Fill&& fill, Validate&& validate) {
    OutgoingMessage message;
    auto root = message.initRoot<Envelope>();
    const uint64_t seq = core_.takeSeq();
    root.setSeq(seq);
    fill(root);
    const EncodedMessage request(core_.channel(), std::move(message));
    return core_.exchange(
        seq, request,
        [seq](const IncomingMessage& reply) -> uint64_t {
          // An error reply with seq 0 answers the request in flight (NOTE [Request retries]).
          const auto root = reply.getRoot<Envelope>();
          const uint64_t reply_seq = root.getSeq();
          return reply_seq == 0 && detail::isErrorEnvelope(root, 0) ? seq : reply_seq;
        },
        [&validate](const IncomingMessage& reply) {
          protocolGuard("the reply", [&] { validate(reply.getRoot<Envelope>()); });
        });
  }
  template <class Fill>
  IncomingMessage call(Fill&& fill) {
    return call(std::forward<Fill>(fill), [](typename Envelope::Reader) {});
  }

  const RequestStats& stats() const { return core_.stats(); }
  const std::vector<std::string>& endpoints() const { return core_.endpoints(); }
  // Hands the client (and its sockets) to the calling thread; see NOTE [One owner thread per socket].
  void adoptByCurrentThread() { core_.adoptByCurrentThread(); }

 private:
  detail::RequestCore core_;
};

}  // namespace gramrl::transport
