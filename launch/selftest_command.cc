// gramrl selftest transport: a two-process check of the foundation, end to end.
//
// The parent hosts a rendezvous store, binds a reward-channel ROUTER and a rollout-channel PULL
// per transport (tcp://127.0.0.1:*, ipc:// in a temp dir), registers the endpoints, and starts
// this same binary as `selftest transport-peer`. The peer looks the endpoints up and, for each
// transport, makes --messages score requests through a RequestClient (the parent answers each
// item with the length of its response, which the peer checks), pushes one TrajectoryBatch
// of --payload-mb MiB of token ids (the parent checks every token and that it was read in
// place), and ends the phase with a ping. The parent prints round-trip and throughput figures.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>

#include "common/config/config_loader.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/rendezvous/rendezvous.h"
#include "common/transport/message_socket.h"
#include "common/transport/request_client.h"
#include "launch/commands.h"
#include "schemas/reward.capnp.h"
#include "schemas/rollout.capnp.h"

namespace gramrl::cli {
namespace {

namespace bp = boost::process;
using namespace std::chrono_literals;
using transport::Channel;
using transport::IncomingMessage;
using transport::MessageSocket;
using transport::OutgoingMessage;
using transport::SocketType;

constexpr std::chrono::seconds kPhaseTimeout{120};
constexpr int kItemsPerRequest = 8;

TransportOptions transportOptions(const SelftestArgs& args) {
  if (args.config.empty()) return TransportOptions{};
  return loadExperimentConfig(args.config).launch.transport;
}

transport::ReceiveLimits limitsFrom(const TransportOptions& t) {
  transport::ReceiveLimits limits;
  limits.max_message_bytes = static_cast<size_t>(t.max_message_mb) << 20;
  return limits;
}

transport::SocketOptions socketOptionsFrom(const TransportOptions& t) {
  transport::SocketOptions o;
  o.max_message_bytes = static_cast<int64_t>(t.max_message_mb) << 20;
  return o;
}

// Token i of the payload; the parent recomputes it to check every value.
int32_t payloadToken(uint64_t i) { return static_cast<int32_t>((i * 2654435761u) & 0x7fffffff); }

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

// ---- peer ----------------------------------------------------------------------------------

}  // namespace

int runSelftestPeer(const SelftestArgs& args) {
  log::setIdentity("selftest-peer");
  const TransportOptions topts = transportOptions(args);
  auto rv = Rendezvous::connect(RendezvousAddress::parse(args.rendezvous), 30s);
  transport::ZmqContext context;
  transport::RetryPolicy policy;
  policy.attempt_timeout = std::chrono::milliseconds(topts.request_timeout_ms);
  policy.max_attempts = static_cast<int>(topts.max_attempts);

  for (const auto& name : args.transports) {
    const std::string reward_ep = rv->lookup("selftest", 0, name + "-reward", 30s);
    const std::string rollout_ep = rv->lookup("selftest", 0, name + "-rollout", 30s);
    transport::RequestClient<wire::RewardMessage> client(context, Channel::kReward, {reward_ep}, policy,
                                                         socketOptionsFrom(topts), limitsFrom(topts));
    std::vector<double> rtt_us;
    for (int m = 0; m < args.messages; ++m) {
      std::vector<std::string> responses;
      for (int i = 0; i < kItemsPerRequest; ++i) responses.push_back(std::string((m * 7 + i * 13) % 97, 'x'));
      const auto start = std::chrono::steady_clock::now();
      IncomingMessage reply = client.call([&](wire::RewardMessage::Builder msg) {
        auto items = msg.initScoreRequest().initPointwise(static_cast<unsigned>(responses.size()));
        for (unsigned i = 0; i < items.size(); ++i) {
          items[i].setPrompt("selftest");
          items[i].setResponse(responses[i]);
        }
      });
      rtt_us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
      auto root = reply.getRoot<wire::RewardMessage>();
      GRAMRL_CHECK(root.isScoreReply(), ProtocolError, "selftest: request {} got a non-reply", m);
      auto scores = root.getScoreReply().getScores();
      GRAMRL_CHECK(scores.size() == responses.size(), ProtocolError, "selftest: request {}: {} scores for {} items", m,
                   scores.size(), responses.size());
      for (unsigned i = 0; i < scores.size(); ++i) {
        GRAMRL_CHECK(scores[i] == static_cast<float>(responses[i].size()), ProtocolError,
                     "selftest: request {} item {}: score {} != {}", m, i, scores[i], responses[i].size());
      }
    }
    rv->set("selftest/" + name + "/rtt_us",
            fmt::format("{} {} {}", percentile(rtt_us, 0.5), percentile(rtt_us, 0.99), rtt_us.size()));

    // One large rollout batch: the payload the learner channel carries.
    const uint64_t n_tokens = static_cast<uint64_t>(args.payload_mb * (1 << 20)) / sizeof(int32_t);
    MessageSocket push(context, SocketType::kPush, Channel::kRollout, socketOptionsFrom(topts), limitsFrom(topts));
    push.connect(rollout_ep);
    OutgoingMessage batch(static_cast<unsigned>(std::min<uint64_t>(n_tokens / 2 + 1024, 1u << 28)));
    auto root = batch.initRoot<wire::RolloutMessage>();
    root.setSeq(1);
    auto b = root.initBatch();
    b.setActorId(1);
    b.setPolicyVersion(3);
    b.initPromptLengths(1).set(0, 1);
    b.initResponseLengths(1).set(0, static_cast<uint32_t>(n_tokens - 1));
    auto tokens = b.initTokens(static_cast<unsigned>(n_tokens));
    for (uint64_t i = 0; i < n_tokens; ++i) tokens.set(static_cast<unsigned>(i), payloadToken(i));
    rv->set("selftest/" + name + "/push_start_ns",
            std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count()));
    GRAMRL_CHECK(push.send(std::move(batch), transport::deadlineAfter(kPhaseTimeout)), Timeout,
                 "selftest: pushing the rollout batch over {} timed out", name);

    client.call([](wire::RewardMessage::Builder msg) { msg.setPing(); });  // end of phase
    log::info("{}: {} requests and a {:.1f} MiB batch sent", name, args.messages, args.payload_mb);
  }
  return 0;
}

