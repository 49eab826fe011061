#include "reward/service/reward_server.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <utility>

#include <fmt/core.h>
#include <zmq.h>

#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/core/logging.h"

namespace gramrl::reward {

using transport::Clock;

// NOTE [Replies back to the socket owner]
struct RewardServer::Inbox {
  struct Reply {
    std::string peer;
    transport::OutgoingMessage message;
    bool is_error = false;
  };
  std::mutex mutex;
  std::deque<Reply> replies;
  int fd = -1;

  Inbox() {
    fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    GRAMRL_CHECK(fd >= 0, SystemError, "reward server: eventfd failed: {}", std::strerror(errno));
  }
  ~Inbox() { ::close(fd); }
  // Async-signal-safe.
  void wake() noexcept {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof(one));
  }
  void clearWake() noexcept {
    uint64_t value = 0;
    [[maybe_unused]] ssize_t n = ::read(fd, &value, sizeof(value));
  }
  void push(Reply reply) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      replies.push_back(std::move(reply));
    }
    wake();
  }
};

struct RewardServer::AtomicStats {
  std::atomic<uint64_t> received{0}, submitted{0}, scored{0}, errors{0}, malformed{0}, refused_draining{0}, pongs{0},
      dropped_replies{0};
  std::atomic<uint64_t> in_flight{0};  // submitted and not yet sent (or dropped)
};

RewardServerSettings RewardServerSettings::fromConfig(const ExperimentConfig& config, int64_t replica) {
  const RewardServerOptions& server = config.reward.server;
  RewardServerSettings s;
  const std::string port = server.port == 0 ? std::string("*") : std::to_string(server.port + replica);
  s.endpoint = fmt::format("tcp://{}:{}", config.launch.transport.bind_host, port);
  const size_t max_bytes = static_cast<size_t>(server.max_request_mb) << 20;
  s.request_limits.max_items = static_cast<size_t>(server.max_request_items);
  s.request_limits.max_text_bytes = max_bytes;
  // The whole message may be a little larger than its texts (capnp pointers, the header).
  s.receive_limits.max_message_bytes = max_bytes + (size_t{1} << 20);
  s.drain_timeout = std::chrono::seconds(server.drain_timeout_s);
  s.curve_keys_dir = server.curve_keys_dir;
  return s;
}

namespace {
constexpr const char* kZapDomain = "gramrl-reward";

std::unique_ptr<transport::CurveKeys> loadServerKeys(const RewardServerSettings& settings) {
  if (settings.curve_keys_dir.empty()) return nullptr;
  return std::make_unique<transport::CurveKeys>(
      transport::loadCurveKeys(settings.curve_keys_dir, transport::CurveRole::kServer));
}

std::unique_ptr<transport::ZapAuthenticator> startZap(transport::ZmqContext& context,
                                                      const transport::CurveKeys* keys) {
  if (keys == nullptr) return nullptr;
  return std::make_unique<transport::ZapAuthenticator>(context, keys->authorized_clients, kZapDomain);
}

transport::SocketOptions routerOptions(const RewardServerSettings& settings, const transport::CurveKeys* keys) {
  transport::SocketOptions o;
  // NOTE [Oversize messages are answered]: a message up to twice the limit is received and
  // answered TOO_LARGE; a frame beyond that makes libzmq drop the connection before allocating it.
  const size_t cap = transport::answerableMessageBytes(settings.receive_limits);
  o.max_message_bytes = cap > static_cast<size_t>(INT64_MAX) ? -1 : static_cast<int64_t>(cap);
  o.router_mandatory = true;
  if (keys != nullptr) transport::setCurveServerOptions(o, *keys, kZapDomain);
  return o;
}
}  // namespace

// NOTE [Reward server CURVE]: the keys and the ZAP handler come before the ROUTER (members are
// initialised in declaration order), so that no handshake can reach an unguarded socket.
RewardServer::RewardServer(transport::ZmqContext& context, ScoreSink& sink, RewardServerSettings settings)
    : sink_(sink),
      settings_(std::move(settings)),
      curve_keys_(loadServerKeys(settings_)),
      zap_(startZap(context, curve_keys_.get())),
      router_(context, transport::SocketType::kRouter, transport::Channel::kReward,
              routerOptions(settings_, curve_keys_.get()), settings_.receive_limits),
      inbox_(std::make_shared<Inbox>()),
      stats_(std::make_unique<AtomicStats>()) {
  endpoint_ = router_.bind(settings_.endpoint);
  if (curve_keys_) {
    log::info("reward server {}: CURVE on (keys {}): {} authorized client key(s)", endpoint_, settings_.curve_keys_dir,
              curve_keys_->authorized_clients.size());
  }
}

