#include "learner/rlhf/experience_server.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/transport/message_socket.h"
#include "schemas/rollout.capnp.h"
#include "schemas/weights.capnp.h"

namespace gramrl::rlhf {
namespace {

constexpr uint32_t kManifestChunk = 0xFFFFFFFFu;
constexpr auto kPoll = std::chrono::milliseconds(50);

transport::OutgoingMessage rolloutError(uint64_t seq, const std::string& text) {
  transport::OutgoingMessage m;
  auto root = m.initRoot<wire::RolloutMessage>();
  root.setSeq(seq);
  root.setError(text);
  return m;
}

transport::OutgoingMessage weightsError(uint64_t seq, const std::string& text) {
  transport::OutgoingMessage m;
  auto root = m.initRoot<wire::WeightsMessage>();
  root.setSeq(seq);
  root.setError(text);
  return m;
}

}  // namespace

struct ExperienceServer::State {
  explicit State(ExperienceServerOptions o, int64_t first_step, LedgerCounts counts)
      : ledger(o.ledger, first_step, counts) {}

  mutable std::mutex mu;
  std::condition_variable step_ready;
  PromptLedger ledger;
  std::map<uint64_t, std::vector<Trajectory>> accepted;  // prompt id -> its samples
  std::shared_ptr<const WeightSnapshot> snapshot;
  bool finished = false;
  ExperienceStats stats;
  std::exception_ptr error;
  std::atomic<bool> stop{false};
  std::thread rollout_thread;
  std::thread weights_thread;
  transport::ZmqContext* context = nullptr;

  // A serving thread's unexpected failure: kept for waitForStep() to rethrow on the training thread.
  void fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mu);
    if (!error) error = std::move(e);
    step_ready.notify_all();
  }
};

ExperienceServer::ExperienceServer(transport::ZmqContext& context, ExperienceServerOptions options, int64_t first_step,
                                   LedgerCounts counts)
    : options_(std::move(options)), state_(std::make_shared<State>(options_, first_step, counts)) {
  state_->context = &context;
  const std::string endpoint = "tcp://" + options_.bind_host + ":*";
  // Each ROUTER is made and bound on the thread that owns it; the bound endpoint (or the bind
  // error) comes back through a future.
  auto start = [&](transport::Channel channel, void (ExperienceServer::*serve)(transport::MessageSocket&)) {
    std::promise<std::string> bound;
    auto future = bound.get_future();
    std::thread thread([this, endpoint, channel, serve, p = std::move(bound)]() mutable {
      std::unique_ptr<transport::MessageSocket> socket;
      try {
        socket = std::make_unique<transport::MessageSocket>(*state_->context, transport::SocketType::kRouter, channel,
                                                            transport::SocketOptions{}, options_.receive_limits);
        p.set_value(socket->bind(endpoint));
      } catch (...) {
        p.set_exception(std::current_exception());
        return;
      }
      (this->*serve)(*socket);
    });
    return std::make_pair(std::move(thread), std::move(future));
  };
  auto [rollout_thread, rollout_future] = start(transport::Channel::kRollout, &ExperienceServer::serveRollout);
  state_->rollout_thread = std::move(rollout_thread);
  auto [weights_thread, weights_future] = start(transport::Channel::kWeights, &ExperienceServer::serveWeights);
  state_->weights_thread = std::move(weights_thread);
  try {
    rollout_endpoint_ = rollout_future.get();
    weights_endpoint_ = weights_future.get();
  } catch (...) {
    stop();
    throw;
  }
}

ExperienceServer::~ExperienceServer() { stop(); }

void ExperienceServer::stop() {
  state_->stop = true;
  if (state_->rollout_thread.joinable()) state_->rollout_thread.join();
  if (state_->weights_thread.joinable()) state_->weights_thread.join();
}

