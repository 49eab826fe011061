#include "common/transport/socket.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include <fmt/format.h>

#include "common/core/errors.h"
#include "common/transport/curve.h"

namespace gramrl::transport {
namespace {

// ZMQ_ZAP_ENFORCE_DOMAIN: a draft option (libzmq >= 4.3) that zmq.h declares only with the draft
// API; libzmq builds without it answer EINVAL, which applyCurveOptions ignores.
constexpr int kZmqZapEnforceDomain = 93;

int zmqTypeOf(SocketType type) {
  switch (type) {
    case SocketType::kDealer: return ZMQ_DEALER;
    case SocketType::kRouter: return ZMQ_ROUTER;
    case SocketType::kPush: return ZMQ_PUSH;
    case SocketType::kPull: return ZMQ_PULL;
    case SocketType::kPub: return ZMQ_PUB;
    case SocketType::kSub: return ZMQ_SUB;
    case SocketType::kPair: return ZMQ_PAIR;
  }
  GRAMRL_ASSERT(false, "unknown SocketType {}", static_cast<int>(type));
  return -1;
}

// Milliseconds to hand to zmq_poll: -1 for no deadline, rounded up so that a poll never
// returns just before the deadline and spins.
std::chrono::milliseconds pollTimeout(Deadline deadline) {
  if (deadline == noDeadline()) return std::chrono::milliseconds(-1);
  const auto now = Clock::now();
  if (deadline <= now) return std::chrono::milliseconds(0);
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
  // zmq_poll takes a long; a week is plenty for one wait, the caller's loop does the rest.
  return std::min(left, std::chrono::milliseconds(7LL * 24 * 3600 * 1000));
}

}  // namespace

Deadline deadlineAfter(Clock::duration timeout) {
  const auto now = Clock::now();
  if (timeout >= noDeadline() - now) return noDeadline();
  return now + timeout;
}

std::string_view toString(SocketType type) {
  switch (type) {
    case SocketType::kDealer: return "dealer";
    case SocketType::kRouter: return "router";
    case SocketType::kPush: return "push";
    case SocketType::kPull: return "pull";
    case SocketType::kPub: return "pub";
    case SocketType::kSub: return "sub";
    case SocketType::kPair: return "pair";
  }
  return "unknown";
}

Socket::Socket(ZmqContext& context, SocketType type, SocketOptions options)
    : context_(&context), type_(type), options_(std::move(options)), owner_(std::this_thread::get_id()) {
  handle_ = zmq_socket(context.raw().handle(), zmqTypeOf(type));
  if (handle_ == nullptr) throwZmqError(zmq_errno(), "socket", toString(type));
  context_->socketOpened();
  try {
    GRAMRL_CHECK(options_.max_message_bytes >= -1, ConfigError,
                 "SocketOptions.max_message_bytes: expected -1 or a size in bytes, got {}", options_.max_message_bytes);
    GRAMRL_CHECK(options_.routing_id.size() <= 255, ConfigError, "SocketOptions.routing_id: at most 255 bytes, got {}",
                 options_.routing_id.size());
    const int64_t max_bytes = options_.max_message_bytes;
    setOption(ZMQ_MAXMSGSIZE, &max_bytes, sizeof(max_bytes), "ZMQ_MAXMSGSIZE");
    setIntOption(ZMQ_LINGER, options_.linger_ms, "ZMQ_LINGER");
    setIntOption(ZMQ_SNDHWM, options_.send_hwm, "ZMQ_SNDHWM");
    setIntOption(ZMQ_RCVHWM, options_.recv_hwm, "ZMQ_RCVHWM");
    if (type == SocketType::kRouter && options_.router_mandatory) {
      setIntOption(ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY");
    }
    if (options_.immediate) setIntOption(ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE");
    if (!options_.routing_id.empty()) {
      setOption(ZMQ_ROUTING_ID, options_.routing_id.data(), options_.routing_id.size(), "ZMQ_ROUTING_ID");
    }
    applyCurveOptions();
  } catch (...) {
    close();
    throw;
  }
}

Socket::~Socket() { close(); }

Socket::Socket(Socket&& other) noexcept
    : context_(other.context_),
      handle_(std::exchange(other.handle_, nullptr)),
      type_(other.type_),
      options_(std::move(other.options_)),
      owner_(other.owner_),
      bound_(std::move(other.bound_)),
      connected_(std::move(other.connected_)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    context_ = other.context_;
    handle_ = std::exchange(other.handle_, nullptr);
    type_ = other.type_;
    options_ = std::move(other.options_);
    owner_ = other.owner_;
    bound_ = std::move(other.bound_);
    connected_ = std::move(other.connected_);
  }
  return *this;
}

void Socket::close() noexcept {
  if (handle_ == nullptr) return;
  zmq_close(handle_);  // only fails with ENOTSOCK, i.e. never for a handle we own
  handle_ = nullptr;
  context_->socketClosed();
}

std::string Socket::describe() const {
  std::string where;
  if (!bound_.empty()) where += fmt::format("bound to {}", fmt::join(bound_, ", "));
  if (!connected_.empty()) {
    if (!where.empty()) where += "; ";
    where += fmt::format("connected to {}", fmt::join(connected_, ", "));
  }
  if (where.empty()) where = "not bound or connected";
  return fmt::format("{} socket ({})", toString(type_), where);
}

// See NOTE [CurveZMQ] in curve.h. Keys are checked here too, so that a hand-filled SocketOptions
// gets a ConfigError naming the field rather than libzmq's EINVAL.
void Socket::applyCurveOptions() {
  const bool client = !options_.curve_server_key.empty();
  if (!options_.curve_server && !client) {
    GRAMRL_CHECK(options_.curve_secret_key.empty() && options_.curve_public_key.empty(), ConfigError,
                 "SocketOptions: curve keys given, but neither curve_server nor curve_server_key is set");
    if (!options_.zap_domain.empty()) {
      setOption(ZMQ_ZAP_DOMAIN, options_.zap_domain.data(), options_.zap_domain.size(), "ZMQ_ZAP_DOMAIN");
    }
    return;
  }
  requireCurve("SocketOptions.curve_*");
  GRAMRL_CHECK(!(options_.curve_server && client), ConfigError,
               "SocketOptions: curve_server and curve_server_key are exclusive (a socket is a CURVE server or client)");
  auto setKey = [&](int option, const std::string& key, const char* name) {
    GRAMRL_CHECK(key.size() == kCurveKeyZ85Chars, ConfigError,
                 "SocketOptions.{}: expected a {}-character Z85 key, got {} characters", name, kCurveKeyZ85Chars,
                 key.size());
    setOption(option, key.data(), key.size(), name);
  };
  if (options_.curve_server) {
    setIntOption(ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER");
    setKey(ZMQ_CURVE_SECRETKEY, options_.curve_secret_key, "curve_secret_key");
    // Refuse clients when no ZAP handler answers, where this libzmq has the (draft) option.
    const int enforce = 1;
    zmq_setsockopt(handle_, kZmqZapEnforceDomain, &enforce, sizeof(enforce));
  } else {
    setKey(ZMQ_CURVE_SERVERKEY, options_.curve_server_key, "curve_server_key");
    setKey(ZMQ_CURVE_PUBLICKEY, options_.curve_public_key, "curve_public_key");
    setKey(ZMQ_CURVE_SECRETKEY, options_.curve_secret_key, "curve_secret_key");
  }
  if (!options_.zap_domain.empty()) {
    setOption(ZMQ_ZAP_DOMAIN, options_.zap_domain.data(), options_.zap_domain.size(), "ZMQ_ZAP_DOMAIN");
  }
}

void Socket::checkOwner(const char* operation) const {
  GRAMRL_ASSERT(std::this_thread::get_id() == owner_,
                "{}: {} called from a thread that does not own the socket "
                "(see NOTE [One owner thread per socket] in common/transport/socket.h)",
                describe(), operation);
}

void Socket::checkOpen(const char* operation) const {
  GRAMRL_ASSERT(handle_ != nullptr, "{} on a closed or moved-from {} socket", operation, toString(type_));
  checkOwner(operation);
}

void Socket::setOption(int option, const void* value, size_t size, const char* name) {
  GRAMRL_ZMQ_CHECK(zmq_setsockopt(handle_, option, value, size), fmt::format("setsockopt {}", name), describe());
}

void Socket::setIntOption(int option, int value, const char* name) { setOption(option, &value, sizeof(value), name); }

void Socket::setLinger(int linger_ms) {
  checkOpen("setLinger");
  setIntOption(ZMQ_LINGER, linger_ms, "ZMQ_LINGER");
  options_.linger_ms = linger_ms;
}

std::string Socket::bind(const std::string& endpoint) {
  checkOpen("bind");
  GRAMRL_ZMQ_CHECK(zmq_bind(handle_, endpoint.c_str()), "bind", endpoint);
  char resolved[1024];
  size_t size = sizeof(resolved);
  GRAMRL_ZMQ_CHECK(zmq_getsockopt(handle_, ZMQ_LAST_ENDPOINT, resolved, &size), "getsockopt ZMQ_LAST_ENDPOINT",
                   endpoint);
  std::string result(resolved, size > 0 && resolved[size - 1] == '\0' ? size - 1 : size);
  bound_.push_back(result);
  return result;
}

void Socket::connect(const std::string& endpoint) {
  checkOpen("connect");
  GRAMRL_ZMQ_CHECK(zmq_connect(handle_, endpoint.c_str()), "connect", endpoint);
  connected_.push_back(endpoint);
}

void Socket::disconnect(const std::string& endpoint) {
  checkOpen("disconnect");
  GRAMRL_ZMQ_CHECK(zmq_disconnect(handle_, endpoint.c_str()), "disconnect", endpoint);
  connected_.erase(std::remove(connected_.begin(), connected_.end(), endpoint), connected_.end());
}

void Socket::subscribe(std::string_view prefix) {
  checkOpen("subscribe");
  GRAMRL_ASSERT(type_ == SocketType::kSub, "subscribe on a {} socket", toString(type_));
  setOption(ZMQ_SUBSCRIBE, prefix.data(), prefix.size(), "ZMQ_SUBSCRIBE");
}

void Socket::unsubscribe(std::string_view prefix) {
  checkOpen("unsubscribe");
  GRAMRL_ASSERT(type_ == SocketType::kSub, "unsubscribe on a {} socket", toString(type_));
  setOption(ZMQ_UNSUBSCRIBE, prefix.data(), prefix.size(), "ZMQ_UNSUBSCRIBE");
}

bool Socket::waitFor(short events, Deadline deadline) {
  checkOpen("waitFor");
  for (;;) {
    zmq_pollitem_t item{handle_, 0, events, 0};
    int ready = 0;
    try {
      ready = zmq::poll(&item, 1, pollTimeout(deadline));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      throwZmqError(e.num(), "poll", describe());
    }
    if (ready > 0 && (item.revents & events) != 0) return true;
    if (deadline != noDeadline() && Clock::now() >= deadline) return false;
  }
}

bool Socket::sendFrames(Frames& frames, Deadline deadline) {
  checkOpen("sendFrames");
  GRAMRL_ASSERT(!frames.empty(), "sendFrames with no frames on {}", describe());
  const size_t n = frames.size();
  // The first part decides: it either waits for room or is refused. A ROUTER reports POLLOUT
  // when any peer has room, so EAGAIN right after POLLOUT means this peer is full; back off
  // briefly instead of spinning.
  auto backoff = std::chrono::microseconds(50);
  bool polled_ready = false;
  for (;;) {
    const int rc = zmq_msg_send(frames[0].handle(), handle_, ZMQ_DONTWAIT | (n > 1 ? ZMQ_SNDMORE : 0));
    if (rc >= 0) break;
    const int err = zmq_errno();
    if (err == EINTR) continue;
    if (err != EAGAIN) throwZmqError(err, "send", describe());
    if (deadline != noDeadline() && Clock::now() >= deadline) return false;
    if (polled_ready) {
      const auto left =
          deadline == noDeadline() ? backoff : std::min<Clock::duration>(backoff, deadline - Clock::now());
      std::this_thread::sleep_for(left);
      backoff = std::min(backoff * 2, std::chrono::microseconds(2000));
    }
    if (!waitFor(ZMQ_POLLOUT, deadline)) return false;
    polled_ready = true;
  }
  for (size_t i = 1; i < n; ++i) {
    const int flags = i + 1 < n ? ZMQ_SNDMORE : 0;
    while (zmq_msg_send(frames[i].handle(), handle_, flags) < 0) {
      const int err = zmq_errno();
      if (err != EINTR) throwZmqError(err, fmt::format("send (part {} of {})", i + 1, n), describe());
    }
  }
  return true;
}

std::optional<Socket::Multipart> Socket::recvMultipart(Deadline deadline, size_t max_frames, size_t max_bytes) {
  checkOpen("recvMultipart");
  zmq::message_t part;
  for (;;) {
    if (zmq_msg_recv(part.handle(), handle_, ZMQ_DONTWAIT) >= 0) break;
    const int err = zmq_errno();
    if (err == EINTR) continue;
    if (err != EAGAIN) throwZmqError(err, "recv", describe());
    if (!waitFor(ZMQ_POLLIN, deadline)) return std::nullopt;
  }
  Multipart result;
  size_t kept_bytes = 0;
  for (;;) {
    const bool more = part.more();
    const size_t size = part.size();
    if (result.dropped_frames == 0 && result.frames.size() < max_frames && size <= max_bytes - kept_bytes) {
      kept_bytes += size;
      result.frames.push_back(std::move(part));
      part = zmq::message_t();
    } else {
      if (result.dropped_frames == 0) {
        result.first_dropped_head.assign(static_cast<const char*>(part.data()), std::min(size, kDroppedHeadBytes));
      }
      ++result.dropped_frames;
      result.dropped_bytes += size;
      part.rebuild();  // releases the payload now
    }
    if (!more) break;
    while (zmq_msg_recv(part.handle(), handle_, 0) < 0) {
      const int err = zmq_errno();
      if (err != EINTR) throwZmqError(err, "recv (continuation part)", describe());
    }
  }
  return result;
}

std::optional<Frames> Socket::recvFrames(Deadline deadline) {
  auto multipart = recvMultipart(deadline);
  if (!multipart) return std::nullopt;
  return std::move(multipart->frames);
}

}  // namespace gramrl::transport