RewardServer::~RewardServer() = default;

void RewardServer::requestStop() noexcept {
  stop_.store(true, std::memory_order_release);
  inbox_->wake();
}

RewardServerStats RewardServer::stats() const {
  RewardServerStats s;
  s.received = stats_->received.load();
  s.submitted = stats_->submitted.load();
  s.scored = stats_->scored.load();
  s.errors = stats_->errors.load();
  s.malformed = stats_->malformed.load();
  s.refused_draining = stats_->refused_draining.load();
  s.pongs = stats_->pongs.load();
  s.dropped_replies = stats_->dropped_replies.load();
  if (zap_) {
    s.curve_accepted = zap_->acceptedCount();
    s.curve_refused = zap_->refusedCount();
  }
  return s;
}

// NOTE [Count before replying]
// A counter that describes a reply is updated before the reply is sent, never after: once the
// bytes are on the socket the peer may read them and look at stats() (a test, a health probe)
// before this thread runs again, and would see the count one short. A reply that then cannot be
// sent moves from its counter to dropped_replies, so the counts may be briefly one too high,
// never too low once the peer holds its answer.
void RewardServer::sendReply(const std::string& peer, transport::OutgoingMessage&& message, ReplyKind kind) {
  std::atomic<uint64_t>& counter = kind == ReplyKind::kError  ? stats_->errors
                                   : kind == ReplyKind::kPong ? stats_->pongs
                                                              : stats_->scored;
  ++counter;
  try {
    // A ROUTER send only waits when the peer's queue is full (a client that stopped reading).
    if (router_.sendTo(peer, std::move(message), transport::deadlineAfter(std::chrono::seconds(1)))) return;
  } catch (const Disconnected&) {
    // The peer is gone (NOTE [Replies back to the socket owner]); below.
  }
  --counter;
  ++stats_->dropped_replies;
  log::debug("reward server: dropped a reply to a peer that is gone");
}

void RewardServer::flushReplies() {
  inbox_->clearWake();
  std::deque<Inbox::Reply> replies;
  {
    std::lock_guard<std::mutex> lock(inbox_->mutex);
    replies.swap(inbox_->replies);
  }
  for (auto& reply : replies) {
    --stats_->in_flight;  // NOTE [Count before replying]
    sendReply(reply.peer, std::move(reply.message), reply.is_error ? ReplyKind::kError : ReplyKind::kScore);
  }
}

void RewardServer::handleMessage(bool draining) {
  std::optional<transport::Received> got = router_.recv(Clock::now());
  if (!got) return;
  ++stats_->received;
  const std::string& peer = got->peer;
  if (!got->ok()) {
    // The frames did not decode; the seq is the envelope's when it could be read, else 0 (NOTE
    // [Oversize messages are answered]): either way the client ends its call on this reply.
    ++stats_->malformed;
    if (got->is_too_large) {
      sendReply(peer,
                encodeErrorReply(got->seq, wire::ErrorCode::TOO_LARGE,
                                 fmt::format("rejected message: {} (reward.server.max_request_mb)", got->error)),
                ReplyKind::kError);
    } else {
      sendReply(peer, encodeErrorReply(got->seq, wire::ErrorCode::MALFORMED, "rejected message: " + got->error),
                ReplyKind::kError);
    }
    return;
  }
  DecodedRequest decoded = decodeRewardRequest(got->message, settings_.request_limits);
  if (!decoded.ok()) {
    ++stats_->malformed;
    sendReply(peer, encodeErrorReply(decoded.seq, decoded.error_code, decoded.error), ReplyKind::kError);
    return;
  }
  if (decoded.ping) {
    sendReply(peer, encodePong(decoded.seq), ReplyKind::kPong);
    return;
  }
  if (draining) {
    ++stats_->refused_draining;
    sendReply(peer, encodeErrorReply(decoded.seq, wire::ErrorCode::SHUTTING_DOWN, "the reward server is shutting down"),
              ReplyKind::kError);
    return;
  }
  ++stats_->submitted;
  ++stats_->in_flight;
  const uint64_t seq = decoded.seq;
  sink_.submit(std::move(decoded.request), [inbox = inbox_, peer, seq](ScoreResult result) {
    Inbox::Reply reply;
    reply.peer = peer;
    try {
      if (result.ok) {
        reply.message = encodeScoreReply(seq, result.reply.model_name, result.reply.scores, result.reply.best,
                                         result.reply.compute_ms);
      } else {
        reply.is_error = true;
        reply.message = encodeErrorReply(seq, result.error_code, result.error, result.retry_after_ms);
      }
    } catch (const std::exception& e) {
      reply.is_error = true;
      reply.message = encodeErrorReply(seq, wire::ErrorCode::INTERNAL, fmt::format("encoding the reply: {}", e.what()));
    }
    inbox->push(std::move(reply));
  });
}