void ExperienceServer::publishWeights(std::shared_ptr<const WeightSnapshot> snapshot) {
  std::lock_guard<std::mutex> lock(state_->mu);
  const int64_t version = snapshot->version;
  state_->snapshot = std::move(snapshot);
  state_->ledger.setPolicyVersion(version);
  for (auto it = state_->accepted.begin(); it != state_->accepted.end();) {
    if (state_->ledger.stepOf(it->first) < version) {
      it = state_->accepted.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<std::vector<Trajectory>> ExperienceServer::waitForStep(int64_t step, transport::Deadline deadline) {
  std::unique_lock<std::mutex> lock(state_->mu);
  for (;;) {
    if (state_->error) std::rethrow_exception(state_->error);
    if (state_->ledger.isStepComplete(step)) break;
    if (state_->step_ready.wait_until(lock, std::min(deadline, transport::deadlineAfter(kPoll))) ==
            std::cv_status::timeout &&
        transport::Clock::now() >= deadline) {
      return std::nullopt;
    }
  }
  std::vector<Trajectory> out;
  const uint64_t first = state_->ledger.firstPromptOf(step);
  const auto per_step = static_cast<uint64_t>(state_->ledger.options().prompts_per_step);
  for (uint64_t p = first; p < first + per_step; ++p) {
    auto it = state_->accepted.find(p);
    GRAMRL_ASSERT(it != state_->accepted.end(), "complete step {} lacks prompt {}", step, p);
    for (auto& t : it->second) out.push_back(std::move(t));
    state_->accepted.erase(it);
  }
  return out;
}

void ExperienceServer::finish() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->finished = true;
}

ExperienceStats ExperienceServer::stats() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  ExperienceStats s = state_->stats;
  s.ledger = state_->ledger.counts();
  return s;
}

LedgerCounts ExperienceServer::checkpointCounts() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->ledger.countsForCheckpoint();
}

// Answers lease requests and trajectory hand-ins until stop().
void ExperienceServer::serveRollout(transport::MessageSocket& socket) {
  State& st = *state_;
  while (!st.stop) {
    try {
      {
        std::lock_guard<std::mutex> lock(st.mu);
        st.ledger.expire(LedgerClock::now());
      }
      auto received = socket.recv(transport::deadlineAfter(kPoll));
      if (!received) continue;
      if (!received->ok()) {
        std::lock_guard<std::mutex> lock(st.mu);
        ++st.stats.bad_messages;
        socket.sendTo(received->peer, rolloutError(received->seq, received->error), transport::deadlineAfter(kPoll));
        continue;
      }
      const auto root = received->message.getRoot<wire::RolloutMessage>();
      const uint64_t seq = root.getSeq();
      transport::OutgoingMessage reply;
      try {
        reply = handleRollout(root, seq);
      } catch (const ProtocolError& e) {
        std::lock_guard<std::mutex> lock(st.mu);
        ++st.stats.bad_messages;
        log::warn("rollout: refused a message from an actor: {}", e.what());
        reply = rolloutError(seq, e.what());
      }
      try {
        socket.sendTo(received->peer, std::move(reply), transport::deadlineAfter(std::chrono::seconds(5)));
      } catch (const Disconnected&) {
        // The actor is gone (killed after sending); its leases expire and go to another actor.
      }
    } catch (...) {
      st.fail(std::current_exception());
      return;
    }
  }
}

transport::OutgoingMessage ExperienceServer::handleRollout(wire::RolloutMessage::Reader root, uint64_t seq) {
  State& st = *state_;
  transport::OutgoingMessage reply;
  auto out = reply.initRoot<wire::RolloutMessage>();
  out.setSeq(seq);
  switch (root.which()) {
    case wire::RolloutMessage::LEASE_REQUEST: {
      const auto request = root.getLeaseRequest();
      const int64_t want = std::clamp<int64_t>(request.getMaxPrompts(), 1, 1 << 16);
      std::lock_guard<std::mutex> lock(st.mu);
      std::vector<Lease> leases;
      if (!st.finished) leases = st.ledger.lease(want, LedgerClock::now());
      auto grant = out.initLeaseGrant();
      auto list = grant.initLeases(static_cast<unsigned>(leases.size()));
      for (size_t i = 0; i < leases.size(); ++i) {
        list[static_cast<unsigned>(i)].setLeaseId(leases[i].lease_id);
        list[static_cast<unsigned>(i)].setPromptId(leases[i].prompt_id);
        list[static_cast<unsigned>(i)].setMinVersion(static_cast<uint64_t>(leases[i].min_version));
      }
      grant.setLatestVersion(static_cast<uint64_t>(st.snapshot ? st.snapshot->version : 0));
      grant.setFinished(st.finished);
      grant.setRetryAfterMs(static_cast<uint32_t>(options_.retry_after.count()));
      grant.setLeaseTimeoutMs(static_cast<uint32_t>(st.ledger.options().lease_timeout.count()));
      return reply;
    }
    case wire::RolloutMessage::BATCH: {
      std::vector<Trajectory> batch = decodeTrajectoryBatch(root.getBatch(), options_.trajectory_limits);
      // Group by lease; each lease must carry exactly samples_per_prompt samples of one prompt.
      std::map<uint64_t, std::vector<Trajectory>> by_lease;
      for (auto& t : batch) by_lease[t.lease_id].push_back(std::move(t));
      uint32_t accepted = 0;
      uint32_t duplicates = 0;
      uint32_t rejected = 0;
      const BatchTimes times = decodeBatchTimes(root.getBatch());
      std::lock_guard<std::mutex> lock(st.mu);
      st.stats.actor_times.generation_s += times.generation_s;
      st.stats.actor_times.reward_s += times.reward_s;
      st.stats.actor_times.weights_s += times.weights_s;
      for (auto& [lease_id, samples] : by_lease) {
        std::sort(samples.begin(), samples.end(),
                  [](const Trajectory& a, const Trajectory& b) { return a.sample_index < b.sample_index; });
        bool whole = static_cast<int64_t>(samples.size()) == options_.samples_per_prompt;
        for (size_t i = 0; whole && i < samples.size(); ++i) {
          whole = samples[i].sample_index == i && samples[i].prompt_id == samples.front().prompt_id;
        }
        if (!whole) {
          ++rejected;
          ++st.stats.bad_messages;
          log::warn("rollout: lease {} handed in {} samples that are not samples 0..{} of one prompt", lease_id,
                    samples.size(), options_.samples_per_prompt - 1);
          continue;
        }
        const uint64_t prompt = samples.front().prompt_id;
        const int64_t version = samples.front().policy_version;
        switch (st.ledger.handIn(lease_id, prompt, version)) {
          case Handin::kAccepted: {
            ++accepted;
            const int64_t step = st.ledger.stepOf(prompt);
            st.stats.trajectories_received += static_cast<int64_t>(samples.size());
            st.stats.staleness_sum += static_cast<double>(step - version) * static_cast<double>(samples.size());
            st.accepted[prompt] = std::move(samples);
            break;
          }
          case Handin::kDuplicate: ++duplicates; break;
          case Handin::kRejected: ++rejected; break;
        }
      }
      if (accepted > 0) st.step_ready.notify_all();
      auto ack = out.initBatchAck();
      ack.setAccepted(accepted);
      ack.setDuplicates(duplicates);
      ack.setRejected(rejected);
      return reply;
    }
    default: GRAMRL_CHECK(false, ProtocolError, "rollout: expected a leaseRequest or a batch");
  }
  return reply;
}