// ---- parent --------------------------------------------------------------------------------

namespace {

struct PhaseResult {
  std::string transport;
  double rtt_p50_us = 0, rtt_p99_us = 0;
  int requests = 0;
  double batch_mib = 0, batch_seconds = 0;
  size_t copied_segments = 0, segments = 0;
};

void serveRewardUntilPing(MessageSocket& router, int& answered) {
  const auto deadline = transport::deadlineAfter(kPhaseTimeout);
  while (true) {
    auto got = router.recv(deadline);
    GRAMRL_CHECK(got.has_value(), Timeout, "selftest: the peer sent nothing for {} s", kPhaseTimeout.count());
    GRAMRL_CHECK(got->ok(), ProtocolError, "selftest: the peer sent a malformed message: {}", got->error);
    auto req = got->message.getRoot<wire::RewardMessage>();
    OutgoingMessage reply;
    auto out = reply.initRoot<wire::RewardMessage>();
    out.setSeq(req.getSeq());
    if (req.isPing()) {
      out.setPong();
      router.sendTo(got->peer, std::move(reply), transport::deadlineAfter(10s));
      return;
    }
    GRAMRL_CHECK(req.isScoreRequest() && req.getScoreRequest().isPointwise(), ProtocolError,
                 "selftest: expected a pointwise score request");
    auto items = req.getScoreRequest().getPointwise();
    auto scores = out.initScoreReply().initScores(items.size());
    for (unsigned i = 0; i < items.size(); ++i) scores.set(i, static_cast<float>(items[i].getResponse().size()));
    router.sendTo(got->peer, std::move(reply), transport::deadlineAfter(10s));
    ++answered;
  }
}

PhaseResult checkBatch(MessageSocket& pull, Rendezvous& rv, const std::string& name) {
  PhaseResult r;
  r.transport = name;
  auto got = pull.recv(transport::deadlineAfter(kPhaseTimeout));
  GRAMRL_CHECK(got.has_value(), Timeout, "selftest: no rollout batch over {} within {} s", name, kPhaseTimeout.count());
  const auto received_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  GRAMRL_CHECK(got->ok(), ProtocolError, "selftest: malformed rollout batch: {}", got->error);
  auto batch = got->message.getRoot<wire::RolloutMessage>().getBatch();
  auto tokens = batch.getTokens();
  GRAMRL_CHECK(batch.getResponseLengths().size() == 1 && tokens.size() == batch.getResponseLengths()[0] + 1,
               ProtocolError, "selftest: batch lengths do not add up");
  for (unsigned i = 0; i < tokens.size(); ++i) {
    GRAMRL_CHECK(tokens[i] == payloadToken(i), ProtocolError, "selftest: token {} is {}, expected {}", i, tokens[i],
                 payloadToken(i));
  }
  const int64_t start_ns = std::stoll(rv.get("selftest/" + name + "/push_start_ns", 10s));
  r.batch_mib = static_cast<double>(got->message.byteSize()) / (1 << 20);
  r.batch_seconds = static_cast<double>(received_ns - start_ns) * 1e-9;
  r.segments = got->message.segmentCount();
  r.copied_segments = got->message.copiedSegmentCount();
  return r;
}

}  // namespace

