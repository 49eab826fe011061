// Builders and checkers for one realistic message of each channel, using the real schemas.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "common/transport/frame_codec.h"
#include "schemas/control.capnp.h"
#include "schemas/reward.capnp.h"
#include "schemas/rollout.capnp.h"
#include "schemas/weights.capnp.h"

namespace gramrl::transport::testing {

inline uint8_t patternByte(size_t i) { return static_cast<uint8_t>((i * 131 + 7) & 0xff); }

// ---- reward ----
inline OutgoingMessage makeScoreRequest(uint64_t seq, int items) {
  OutgoingMessage message;
  auto root = message.initRoot<wire::RewardMessage>();
  root.setSeq(seq);
  auto request = root.initScoreRequest();
  request.setPolicyVersion(17);
  request.setDeadlineUnixMs(123456789);
  auto list = request.initPointwise(items);
  for (int i = 0; i < items; ++i) {
    list[i].setPrompt(fmt::format("sort the list {}", i));
    list[i].setResponse(fmt::format("[{}, {}, {}]", i, i + 1, i + 2));
    list[i].setReference("[1, 2, 3]");
  }
  return message;
}

inline void expectScoreRequest(const wire::RewardMessage::Reader& root, uint64_t seq, int items) {
  EXPECT_EQ(root.getSeq(), seq);
  ASSERT_TRUE(root.isScoreRequest());
  auto request = root.getScoreRequest();
  EXPECT_EQ(request.getPolicyVersion(), 17u);
  EXPECT_EQ(request.getDeadlineUnixMs(), 123456789u);
  ASSERT_TRUE(request.isPointwise());
  auto list = request.getPointwise();
  ASSERT_EQ(static_cast<int>(list.size()), items);
  for (int i = 0; i < items; ++i) {
    EXPECT_EQ(std::string(list[i].getPrompt().cStr()), fmt::format("sort the list {}", i));
    EXPECT_EQ(std::string(list[i].getResponse().cStr()), fmt::format("[{}, {}, {}]", i, i + 1, i + 2));
  }
}

inline OutgoingMessage makeScoreReply(uint64_t seq, int items) {
  OutgoingMessage message;
  auto root = message.initRoot<wire::RewardMessage>();
  root.setSeq(seq);
  auto reply = root.initScoreReply();
  reply.setModelName("rule");
  auto scores = reply.initScores(items);
  for (int i = 0; i < items; ++i) scores.set(i, 0.25f * static_cast<float>(i));
  return message;
}

inline OutgoingMessage makeErrorReply(uint64_t seq, wire::ErrorCode code, const std::string& text) {
  OutgoingMessage message;
  auto root = message.initRoot<wire::RewardMessage>();
  root.setSeq(seq);
  auto error = root.initError();
  error.setCode(code);
  error.setMessage(text);
  return message;
}

// ---- rollout ----
inline OutgoingMessage makeRolloutBatch(uint64_t seq, uint32_t sequences, uint32_t response_len) {
  OutgoingMessage message;
  auto root = message.initRoot<wire::RolloutMessage>();
  root.setSeq(seq);
  auto batch = root.initBatch();
  batch.setActorId(3);
  batch.setPolicyVersion(9);
  const uint32_t prompt_len = 16;
  auto prompt_ids = batch.initPromptIds(sequences);
  auto prompt_lengths = batch.initPromptLengths(sequences);
  auto response_lengths = batch.initResponseLengths(sequences);
  auto rewards = batch.initRewards(sequences);
  auto tokens = batch.initTokens(sequences * (prompt_len + response_len));
  auto logprobs = batch.initBehaviourLogprobs(sequences * response_len);
  for (uint32_t i = 0; i < sequences; ++i) {
    prompt_ids.set(i, 1000 + i);
    prompt_lengths.set(i, prompt_len);
    response_lengths.set(i, response_len);
    rewards.set(i, 0.5f + static_cast<float>(i));
  }
  for (uint32_t i = 0; i < tokens.size(); ++i) tokens.set(i, static_cast<int32_t>(i % 50000));
  for (uint32_t i = 0; i < logprobs.size(); ++i) logprobs.set(i, -0.001f * static_cast<float>(i % 1000));
  return message;
}

inline void expectRolloutBatch(const wire::RolloutMessage::Reader& root, uint64_t seq, uint32_t sequences,
                               uint32_t response_len) {
  EXPECT_EQ(root.getSeq(), seq);
  ASSERT_TRUE(root.isBatch());
  auto batch = root.getBatch();
  EXPECT_EQ(batch.getActorId(), 3u);
  EXPECT_EQ(batch.getPolicyVersion(), 9u);
  auto tokens = batch.getTokens();
  ASSERT_EQ(tokens.size(), sequences * (16 + response_len));
  bool tokens_ok = true;
  for (uint32_t i = 0; i < tokens.size(); ++i) tokens_ok &= tokens[i] == static_cast<int32_t>(i % 50000);
  EXPECT_TRUE(tokens_ok);
  auto logprobs = batch.getBehaviourLogprobs();
  ASSERT_EQ(logprobs.size(), sequences * response_len);
  EXPECT_FLOAT_EQ(logprobs[logprobs.size() - 1], -0.001f * static_cast<float>((logprobs.size() - 1) % 1000));
  auto rewards = batch.getRewards();
  ASSERT_EQ(rewards.size(), sequences);
  EXPECT_FLOAT_EQ(rewards[sequences - 1], 0.5f + static_cast<float>(sequences - 1));
}

// ---- weights ----
inline OutgoingMessage makeWeightsChunk(uint64_t seq, size_t data_bytes) {
  OutgoingMessage message;
  auto root = message.initRoot<wire::WeightsMessage>();
  root.setSeq(seq);
  auto chunk = root.initChunk();
  chunk.setVersion(5);
  chunk.setIndex(0);
  auto tensors = chunk.initTensors(1);
  auto tensor = tensors[0];
  tensor.setName("model.layers.0.mlp.up_proj.weight");
  tensor.setDtype(wire::DType::UINT8);
  auto shape = tensor.initShape(2);
  shape.set(0, static_cast<int64_t>(data_bytes / 1024));
  shape.set(1, 1024);
  auto data = tensor.initData(data_bytes);
  for (size_t i = 0; i < data_bytes; ++i) data[i] = patternByte(i);
  return message;
}

inline OutgoingMessage makeAnnouncement(uint64_t seq, uint64_t version) {
  OutgoingMessage message;
  auto root = message.initRoot<wire::WeightsMessage>();
  root.setSeq(seq);
  auto announce = root.initAnnounce();
  announce.setVersion(version);
  announce.setManifestDigest(0xabcdef);
  return message;
}

// Checks the chunk and returns its tensor's Data reader (for zero-copy checks).
inline capnp::Data::Reader expectWeightsChunk(const wire::WeightsMessage::Reader& root, uint64_t seq,
                                              size_t data_bytes) {
  EXPECT_EQ(root.getSeq(), seq);
  EXPECT_TRUE(root.isChunk());
  if (!root.isChunk()) return {};
  auto chunk = root.getChunk();
  EXPECT_EQ(chunk.getVersion(), 5u);
  auto tensors = chunk.getTensors();
  EXPECT_EQ(tensors.size(), 1u);
  if (tensors.size() != 1) return {};
  auto tensor = tensors[0];
  EXPECT_EQ(std::string(tensor.getName().cStr()), "model.layers.0.mlp.up_proj.weight");
  EXPECT_EQ(tensor.getDtype(), wire::DType::UINT8);
  EXPECT_EQ(tensor.getShape().size(), 2u);
  auto data = tensor.getData();
  EXPECT_EQ(data.size(), data_bytes);
  size_t mismatches = 0;
  for (size_t i = 0; i < data.size(); ++i) mismatches += data[i] != patternByte(i);
  EXPECT_EQ(mismatches, 0u);
  return data;
}

// ---- control ----
inline OutgoingMessage makeRegister(uint64_t seq) {
  OutgoingMessage message;
  auto root = message.initRoot<wire::ControlMessage>();
  root.setSeq(seq);
  auto sender = root.initSender();
  sender.setRole(wire::Role::REWARD_SERVER);
  sender.setIndex(2);
  sender.setHost("node-7");
  sender.setPid(4242);
  auto endpoints = root.initRegister().initEndpoints(2);
  endpoints[0].setName("reward");
  endpoints[0].setAddress("tcp://10.0.0.5:41234");
  endpoints[1].setName("metrics");
  endpoints[1].setAddress("tcp://10.0.0.5:41235");
  return message;
}

inline void expectRegister(const wire::ControlMessage::Reader& root, uint64_t seq) {
  EXPECT_EQ(root.getSeq(), seq);
  EXPECT_EQ(root.getSender().getRole(), wire::Role::REWARD_SERVER);
  EXPECT_EQ(root.getSender().getIndex(), 2u);
  EXPECT_EQ(std::string(root.getSender().getHost().cStr()), "node-7");
  EXPECT_EQ(root.getSender().getPid(), 4242u);
  ASSERT_TRUE(root.isRegister());
  auto endpoints = root.getRegister().getEndpoints();
  ASSERT_EQ(endpoints.size(), 2u);
  EXPECT_EQ(std::string(endpoints[1].getAddress().cStr()), "tcp://10.0.0.5:41235");
}

// True when [p, p + n) lies inside one of the message's received frames: the field was read
// in place, not from a copy.
inline bool liesInFrames(const IncomingMessage& message, const void* p, size_t n) {
  const auto* begin = static_cast<const unsigned char*>(p);
  for (const auto& frame : message.frames()) {
    const auto* f = static_cast<const unsigned char*>(frame.data());
    if (begin >= f && begin + n <= f + frame.size()) return true;
  }
  return false;
}

}  // namespace gramrl::transport::testing