// Serves weight fetches until stop().
void ExperienceServer::serveWeights(transport::MessageSocket& socket) {
  State& st = *state_;
  while (!st.stop) {
    try {
      auto received = socket.recv(transport::deadlineAfter(kPoll));
      if (!received) continue;
      std::shared_ptr<const WeightSnapshot> snapshot;
      {
        std::lock_guard<std::mutex> lock(st.mu);
        snapshot = st.snapshot;
      }
      auto answer = [&](transport::OutgoingMessage&& m) { socket.sendTo(received->peer, std::move(m)); };
      uint64_t seq = received->seq;  // the request's, once read; for rejected messages, peeked
      try {
        if (!received->ok()) {
          std::lock_guard<std::mutex> lock(st.mu);
          ++st.stats.bad_messages;
          answer(weightsError(received->seq, received->error));
          continue;
        }
        const auto root = received->message.getRoot<wire::WeightsMessage>();
        seq = root.getSeq();
        if (root.which() != wire::WeightsMessage::FETCH) {
          answer(weightsError(seq, "weights: expected a fetch"));
        } else if (!snapshot) {
          answer(weightsError(seq, "weights: nothing published yet"));
        } else {
          const auto fetch = root.getFetch();
          const uint32_t index = fetch.getChunkIndex();
          if (index == kManifestChunk) {
            {
              std::lock_guard<std::mutex> lock(st.mu);
              ++st.stats.weight_fetches;
            }
            socket.sendTo(received->peer, *snapshot->manifest, transport::deadlineAfter(std::chrono::seconds(30)));
          } else if (static_cast<int64_t>(fetch.getVersion()) != snapshot->version) {
            answer(weightsError(seq, "weights: version " + std::to_string(fetch.getVersion()) +
                                         " is no longer the newest (" + std::to_string(snapshot->version) + ")"));
          } else if (index >= snapshot->chunks.size()) {
            answer(weightsError(seq, "weights: no chunk " + std::to_string(index)));
          } else {
            socket.sendTo(received->peer, snapshot->chunks[index], transport::deadlineAfter(std::chrono::seconds(30)));
          }
        }
      } catch (const ProtocolError& e) {
        {
          // Counted before the answer goes out (NOTE [Count before replying], reward_server.cc).
          std::lock_guard<std::mutex> lock(st.mu);
          ++st.stats.bad_messages;
        }
        answer(weightsError(seq, e.what()));
      }
    } catch (const Disconnected&) {
      // The actor went away mid-fetch.
    } catch (...) {
      st.fail(std::current_exception());
      return;
    }
  }
}

}  // namespace gramrl::rlhf
