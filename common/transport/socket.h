// RAII ZeroMQ socket with deadlines: the raw layer under MessageSocket.
//
// NOTE [One owner thread per socket]
// libzmq sockets are not thread-safe. A Socket belongs to the thread that created it, and every
// call on it (bind, connect, send, recv, options) checks that the caller is that thread and
// throws InternalError otherwise: a violation is a bug in gramrl, caught at the call rather than
// as memory corruption inside libzmq. Other threads talk to the owner through a BoundedQueue or
// an inproc socket. A socket built on one thread and run on another (a server constructed in
// main and served by its worker) is handed over with adoptByCurrentThread(), called by the new
// owner once the old one has stopped using it (thread start or a join gives the ordering).
// The destructor does not check the thread, so an owner may be destroyed after its worker has
// been joined.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "common/transport/zmq_context.h"

namespace gramrl::transport {

using Clock = std::chrono::steady_clock;
// Every blocking transport call takes an absolute deadline; noDeadline() waits forever (or
// until the context is shut down).
using Deadline = Clock::time_point;
constexpr Deadline noDeadline() { return Deadline::max(); }
// now + timeout, saturating instead of overflowing for huge timeouts.
Deadline deadlineAfter(Clock::duration timeout);

// One multipart message, one zmq::message_t per part.
using Frames = std::vector<zmq::message_t>;

enum class SocketType { kDealer, kRouter, kPush, kPull, kPub, kSub, kPair };
std::string_view toString(SocketType type);

// Options applied when the socket is created. Defaults suit the gramrl channels.
struct SocketOptions {
  // ZMQ_MAXMSGSIZE: on tcp:// and ipc:// libzmq drops a connection whose peer sends a frame
  // larger than this, before allocating it, and without a word to either side. inproc:// does
  // not enforce it; the frame codec's ReceiveLimits check the whole message on every transport.
  // -1 = no limit. A MessageSocket raises it to answerableMessageBytes of its ReceiveLimits
  // (NOTE [Oversize messages are answered], frame_codec.h).
  int64_t max_message_bytes = int64_t{64} << 20;
  // ZMQ_LINGER: how long queued outgoing messages may delay zmq_ctx_term after close. Not 0:
  // a server that closes right after its last reply would lose it (dependencies.md §2).
  int linger_ms = 1000;
  // ZMQ_SNDHWM / ZMQ_RCVHWM, in messages per peer. When the send side is full, sendFrames
  // waits (up to its deadline) on PUSH/DEALER/PAIR, drops on PUB, and on ROUTER fails with
  // EAGAIN (router_mandatory) which sendFrames also turns into waiting.
  int send_hwm = 1000;
  int recv_hwm = 1000;
  // ZMQ_ROUTER_MANDATORY (ROUTER only): a reply to a peer that is gone throws Disconnected
  // instead of vanishing silently.
  bool router_mandatory = true;
  // ZMQ_IMMEDIATE: queue outgoing messages only on completed connections, so a send to an
  // endpoint nobody has bound waits (and times out) instead of queueing for later.
  bool immediate = false;
  // ZMQ_ROUTING_ID for DEALER sockets; empty = chosen by libzmq. At most 255 bytes.
  std::string routing_id;
  // CurveZMQ (NOTE [CurveZMQ] in curve.h; setCurveServerOptions / setCurveClientOptions fill
  // these from a key directory). Keys are 40-character Z85 text; all empty = no CURVE.
  // A server sets curve_server and curve_secret_key; a client sets curve_server_key (the
  // server's public key) and its own curve_public_key and curve_secret_key.
  bool curve_server = false;     // ZMQ_CURVE_SERVER
  std::string curve_secret_key;  // ZMQ_CURVE_SECRETKEY
  std::string curve_public_key;  // ZMQ_CURVE_PUBLICKEY (clients)
  std::string curve_server_key;  // ZMQ_CURVE_SERVERKEY (clients)
  // ZMQ_ZAP_DOMAIN: the domain sent in ZAP requests (a ZapAuthenticator may check it).
  std::string zap_domain;
};

// Threads: see NOTE [One owner thread per socket]. Movable (the owner thread moves with it).
// Blocking: only sendFrames and recvFrames/recvMultipart block, until their deadline at most,
// or until the context is shut down (then they throw Disconnected).
// Throws: SystemError for bad endpoints and other libzmq failures, Disconnected after
// ZmqContext::shutdown() (see NOTE [libzmq errors]), InternalError for misuse.
class Socket {
 public:
  Socket(ZmqContext& context, SocketType type, SocketOptions options = {});
  ~Socket();
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Binds and returns the resolved endpoint (ZMQ_LAST_ENDPOINT): "tcp://127.0.0.1:*" comes
  // back with the port the kernel chose. The endpoint is used as given (loopback or not is the
  // caller's choice).
  std::string bind(const std::string& endpoint);
  // Connects; libzmq connects in the background and reconnects on its own.
  void connect(const std::string& endpoint);
  void disconnect(const std::string& endpoint);
  // SUB only: ZMQ_SUBSCRIBE / ZMQ_UNSUBSCRIBE to a prefix of the first frame ("" = all).
  void subscribe(std::string_view prefix);
  void unsubscribe(std::string_view prefix);
  void setLinger(int linger_ms);

