#include "common/transport/request_client.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "common/core/errors.h"
#include "common/core/logging.h"

namespace gramrl::transport::detail {
namespace {

enum class Failure { kNone, kTimeout, kOverloaded, kDisconnected };

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

RequestCore::RequestCore(ZmqContext& context, Channel channel, std::vector<std::string> endpoints, RetryPolicy policy,
                         SocketOptions socket_options, ReceiveLimits limits)
    : context_(context),
      channel_(channel),
      endpoints_(std::move(endpoints)),
      policy_(policy),
      socket_options_(std::move(socket_options)),
      limits_(limits),
      owner_(std::this_thread::get_id()) {
  GRAMRL_CHECK(!endpoints_.empty(), ConfigError, "{} client: no endpoints given", toString(channel));
  GRAMRL_CHECK(policy_.max_attempts >= 1, ConfigError, "{} client: retry.max_attempts must be >= 1, got {}",
               toString(channel), policy_.max_attempts);
  GRAMRL_CHECK(policy_.attempt_timeout.count() > 0, ConfigError,
               "{} client: retry.attempt_timeout must be > 0 ms, got {}", toString(channel),
               policy_.attempt_timeout.count());
  GRAMRL_CHECK(policy_.backoff_multiplier >= 1.0, ConfigError,
               "{} client: retry.backoff_multiplier must be >= 1, got {}", toString(channel),
               policy_.backoff_multiplier);
  // An abandoned request (timed out, or the call ended by an exception) must die with its
  // socket, not reach a server that comes back later (NOTE [Request retries]); nor may it hold
  // up zmq_ctx_term at shutdown.
  socket_options_.linger_ms = 0;
  sockets_.resize(endpoints_.size());
  monitors_.resize(endpoints_.size());
}

RequestCore::~RequestCore() = default;

void RequestCore::checkOwner() const {
  GRAMRL_ASSERT(std::this_thread::get_id() == owner_,
                "{} client called from a thread that does not own it "
                "(see NOTE [One owner thread per socket] in common/transport/socket.h)",
                toString(channel_));
}

void RequestCore::adoptByCurrentThread() {
  owner_ = std::this_thread::get_id();
  for (auto& socket : sockets_) {
    if (socket) socket->socket().adoptByCurrentThread();
  }
  for (auto& monitor : monitors_) {
    if (monitor) monitor->adoptByCurrentThread();
  }
}

MessageSocket& RequestCore::socketFor(size_t index) {
  if (!sockets_[index]) {
    auto socket = std::make_unique<MessageSocket>(context_, SocketType::kDealer, channel_, socket_options_, limits_);
    // NOTE [Request retries]: a monitor reports the connection's drops. Each monitor has its own
    // inproc address (one per socket for the process's life).
    static std::atomic<uint64_t> next_monitor{0};
    const std::string address = fmt::format("inproc://gramrl-request-monitor-{}", next_monitor.fetch_add(1));
    GRAMRL_ZMQ_CHECK(zmq_socket_monitor(socket->socket().handle(), address.c_str(), ZMQ_EVENT_DISCONNECTED),
                     "zmq_socket_monitor", address);
    SocketOptions monitor_options;
    monitor_options.linger_ms = 0;
    monitor_options.max_message_bytes = -1;
    auto monitor = std::make_unique<Socket>(context_, SocketType::kPair, monitor_options);
    monitor->connect(address);
    socket->connect(endpoints_[index]);
    monitors_[index] = std::move(monitor);
    sockets_[index] = std::move(socket);
  }
  return *sockets_[index];
}

void RequestCore::resetSocket(size_t index) {
  if (!sockets_[index]) return;
  // Stop the monitor first: closing the DEALER with its monitor running would report the close.
  zmq_socket_monitor(sockets_[index]->socket().handle(), nullptr, 0);
  sockets_[index].reset();  // linger 0: the unanswered request is discarded
  monitors_[index].reset();
  ++stats_.socket_resets;
}

void RequestCore::drainMonitor(size_t index) {
  Socket& monitor = *monitors_[index];
  while (monitor.waitFor(ZMQ_POLLIN, Clock::now())) monitor.recvFrames(Clock::now());
}

RequestCore::Wait RequestCore::waitForReply(size_t index, Deadline deadline) {
  Socket& dealer = sockets_[index]->socket();
  Socket& monitor = *monitors_[index];
  for (;;) {
    zmq_pollitem_t items[2] = {{dealer.handle(), 0, ZMQ_POLLIN, 0}, {monitor.handle(), 0, ZMQ_POLLIN, 0}};
    long timeout_ms = -1;
    if (deadline != noDeadline()) {
      const auto now = Clock::now();
      timeout_ms = deadline <= now ? 0
                                   : static_cast<long>(std::min<int64_t>(
                                         std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count(),
                                         int64_t{7} * 24 * 3600 * 1000));
    }
    const int rc = zmq_poll(items, 2, timeout_ms);
    if (rc < 0) {
      const int err = zmq_errno();
      if (err == EINTR) continue;
      throwZmqError(err, "poll", dealer.describe());
    }
    if (items[0].revents & ZMQ_POLLIN) return Wait::kReadable;
    if (items[1].revents & ZMQ_POLLIN) {
      // An event: [u16 event, u32 value][endpoint]. Only ZMQ_EVENT_DISCONNECTED was asked for.
      auto event = monitor.recvFrames(Clock::now());
      if (event && !event->empty() && (*event)[0].size() >= 2) {
        uint16_t id = 0;
        std::memcpy(&id, (*event)[0].data(), sizeof(id));
        if (id == ZMQ_EVENT_DISCONNECTED) return Wait::kDropped;
      }
      continue;
    }
    if (deadline != noDeadline() && Clock::now() >= deadline) return Wait::kDeadline;
  }
}

IncomingMessage RequestCore::exchange(uint64_t seq, const EncodedMessage& request,
                                      const std::function<uint64_t(const IncomingMessage&)>& seq_of,
                                      const std::function<void(const IncomingMessage&)>& validate) {
  checkOwner();
  ++stats_.calls;
  const auto start = Clock::now();
  const size_t n = endpoints_.size();
  Failure last = Failure::kNone;
  std::string last_detail;
  auto backoff = std::chrono::duration<double, std::milli>(policy_.backoff_initial);
  const auto backoff_max = std::chrono::duration<double, std::milli>(policy_.backoff_max);

  for (int attempt = 0; attempt < policy_.max_attempts; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::min(backoff, backoff_max));
      backoff *= policy_.backoff_multiplier;
    }
    GRAMRL_CHECK(!context_.isShutdown(), Disconnected, "{} request seq {}: the ZeroMQ context was shut down",
                 toString(channel_), seq);
    const size_t index = (first_ + static_cast<size_t>(attempt)) % n;
    const std::string& endpoint = endpoints_[index];
    MessageSocket& socket = socketFor(index);
    drainMonitor(index);
    ++stats_.attempts;
    const Deadline deadline = deadlineAfter(policy_.attempt_timeout);