void RewardServer::logHeartbeat(bool draining) {
  const RewardServerStats s = stats();
  std::string line = fmt::format(
      "reward server {}{}: received={} submitted={} scored={} errors={} malformed={} "
      "pongs={} dropped_replies={} in_flight={}",
      endpoint_, draining ? " (draining)" : "", s.received, s.submitted, s.scored, s.errors, s.malformed, s.pongs,
      s.dropped_replies, stats_->in_flight.load());
  if (zap_) line += fmt::format(" curve_accepted={} curve_refused={}", s.curve_accepted, s.curve_refused);
  if (details_) line += "; " + details_();
  log::info("{}", line);
}

bool RewardServer::run() {
  router_.socket().adoptByCurrentThread();
  zmq_pollitem_t items[2] = {};
  items[0].socket = router_.socket().handle();
  items[0].events = ZMQ_POLLIN;
  items[1].socket = nullptr;
  items[1].fd = inbox_->fd;
  items[1].events = ZMQ_POLLIN;
  bool draining = false;
  Clock::time_point drain_deadline{};
  Clock::time_point next_heartbeat = Clock::now() + settings_.stats_interval;
  // Checked at the top of each turn and again before each message, so that a request sent after
  // requestStop() returned is refused even when it arrives in the same poll as the wake-up.
  auto noticeStop = [&] {
    if (draining || !stop_.load(std::memory_order_acquire)) return;
    draining = true;
    drain_deadline = Clock::now() + settings_.drain_timeout;
    log::info("reward server {}: draining {} request(s) in flight (up to {} s); new requests are refused", endpoint_,
              stats_->in_flight.load(), settings_.drain_timeout.count() / 1000.0);
  };
  for (;;) {
    if (zap_) zap_->rethrowIfFailed();  // NOTE [Reward server CURVE]
    noticeStop();
    if (draining && stats_->in_flight.load() == 0) break;
    const auto now = Clock::now();
    if (draining && now >= drain_deadline) {
      log::error("reward server {}: drain timed out with {} request(s) unanswered", endpoint_,
                 stats_->in_flight.load());
      return false;
    }
    if (now >= next_heartbeat) {
      logHeartbeat(draining);
      next_heartbeat = now + settings_.stats_interval;
    }
    Clock::time_point wake_at = next_heartbeat;
    if (draining) wake_at = std::min(wake_at, drain_deadline);
    // With CURVE, wake at least once a second to notice a failed ZAP handler.
    if (zap_) wake_at = std::min(wake_at, now + std::chrono::seconds(1));
    const long timeout_ms =
        std::max<long>(1, static_cast<long>(std::chrono::ceil<std::chrono::milliseconds>(wake_at - now).count()));
    const int rc = zmq_poll(items, 2, timeout_ms);
    if (rc < 0) {
      if (zmq_errno() == EINTR) continue;
      transport::throwZmqError(zmq_errno(), "poll", router_.socket().describe());
    }
    if (items[1].revents & ZMQ_POLLIN) flushReplies();
    if (items[0].revents & ZMQ_POLLIN) {
      // A bounded burst, so that replies are not starved by a flood of requests.
      for (int i = 0; i < 256 && router_.socket().waitFor(ZMQ_POLLIN, Clock::now()); ++i) {
        noticeStop();
        try {
          handleMessage(draining);
        } catch (const Disconnected&) {
          throw;  // the context was shut down
        } catch (const std::exception& e) {
          // Never reached for bad input (decodeRewardRequest does not throw); kept so that a bug
          // in one request cannot take the server down.
          log::error("reward server: failed to handle a message: {}", e.what());
        }
      }
      flushReplies();
    }
  }
  flushReplies();
  logHeartbeat(draining);
  return true;
}

}  // namespace gramrl::reward
