#include "reward/service/reward_client.h"

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
  return o;
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

RewardClient::RewardClient(transport::ZmqContext& context, RewardClientOptions options)
    : context_(context),
      options_(std::move(options)),
      socket_options_(clientSocketOptions(options_)),
      client_(context, transport::Channel::kReward, options_.endpoints, options_.retry, socket_options_,
              options_.receive_limits) {}

ScoreReply RewardClient::score(const ScoreRequest& request) {
  ++stats_.requests;
  const size_t expected = request.itemCount();
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