    if (!socket.send(request, deadline)) {
      ++stats_.timeouts;
      last = Failure::kTimeout;
      last_detail = fmt::format("{}: could not send within {} ms", endpoint, policy_.attempt_timeout.count());
      resetSocket(index);
      continue;
    }
    std::optional<Received> reply;
    bool dropped = false;
    for (;;) {
      const Wait wait = waitForReply(index, deadline);
      if (wait == Wait::kDeadline) break;
      if (wait == Wait::kDropped) {
        dropped = true;
        break;
      }
      reply = socket.recv(Clock::now());
      if (!reply) continue;
      if (!reply->ok()) {
        resetSocket(index);
        throw ProtocolError(fmt::format("{} request seq {}: invalid reply from {}: {}", toString(channel_), seq,
                                        endpoint, reply->error));
      }
      const uint64_t reply_seq = seq_of(reply->message);
      if (reply_seq == seq) break;
      ++stats_.stale_replies;
      log::debug("{} request seq {}: dropped a stale reply with seq {} from {}", toString(channel_), seq, reply_seq,
                 endpoint);
      reply.reset();
    }
    if (dropped) {
      ++stats_.disconnects;
      last = Failure::kDisconnected;
      last_detail = fmt::format(
          "{}: the server closed the connection without answering the request ({} bytes): it may have stopped, "
          "refused this client's keys, or found the request larger than its limit (reward.server.max_request_mb, "
          "launch.transport.max_message_mb)",
          endpoint, request.byteSize());
      resetSocket(index);
      continue;
    }
    if (!reply) {
      ++stats_.timeouts;
      last = Failure::kTimeout;
      last_detail = fmt::format("{}: no reply within {} ms", endpoint, policy_.attempt_timeout.count());
      resetSocket(index);
      continue;
    }
    try {
      validate(reply->message);
      first_ = index;
      return std::move(reply->message);
    } catch (const Overloaded& e) {
      last = Failure::kOverloaded;
      last_detail = fmt::format("{}: {}", endpoint, e.what());
    } catch (const Timeout& e) {
      last = Failure::kTimeout;
      last_detail = fmt::format("{}: {}", endpoint, e.what());
    } catch (const Disconnected& e) {
      last = Failure::kDisconnected;
      last_detail = fmt::format("{}: {}", endpoint, e.what());
    }
    ++stats_.retryable_errors;
    log::debug("{} request seq {}: attempt {} of {} failed ({}); retrying", toString(channel_), seq, attempt + 1,
               policy_.max_attempts, last_detail);
  }

  const std::string what = fmt::format(
      "{} request seq {} failed after {} attempt(s) in {:.3f} s to [{}]; last error: {}", toString(channel_), seq,
      policy_.max_attempts, secondsSince(start), fmt::join(endpoints_, ", "), last_detail);
  switch (last) {
    case Failure::kOverloaded: throw Overloaded(what);
    case Failure::kDisconnected: throw Disconnected(what);
    case Failure::kTimeout:
    case Failure::kNone: break;
  }
  throw Timeout(what);
}

}  // namespace gramrl::transport::detail
