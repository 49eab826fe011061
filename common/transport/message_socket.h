// A Socket that speaks one gramrl channel: sends OutgoingMessages, receives validated
// IncomingMessages (see NOTE [Wire format] in frame_codec.h).
//
// Patterns used by gramrl (never REQ/REP, so there is no empty delimiter frame):
//   reward:  clients DEALER  <->  server ROUTER   (recv() gives the client's routing id;
//                                                  the server answers with sendTo(peer, ...))
//   rollout: actors PUSH      ->  learner PULL
//   weights: learner PUB      ->  actors SUB      (SUB sockets subscribe to everything)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/transport/frame_codec.h"
#include "common/transport/socket.h"

namespace gramrl::transport {

// One received message, or the reason it was rejected.
struct Received {
  std::string peer;         // ROUTER only: the sender's routing id, also set when rejected
  IncomingMessage message;  // empty unless ok()
  std::string error;        // why the payload was rejected (ProtocolError text); empty if ok
  // Rejected messages only: larger than ReceiveLimits (answer TOO_LARGE rather than MALFORMED),
  // and the envelope's seq when it could be read, else 0 (NOTE [Oversize messages are answered]).
  bool is_too_large = false;
  uint64_t seq = 0;
  bool ok() const { return error.empty(); }
};

// Threads: as Socket (NOTE [One owner thread per socket]). Movable.
// Blocking: send/sendTo/recv block until their deadline at most.
// Throws: Disconnected after ZmqContext::shutdown() or (sendTo) for a peer that is gone;
// SystemError for libzmq failures; never for a malformed incoming message (see recv).
class MessageSocket {
 public:
  // libzmq's per-frame cap is options.max_message_bytes raised to answerableMessageBytes(limits)
  // when it is lower (NOTE [Oversize messages are answered] in frame_codec.h); -1 keeps no cap.
  MessageSocket(ZmqContext& context, SocketType type, Channel channel, SocketOptions options = {},
                ReceiveLimits limits = {});

  std::string bind(const std::string& endpoint) { return socket_.bind(endpoint); }
  void connect(const std::string& endpoint) { socket_.connect(endpoint); }

  // Sends on any socket type except ROUTER (use sendTo) and PULL/SUB. Consumes the message
  // (also when the deadline passes: returns false, and the message is dropped).
  bool send(OutgoingMessage&& message, Deadline deadline = noDeadline());
  bool send(const EncodedMessage& message, Deadline deadline = noDeadline());
  // ROUTER only: sends to the peer with this routing id (as in Received::peer). Throws
  // Disconnected if that peer is no longer connected (router_mandatory, the default).
  bool sendTo(std::string_view peer, OutgoingMessage&& message, Deadline deadline = noDeadline());
  bool sendTo(std::string_view peer, const EncodedMessage& message, Deadline deadline = noDeadline());

  // Waits for one message until the deadline (std::nullopt). A message that fails validation
  // comes back with ok() == false and the error text, and the peer set on a ROUTER, so that a
  // server can answer it with an ErrorReply and go on serving.
  std::optional<Received> recv(Deadline deadline = noDeadline());

  Channel channel() const { return channel_; }
  const ReceiveLimits& limits() const { return limits_; }
  // Messages rejected by recv() so far.
  uint64_t rejectedCount() const { return rejected_; }
  Socket& socket() { return socket_; }

 private:
  Socket socket_;
  Channel channel_;
  ReceiveLimits limits_;
  uint64_t rejected_ = 0;
};

}  // namespace gramrl::transport