int runSelftestTransport(const SelftestArgs& args) {
  log::setIdentity("selftest");
  const TransportOptions topts = transportOptions(args);
  auto rv = Rendezvous::host({"127.0.0.1", 0}, 30s);
  transport::ZmqContext context;
  const auto ipc_dir = std::filesystem::temp_directory_path() / fmt::format("gramrl-selftest-{}", ::getpid());
  std::filesystem::create_directories(ipc_dir);

  std::vector<std::unique_ptr<MessageSocket>> routers, pulls;
  for (const auto& name : args.transports) {
    GRAMRL_CHECK(name == "tcp" || name == "ipc", ConfigError, "selftest: unknown transport '{}': expected tcp or ipc",
                 name);
    auto bindOne = [&](SocketType type, Channel channel, const std::string& what) {
      auto s = std::make_unique<MessageSocket>(context, type, channel, socketOptionsFrom(topts), limitsFrom(topts));
      const std::string ep =
          name == "tcp" ? s->bind("tcp://127.0.0.1:*") : s->bind("ipc://" + (ipc_dir / (what + ".sock")).string());
      rv->publish("selftest", 0, name + "-" + what, ep);
      log::info("{} {} bound at {}", name, what, ep);
      return s;
    };
    routers.push_back(bindOne(SocketType::kRouter, Channel::kReward, "reward"));
    pulls.push_back(bindOne(SocketType::kPull, Channel::kRollout, "rollout"));
  }

  std::vector<std::string> peer_args{"selftest",     "transport-peer",
                                     "--rendezvous", rv->address().toString(),
                                     "--messages",   std::to_string(args.messages),
                                     "--payload-mb", fmt::format("{}", args.payload_mb)};
  for (const auto& t : args.transports) peer_args.insert(peer_args.end(), {"--transport", t});
  if (!args.config.empty()) peer_args.insert(peer_args.end(), {"--config", args.config});
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  log::info("rendezvous at {}; starting peer process", rv->address().toString());
  bp::child peer(self, bp::args(peer_args));

  std::vector<PhaseResult> results;
  try {
    for (size_t t = 0; t < args.transports.size(); ++t) {
      int answered = 0;
      serveRewardUntilPing(*routers[t], answered);
      PhaseResult r = checkBatch(*pulls[t], *rv, args.transports[t]);
      r.requests = answered;
      std::string rtt = rv->get("selftest/" + args.transports[t] + "/rtt_us", 10s);
      std::sscanf(rtt.c_str(), "%lf %lf", &r.rtt_p50_us, &r.rtt_p99_us);
      results.push_back(r);
    }
  } catch (...) {
    if (peer.running()) peer.terminate();
    std::filesystem::remove_all(ipc_dir);
    throw;
  }
  peer.wait();
  std::filesystem::remove_all(ipc_dir);
  GRAMRL_CHECK(peer.exit_code() == 0, SystemError, "selftest: the peer process exited with {}", peer.exit_code());

  std::cout << "transport self-test: 2 processes, rendezvous through a TCPStore\n";
  std::cout << "transport  requests  rtt p50 (us)  rtt p99 (us)  batch (MiB)  batch GB/s  segments copied\n";
  for (const auto& r : results) {
    std::cout << fmt::format("{:<9}  {:>8}  {:>12.1f}  {:>12.1f}  {:>11.1f}  {:>10.2f}  {:>3} of {}\n", r.transport,
                             r.requests, r.rtt_p50_us, r.rtt_p99_us, r.batch_mib,
                             r.batch_mib * (1 << 20) / 1e9 / std::max(r.batch_seconds, 1e-9), r.copied_segments,
                             r.segments);
    GRAMRL_CHECK(r.requests == args.messages, ProtocolError, "selftest: {} answered {} of {} requests", r.transport,
                 r.requests, args.messages);
  }
  std::cout << "batch GB/s = message bytes / (time received - time the push started); a lower bound on the rate,\n"
               "since the parent reads the batch only after answering the phase-ending ping\n";
  std::cout << "selftest transport: ok\n";
  return 0;
}

}  // namespace gramrl::cli
