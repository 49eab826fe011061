#include "rollout/trajectory.h"

#include <cmath>

#include "common/core/errors.h"

namespace gramrl {

transport::OutgoingMessage encodeTrajectoryBatch(uint64_t seq, uint32_t actor_id, const std::vector<Trajectory>& batch,
                                                 const BatchTimes& times) {
  size_t tokens = 0;
  size_t responses = 0;
  for (const auto& t : batch) {
    tokens += t.prompt.size() + t.response.size();
    responses += t.response.size();
  }
  transport::OutgoingMessage message(static_cast<unsigned>(64 + tokens / 2 + responses / 2 + batch.size() * 6));
  auto root = message.initRoot<wire::RolloutMessage>();
  root.setSeq(seq);
  auto b = root.initBatch();
  const auto n = static_cast<unsigned>(batch.size());
  b.setActorId(actor_id);
  b.setPolicyVersion(batch.empty() ? 0 : static_cast<uint64_t>(batch.front().policy_version));
  b.setGenerationSeconds(static_cast<float>(times.generation_s));
  b.setRewardSeconds(static_cast<float>(times.reward_s));
  b.setWeightsSeconds(static_cast<float>(times.weights_s));
  auto prompt_ids = b.initPromptIds(n);
  auto sample_index = b.initSampleIndex(n);
  auto prompt_lengths = b.initPromptLengths(n);
  auto response_lengths = b.initResponseLengths(n);
  auto rewards = b.initRewards(n);
  auto finish = b.initFinishReasons(n);
  auto lease_ids = b.initLeaseIds(n);
  auto gold = b.initGoldRewards(n);
  bool with_baselines = false;
  for (const Trajectory& t : batch) with_baselines = with_baselines || !std::isnan(t.baseline_reward);
  auto baselines = b.initBaselineRewards(with_baselines ? n : 0);
  auto token_list = b.initTokens(static_cast<unsigned>(tokens));
  auto logprob_list = b.initBehaviourLogprobs(static_cast<unsigned>(responses));
  unsigned tk = 0;
  unsigned lp = 0;
  for (unsigned i = 0; i < n; ++i) {
    const Trajectory& t = batch[i];
    GRAMRL_ASSERT(t.policy_version == batch.front().policy_version, "one policy version per batch");
    GRAMRL_ASSERT(t.behaviour_logprobs.size() == t.response.size());
    prompt_ids.set(i, t.prompt_id);
    sample_index.set(i, t.sample_index);
    prompt_lengths.set(i, static_cast<uint32_t>(t.prompt.size()));
    response_lengths.set(i, static_cast<uint32_t>(t.response.size()));
    rewards.set(i, t.reward);
    finish.set(i, t.stopped ? wire::FinishReason::STOP_TOKEN : wire::FinishReason::MAX_TOKENS);
    lease_ids.set(i, t.lease_id);
    gold.set(i, t.gold);
    if (with_baselines) baselines.set(i, t.baseline_reward);
    for (int32_t id : t.prompt) token_list.set(tk++, id);
    for (int32_t id : t.response) token_list.set(tk++, id);
    for (float v : t.behaviour_logprobs) logprob_list.set(lp++, v);
  }
  return message;
}

std::vector<Trajectory> decodeTrajectoryBatch(wire::TrajectoryBatch::Reader b, const TrajectoryLimits& limits) {
  return transport::protocolGuard("a trajectory batch", [&] {
    const auto prompt_ids = b.getPromptIds();
    const size_t n = prompt_ids.size();
    GRAMRL_CHECK(n <= limits.max_sequences, ProtocolError, "trajectory batch: {} sequences, the limit is {}", n,
                 limits.max_sequences);
    const auto sample_index = b.getSampleIndex();
    const auto prompt_lengths = b.getPromptLengths();
    const auto response_lengths = b.getResponseLengths();
    const auto rewards = b.getRewards();
    const auto finish = b.getFinishReasons();
    const auto lease_ids = b.getLeaseIds();
    const auto gold = b.getGoldRewards();
    const auto tokens = b.getTokens();
    const auto logprobs = b.getBehaviourLogprobs();
    auto same = [&](size_t size, const char* field) {
      GRAMRL_CHECK(size == n, ProtocolError, "trajectory batch: {} has {} entries for {} sequences", field, size, n);
    };
    same(sample_index.size(), "sampleIndex");
    same(prompt_lengths.size(), "promptLengths");
    same(response_lengths.size(), "responseLengths");
    same(rewards.size(), "rewards");
    same(finish.size(), "finishReasons");
    same(lease_ids.size(), "leaseIds");
    same(gold.size(), "goldRewards");
    const auto baselines = b.getBaselineRewards();
    if (baselines.size() != 0) same(baselines.size(), "baselineRewards");
    size_t total = 0;
    size_t responses = 0;
    for (size_t i = 0; i < n; ++i) {
      total += prompt_lengths[i];
      total += response_lengths[i];
      responses += response_lengths[i];
    }
    GRAMRL_CHECK(total <= limits.max_tokens, ProtocolError, "trajectory batch: {} tokens, the limit is {}", total,
                 limits.max_tokens);
    GRAMRL_CHECK(tokens.size() == total, ProtocolError,
                 "trajectory batch: tokens has {} entries, the lengths add up to {}", tokens.size(), total);
    GRAMRL_CHECK(logprobs.size() == responses, ProtocolError,
                 "trajectory batch: behaviourLogprobs has {} entries for {} response tokens", logprobs.size(),
                 responses);
    std::vector<Trajectory> out(n);
    size_t tk = 0;
    size_t lp = 0;
    for (size_t i = 0; i < n; ++i) {
      Trajectory& t = out[i];
      t.lease_id = lease_ids[i];
      t.prompt_id = prompt_ids[i];
      t.sample_index = sample_index[i];
      t.policy_version = static_cast<int64_t>(b.getPolicyVersion());
      t.reward = rewards[i];
      t.gold = gold[i];
      t.stopped = finish[i] == wire::FinishReason::STOP_TOKEN;
      GRAMRL_CHECK(std::isfinite(t.reward), ProtocolError, "trajectory batch: sequence {} has reward {}", i, t.reward);
      if (baselines.size() != 0) {
        t.baseline_reward = baselines[i];
        GRAMRL_CHECK(std::isfinite(t.baseline_reward), ProtocolError,
                     "trajectory batch: sequence {} has baseline reward {}", i, t.baseline_reward);
      }
      t.prompt.resize(prompt_lengths[i]);
      t.response.resize(response_lengths[i]);
      for (auto& id : t.prompt) id = tokens[tk++];
      for (auto& id : t.response) id = tokens[tk++];
      for (int32_t id : t.prompt) GRAMRL_CHECK(id >= 0, ProtocolError, "trajectory batch: token id {} < 0", id);
      for (int32_t id : t.response) GRAMRL_CHECK(id >= 0, ProtocolError, "trajectory batch: token id {} < 0", id);
      t.behaviour_logprobs.resize(response_lengths[i]);
      for (auto& v : t.behaviour_logprobs) v = logprobs[lp++];
    }
    return out;
  });
}

BatchTimes decodeBatchTimes(wire::TrajectoryBatch::Reader batch) {
  auto seconds = [](float v) { return std::isfinite(v) && v > 0.0f ? static_cast<double>(v) : 0.0; };
  return BatchTimes{seconds(batch.getGenerationSeconds()), seconds(batch.getRewardSeconds()),
                    seconds(batch.getWeightsSeconds())};
}

}  // namespace gramrl