  // Sends one multipart message. Waits until libzmq accepts the first part or the deadline
  // passes. Returns true when sent: the frames have been handed to libzmq and are left empty.
  // Returns false on deadline: nothing was sent and `frames` are untouched. A multipart message
  // is atomic: once the first part is accepted, the rest never wait.
  bool sendFrames(Frames& frames, Deadline deadline);

  // One received multipart message, bounded so that a hostile peer cannot make us hold more
  // than max_frames frames or max_bytes bytes: parts past either bound are received and
  // released at once, and counted.
  struct Multipart {
    Frames frames;              // the parts kept, in order (a prefix of the message)
    size_t dropped_frames = 0;  // parts after the kept prefix
    size_t dropped_bytes = 0;
    // The first kDroppedHeadBytes of the first dropped part, e.g. to read the sequence number of
    // a message too large to keep (NOTE [Oversize messages are answered], frame_codec.h).
    std::string first_dropped_head;
    bool isTruncated() const { return dropped_frames > 0; }
  };
  static constexpr size_t kUnbounded = std::numeric_limits<size_t>::max();
  static constexpr size_t kDroppedHeadBytes = 256;

  // Waits until a message arrives or the deadline passes (std::nullopt). Once the first part
  // has arrived the others are already there (multipart messages are atomic).
  std::optional<Multipart> recvMultipart(Deadline deadline, size_t max_frames = kUnbounded,
                                         size_t max_bytes = kUnbounded);
  // recvMultipart without bounds.
  std::optional<Frames> recvFrames(Deadline deadline);

  // Waits until the socket can receive (ZMQ_POLLIN) or send (ZMQ_POLLOUT) without blocking.
  // Returns false on deadline.
  bool waitFor(short events, Deadline deadline);

  // Closes now (the destructor does it otherwise). Queued outgoing messages are kept for up to
  // linger_ms by libzmq. Idempotent.
  void close() noexcept;

  // Takes ownership for the calling thread (see NOTE [One owner thread per socket]).
  void adoptByCurrentThread() noexcept { owner_ = std::this_thread::get_id(); }

  bool isOpen() const noexcept { return handle_ != nullptr; }
  SocketType type() const noexcept { return type_; }
  const SocketOptions& options() const noexcept { return options_; }
  // The libzmq socket, for zmq_pollitem_t when polling several sockets at once. Owner only.
  void* handle() const noexcept { return handle_; }
  // "router socket (bound to tcp://127.0.0.1:4000)": used in error messages.
  std::string describe() const;

 private:
  void checkOwner(const char* operation) const;
  void checkOpen(const char* operation) const;
  void setOption(int option, const void* value, size_t size, const char* name);
  void setIntOption(int option, int value, const char* name);
  void applyCurveOptions();

  ZmqContext* context_ = nullptr;
  void* handle_ = nullptr;
  SocketType type_ = SocketType::kPair;
  SocketOptions options_;
  std::thread::id owner_;
  std::vector<std::string> bound_;
  std::vector<std::string> connected_;
};

}  // namespace gramrl::transport
