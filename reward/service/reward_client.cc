#include "reward/service/reward_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/core.h>

#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/transport/curve.h"

namespace gramrl::reward {

RewardClientOptions RewardClientOptions::fromConfig(const ExperimentConfig& config,
                                                    std::vector<std::string> endpoints) {
  RewardClientOptions o;
  o.endpoints = std::move(endpoints);
  if (o.endpoints.empty()) {
    std::string host = config.launch.transport.bind_host;
    if (host == "*" || host == "0.0.0.0") host = "127.0.0.1";
    const int64_t port = config.reward.server.port;
    GRAMRL_CHECK(port != 0, ConfigError,
                 "reward.server.port is 0 (each server picks a free port): give the reward client its endpoints");
    for (int64_t i = 0; i < config.reward.replicas; ++i) {
      o.endpoints.push_back(fmt::format("tcp://{}:{}", host, port + i));
    }
  }
  const auto& t = config.launch.transport;
  o.retry.max_attempts = static_cast<int>(t.max_attempts);
  o.retry.attempt_timeout = std::chrono::milliseconds(t.request_timeout_ms);
  o.retry.backoff_initial = std::chrono::milliseconds(t.backoff_initial_ms);
  o.retry.backoff_max = std::chrono::milliseconds(t.backoff_max_ms);
  o.receive_limits.max_message_bytes = static_cast<size_t>(t.max_message_mb) << 20;
  o.curve_keys_dir = config.reward.server.curve_keys_dir;
  RequestLimits limits;
  limits.max_items = static_cast<size_t>(config.reward.server.max_request_items);
  limits.max_text_bytes = static_cast<size_t>(config.reward.server.max_request_mb) << 20;
  o.request_limits = limits;
  return o;
}

void validateEndpoint(const std::string& endpoint, const std::string& what) {
  if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) {
    GRAMRL_CHECK(endpoint.find("://") + 3 < endpoint.size(), ConfigError, "{} {}: the name is empty", what, endpoint);
    return;
  }
  GRAMRL_CHECK(endpoint.rfind("tcp://", 0) == 0, ConfigError,
               "{} {}: expected tcp://host:port (or ipc://path, inproc://name)", what, endpoint);
  const auto colon = endpoint.rfind(':');
  const std::string host = endpoint.substr(6, colon > 6 ? colon - 6 : 0);
  const std::string port = colon > 6 ? endpoint.substr(colon + 1) : "";
  GRAMRL_CHECK(!host.empty() && !port.empty(), ConfigError, "{} {}: expected tcp://host:port", what, endpoint);
  bool digits = port.size() <= 5;
  for (char c : port) digits = digits && c >= '0' && c <= '9';
  const long value = digits ? std::stol(port) : -1;
  GRAMRL_CHECK(value >= 1 && value <= 65535, ConfigError, "{} {}: port {} is not a port number (1 to 65535)", what,
               endpoint, port);
}

std::string probeTcpEndpoint(const std::string& endpoint, std::chrono::milliseconds timeout) {
  if (endpoint.rfind("tcp://", 0) != 0) return "";
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon <= 6) return "";
  std::string host = endpoint.substr(6, colon - 6);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = endpoint.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) return "";
  std::string why = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    int err = rc == 0 ? 0 : errno;
    if (rc != 0 && err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      err = ETIMEDOUT;
      if (rc == 1) {
        socklen_t len = sizeof(err);
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
    ::close(fd);
    if (err == 0 || err == ETIMEDOUT) {  // accepted, or slow: let ZeroMQ's own timeouts decide
      ::freeaddrinfo(found);
      return "";
    }
    why = std::strerror(err);
  }
  ::freeaddrinfo(found);
  return why;
}

namespace {
transport::SocketOptions clientSocketOptions(const RewardClientOptions& options) {
  transport::SocketOptions o;
  if (!options.curve_keys_dir.empty()) {
    transport::setCurveClientOptions(o,
                                     transport::loadCurveKeys(options.curve_keys_dir, transport::CurveRole::kClient));
  }
  return o;
}
}  // namespace

namespace {
RewardClientOptions validated(RewardClientOptions options) {
  for (const auto& endpoint : options.endpoints) validateEndpoint(endpoint, "reward endpoint");
  return options;
}
}  // namespace

RewardClient::RewardClient(transport::ZmqContext& context, RewardClientOptions options)
    : context_(context),
      options_(validated(std::move(options))),
      socket_options_(clientSocketOptions(options_)),
      client_(context, transport::Channel::kReward, options_.endpoints, options_.retry, socket_options_,
              options_.receive_limits) {}

ScoreReply RewardClient::score(const ScoreRequest& request) {
  ++stats_.requests;
  const size_t expected = request.itemCount();
  if (options_.request_limits) {  // see RewardClientOptions::request_limits
    GRAMRL_CHECK(expected <= options_.request_limits->max_items, DataError,
                 "reward request: {} items, more than the server's limit of {} (reward.server.max_request_items); "
                 "send fewer per request",
                 expected, options_.request_limits->max_items);
    const size_t bytes = request.textBytes();
    GRAMRL_CHECK(bytes <= options_.request_limits->max_text_bytes, DataError,
                 "reward request: {} bytes of text, more than the server's limit of {} (reward.server.max_request_mb); "
                 "send fewer or shorter items per request",
                 bytes, options_.request_limits->max_text_bytes);
  }
  std::optional<ScoreReply> result;
  client_.call([&](wire::RewardMessage::Builder envelope) { fillScoreRequest(envelope, request); },
               [&](wire::RewardMessage::Reader reply) {
                 try {
                   result = readScoreReply(reply, expected);
                 } catch (const Overloaded&) {
                   ++stats_.overloaded;
                   throw;
                 } catch (const Timeout&) {
                   ++stats_.deadline_exceeded;
                   throw;
                 } catch (const Disconnected&) {
                   ++stats_.shutting_down;
                   throw;
                 }
               });
  GRAMRL_ASSERT(result.has_value(), "reward client: a call returned without a validated reply");
  return std::move(*result);
}

std::vector<ScoreReply> RewardClient::scoreAll(const std::vector<ScoreRequest>& requests) {
  std::vector<ScoreReply> replies;
  replies.reserve(requests.size());
  for (const ScoreRequest& request : requests) replies.push_back(score(request));
  return replies;
}

bool RewardClient::ping(std::chrono::milliseconds timeout) {
  transport::RetryPolicy policy;
  policy.max_attempts = static_cast<int>(options_.endpoints.size());
  policy.attempt_timeout = timeout;
  policy.backoff_initial = policy.backoff_max = std::chrono::milliseconds(0);
  transport::RequestClient<wire::RewardMessage> pinger(context_, transport::Channel::kReward, options_.endpoints,
                                                       policy, socket_options_, options_.receive_limits);
  try {
    pinger.call([](wire::RewardMessage::Builder envelope) { envelope.setPing(); },
                [](wire::RewardMessage::Reader reply) {
                  GRAMRL_CHECK(reply.isPong(), ProtocolError, "expected a pong, got another reply");
                });
    return true;
  } catch (const Timeout&) {
    return false;
  } catch (const Disconnected&) {
    return false;
  }
}

RewardClientStats RewardClient::stats() const {
  RewardClientStats s = stats_;
  s.transport = client_.stats();
  return s;
}

}  // namespace gramrl::reward
