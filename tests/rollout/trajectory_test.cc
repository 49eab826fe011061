// The trajectory batch codec: a round trip keeps every field; inconsistent batches are refused.
#include "rollout/trajectory.h"

#include <cmath>

#include <gtest/gtest.h>

#include "common/core/errors.h"

namespace gramrl {
namespace {

Trajectory make(uint64_t lease, uint64_t prompt, uint32_t index) {
  Trajectory t;
  t.lease_id = lease;
  t.prompt_id = prompt;
  t.sample_index = index;
  t.policy_version = 7;
  t.prompt = {1, 2, 3};
  t.response = {4, 5};
  t.behaviour_logprobs = {-0.5f, -1.25f};
  t.reward = 0.75f;
  t.gold = std::nanf("");
  t.stopped = index % 2 == 0;
  return t;
}

std::vector<Trajectory> roundTrip(transport::OutgoingMessage&& m) {
  transport::Frames frames = transport::encodeFrames(transport::Channel::kRollout, std::move(m));
  transport::IncomingMessage in = transport::decodeFrames(transport::Channel::kRollout, std::move(frames), {});
  return decodeTrajectoryBatch(in.getRoot<wire::RolloutMessage>().getBatch(), TrajectoryLimits{});
}

TEST(TrajectoryCodecTest, RoundTripKeepsEveryField) {
  std::vector<Trajectory> batch{make(10, 3, 0), make(10, 3, 1)};
  batch[1].response = {9};
  batch[1].behaviour_logprobs = {-3.0f};
  batch[1].gold = 0.5f;
  const auto back = roundTrip(encodeTrajectoryBatch(1, 4, batch));
  ASSERT_EQ(back.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back[i].lease_id, batch[i].lease_id);
    EXPECT_EQ(back[i].prompt_id, batch[i].prompt_id);
    EXPECT_EQ(back[i].sample_index, batch[i].sample_index);
    EXPECT_EQ(back[i].policy_version, 7);
    EXPECT_EQ(back[i].prompt, batch[i].prompt);
    EXPECT_EQ(back[i].response, batch[i].response);
    EXPECT_EQ(back[i].behaviour_logprobs, batch[i].behaviour_logprobs);
    EXPECT_EQ(back[i].reward, batch[i].reward);
    EXPECT_EQ(back[i].stopped, batch[i].stopped);
  }
  EXPECT_TRUE(std::isnan(back[0].gold));
  EXPECT_EQ(back[1].gold, 0.5f);
}

TEST(TrajectoryCodecTest, PhaseTimesTravelAndNonsenseReadsAsZero) {
  auto times_of = [](transport::OutgoingMessage&& m) {
    transport::Frames frames = transport::encodeFrames(transport::Channel::kRollout, std::move(m));
    transport::IncomingMessage in = transport::decodeFrames(transport::Channel::kRollout, std::move(frames), {});
    return decodeBatchTimes(in.getRoot<wire::RolloutMessage>().getBatch());
  };
  const BatchTimes t = times_of(encodeTrajectoryBatch(1, 0, {make(1, 1, 0)}, BatchTimes{1.5, 0.25, 0.125}));
  EXPECT_EQ(t.generation_s, 1.5);
  EXPECT_EQ(t.reward_s, 0.25);
  EXPECT_EQ(t.weights_s, 0.125);
  const BatchTimes bad =
      times_of(encodeTrajectoryBatch(1, 0, {make(1, 1, 0)}, BatchTimes{-2.0, std::nan(""), HUGE_VAL}));
  EXPECT_EQ(bad.generation_s, 0.0);
  EXPECT_EQ(bad.reward_s, 0.0);
  EXPECT_EQ(bad.weights_s, 0.0);
  // A batch from an actor that predates the fields reads as zero time.
  EXPECT_EQ(times_of(encodeTrajectoryBatch(1, 0, {make(1, 1, 0)})).generation_s, 0.0);
}

TEST(TrajectoryCodecTest, InconsistentLengthsAreProtocolErrors) {
  std::vector<Trajectory> batch{make(1, 1, 0)};
  transport::OutgoingMessage m = encodeTrajectoryBatch(1, 0, batch);
  // One response token too many claimed: tokens no longer add up.
  m.getRoot<wire::RolloutMessage>().getBatch().getResponseLengths().set(0, 3);
  EXPECT_THROW(roundTrip(std::move(m)), ProtocolError);

  transport::OutgoingMessage m2 = encodeTrajectoryBatch(1, 0, batch);
  m2.getRoot<wire::RolloutMessage>().getBatch().initRewards(2);
  EXPECT_THROW(roundTrip(std::move(m2)), ProtocolError);

  transport::OutgoingMessage m3 = encodeTrajectoryBatch(1, 0, batch);
  m3.getRoot<wire::RolloutMessage>().getBatch().getTokens().set(0, -4);
  EXPECT_THROW(roundTrip(std::move(m3)), ProtocolError);

  std::vector<Trajectory> many(5, make(1, 1, 0));
  transport::OutgoingMessage m4 = encodeTrajectoryBatch(1, 0, many);
  transport::Frames frames = transport::encodeFrames(transport::Channel::kRollout, std::move(m4));
  transport::IncomingMessage in = transport::decodeFrames(transport::Channel::kRollout, std::move(frames), {});
  EXPECT_THROW(decodeTrajectoryBatch(in.getRoot<wire::RolloutMessage>().getBatch(), TrajectoryLimits{4, 1000}),
               ProtocolError);
}

}  // namespace
}  // namespace gramrl
