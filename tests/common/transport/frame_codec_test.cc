// The frame codec on its own (no sockets): layout, zero-copy, alignment, and rejection of
// every kind of malformed input with a ProtocolError that says what was wrong.
#include "common/transport/frame_codec.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/common/transport/test_messages.h"

namespace gramrl::transport {
namespace {

using ::testing::HasSubstr;
using namespace gramrl::transport::testing;

// ---- helpers to build raw frames -----------------------------------------------------------

zmq::message_t headerFrame(uint8_t channel, uint32_t segments, uint8_t version = 1) {
  unsigned char h[16] = {'G', 'R', 'L', '1', version, channel, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(h + 8, &segments, 4);  // little-endian host (x86-64, aarch64)
  return zmq::message_t(h, sizeof(h));
}

zmq::message_t wordsFrame(const std::vector<uint64_t>& words) { return zmq::message_t(words.data(), words.size() * 8); }

uint64_t structPointer(int32_t offset, uint16_t data_words, uint16_t pointers) {
  return uint64_t(uint32_t(offset) << 2) | (uint64_t(data_words) << 32) | (uint64_t(pointers) << 48);
}
uint64_t bytesListPointer(int32_t offset, uint32_t count) {
  return 1 | uint64_t(uint32_t(offset) << 2) | (uint64_t(2) << 32) | (uint64_t(count) << 35);
}
uint64_t farPointer(uint32_t segment, uint32_t offset) {
  return 2 | (uint64_t(offset) << 3) | (uint64_t(segment) << 32);
}

Frames rawMessage(uint8_t channel, std::vector<std::vector<uint64_t>> segments) {
  Frames frames;
  frames.push_back(headerFrame(channel, static_cast<uint32_t>(segments.size())));
  for (const auto& s : segments) frames.push_back(wordsFrame(s));
  return frames;
}

std::string decodeError(Channel channel, Frames frames, ReceiveLimits limits = {}) {
  try {
    decodeFrames(channel, std::move(frames), limits);
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "<accepted>";
}

// ---- layout and round trips -----------------------------------------------------------------

TEST(FrameCodec, HeaderLayoutIsAsDocumented) {
  Frames frames = encodeFrames(Channel::kRollout, makeRolloutBatch(1, 2, 4));
  ASSERT_GE(frames.size(), 2u);
  ASSERT_EQ(frames[0].size(), kFrameHeaderBytes);
  const auto* h = static_cast<const unsigned char*>(frames[0].data());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(h), 4), "GRL1");
  EXPECT_EQ(h[4], 1);
  EXPECT_EQ(h[5], 2);  // kRollout
  EXPECT_EQ(h[6] | h[7], 0);
  const uint32_t segments = h[8] | (h[9] << 8) | (h[10] << 16) | (uint32_t(h[11]) << 24);
  EXPECT_EQ(segments, frames.size() - 1);
  EXPECT_EQ(h[12] | h[13] | h[14] | h[15], 0);
  for (size_t i = 1; i < frames.size(); ++i) EXPECT_EQ(frames[i].size() % 8, 0u);
}

TEST(FrameCodec, EveryChannelRoundTripsInMemory) {
  {
    auto in = decodeFrames(Channel::kReward, encodeFrames(Channel::kReward, makeScoreRequest(11, 5)), {});
    EXPECT_EQ(in.channel(), Channel::kReward);
    expectScoreRequest(in.getRoot<wire::RewardMessage>(), 11, 5);
  }
  {
    auto in = decodeFrames(Channel::kRollout, encodeFrames(Channel::kRollout, makeRolloutBatch(12, 8, 100)), {});
    expectRolloutBatch(in.getRoot<wire::RolloutMessage>(), 12, 8, 100);
  }
  {
    auto in = decodeFrames(Channel::kWeights, encodeFrames(Channel::kWeights, makeWeightsChunk(13, 4096)), {});
    expectWeightsChunk(in.getRoot<wire::WeightsMessage>(), 13, 4096);
  }
  {
    auto in = decodeFrames(Channel::kControl, encodeFrames(Channel::kControl, makeRegister(14)), {});
    expectRegister(in.getRoot<wire::ControlMessage>(), 14);
  }
}

TEST(FrameCodec, LargeSegmentsAreSentWithoutCopyAndFreedWithTheLastFrame) {
  // An external, 8-byte aligned buffer referenced with referenceExternalData becomes its own
  // segment; the frame must point at it, and the buffer must live exactly as long as frames do.
  constexpr size_t kBytes = 3 << 20;
  auto buffer = std::make_shared<std::vector<capnp::word>>(kBytes / 8);
  auto* bytes = reinterpret_cast<kj::byte*>(buffer->data());
  for (size_t i = 0; i < kBytes; ++i) bytes[i] = patternByte(i);
  std::weak_ptr<std::vector<capnp::word>> watch = buffer;

  OutgoingMessage message;
  auto tensor = message.initRoot<wire::WeightsMessage>().initChunk().initTensors(1)[0];
  tensor.adoptData(message.orphanage().referenceExternalData(capnp::Data::Reader(bytes, kBytes)));
  message.keepAlive(std::move(buffer));
  EncodedMessage encoded(Channel::kWeights, std::move(message));
  Frames first = encoded.frames();
  Frames second = encoded.frames();  // a retry shares the same memory
  bool found = false;
  for (const auto& f : first) found |= f.data() == static_cast<const void*>(bytes) && f.size() == kBytes;
  EXPECT_TRUE(found) << "no frame points at the external buffer";
  EXPECT_FALSE(watch.expired());

  auto in = decodeFrames(Channel::kWeights, std::move(first), {});
  auto data = in.getRoot<wire::WeightsMessage>().getChunk().getTensors()[0].getData();
  EXPECT_EQ(data.begin(), bytes);  // in memory, end to end without a copy
  EXPECT_EQ(in.copiedSegmentCount(), 0u);
  EXPECT_EQ(data[kBytes - 1], patternByte(kBytes - 1));

  in = IncomingMessage();
  second.clear();
  EXPECT_FALSE(watch.expired());  // `encoded` still holds it
  encoded = EncodedMessage(Channel::kWeights, makeAnnouncement(1, 1));
  EXPECT_TRUE(watch.expired());
}

TEST(FrameCodec, MisalignedSegmentsAreCopiedAndAlignedOnesReadInPlace) {
  Frames aligned = encodeFrames(Channel::kWeights, makeWeightsChunk(5, 64 << 10));
  // Rebuild the same bytes at an odd address, as libzmq delivers small tcp/ipc messages.
  std::vector<std::unique_ptr<unsigned char[]>> storage;
  Frames misaligned;
  misaligned.emplace_back(aligned[0].data(), aligned[0].size());
  for (size_t i = 1; i < aligned.size(); ++i) {
    storage.emplace_back(new unsigned char[aligned[i].size() + 8]);
    unsigned char* odd = storage.back().get() + 3;
    std::memcpy(odd, aligned[i].data(), aligned[i].size());
    misaligned.emplace_back(odd, aligned[i].size(), nullptr, nullptr);  // no copy, no free
  }
  const size_t segments = aligned.size() - 1;

  auto copied = decodeFrames(Channel::kWeights, std::move(misaligned), {});
  EXPECT_EQ(copied.copiedSegmentCount(), segments);
  auto data = expectWeightsChunk(copied.getRoot<wire::WeightsMessage>(), 5, 64 << 10);
  EXPECT_FALSE(liesInFrames(copied, data.begin(), data.size()));

  auto in_place = decodeFrames(Channel::kWeights, std::move(aligned), {});
  EXPECT_EQ(in_place.copiedSegmentCount(), 0u);
  auto data2 = expectWeightsChunk(in_place.getRoot<wire::WeightsMessage>(), 5, 64 << 10);
  EXPECT_TRUE(liesInFrames(in_place, data2.begin(), data2.size()));
}

TEST(FrameCodec, MovingAnIncomingMessageKeepsItsMemoryInPlace) {
  auto first = decodeFrames(Channel::kWeights, encodeFrames(Channel::kWeights, makeWeightsChunk(2, 100000)), {});
  const auto* before = first.getRoot<wire::WeightsMessage>().getChunk().getTensors()[0].getData().begin();
  IncomingMessage second(std::move(first));
  EXPECT_TRUE(first.isEmpty());
  IncomingMessage third;
  third = std::move(second);
  auto data = expectWeightsChunk(third.getRoot<wire::WeightsMessage>(), 2, 100000);
  EXPECT_EQ(data.begin(), before);
}

TEST(FrameCodec, EncodingWithoutARootIsABug) {
  OutgoingMessage empty;
  EXPECT_THROW(encodeFrames(Channel::kReward, std::move(empty)), InternalError);
}

// ---- rejection ------------------------------------------------------------------------------

TEST(FrameCodecRejects, EmptyMessageAndBadHeaders) {
  EXPECT_THAT(decodeError(Channel::kReward, Frames{}), HasSubstr("empty message"));
  {
    Frames f;
    f.emplace_back("GRL1", 4);
    EXPECT_THAT(decodeError(Channel::kReward, std::move(f)), HasSubstr("header frame is 4 bytes"));
  }
  {
    Frames f = encodeFrames(Channel::kReward, makeScoreRequest(1, 1));
    f[0] = zmq::message_t("XRL1\x01\x01\0\0\x01\0\0\0\0\0\0\0", 16);
    EXPECT_THAT(decodeError(Channel::kReward, std::move(f)), HasSubstr("bad magic"));
  }
  {
    Frames f = encodeFrames(Channel::kReward, makeScoreRequest(1, 1));
    f[0] = headerFrame(1, static_cast<uint32_t>(f.size() - 1), /*version=*/2);
    EXPECT_THAT(decodeError(Channel::kReward, std::move(f)), HasSubstr("wire format version 2"));
  }
  {
    Frames f = encodeFrames(Channel::kReward, makeScoreRequest(1, 1));
    f[0] = headerFrame(9, static_cast<uint32_t>(f.size() - 1));
    EXPECT_THAT(decodeError(Channel::kReward, std::move(f)), HasSubstr("unknown channel id 9"));
  }
  {
    Frames f = encodeFrames(Channel::kReward, makeScoreRequest(1, 1));
    auto* h = static_cast<unsigned char*>(f[0].data());
    h[13] = 1;
    EXPECT_THAT(decodeError(Channel::kReward, std::move(f)), HasSubstr("reserved"));
  }
}

TEST(FrameCodecRejects, WrongChannel) {
  EXPECT_THAT(decodeError(Channel::kReward, encodeFrames(Channel::kRollout, makeRolloutBatch(1, 1, 1))),
              HasSubstr("received a message of the rollout channel"));
}

TEST(FrameCodecRejects, WrongFrameAndSegmentCounts) {
  {
    Frames f = encodeFrames(Channel::kReward, makeScoreRequest(1, 1));
    f.emplace_back(f[1].data(), f[1].size());
    EXPECT_THAT(decodeError(Channel::kReward, std::move(f)), HasSubstr("announces 1 segments but the message has 2"));
  }
  {
    Frames f = rawMessage(1, {});
    EXPECT_THAT(decodeError(Channel::kReward, std::move(f)), HasSubstr("0 segments, expected 1 to 64"));
  }
  {
    std::vector<std::vector<uint64_t>> segments(5, std::vector<uint64_t>{0});
    ReceiveLimits limits;
    limits.max_segments = 4;
    EXPECT_THAT(decodeError(Channel::kReward, rawMessage(1, segments), limits),
                HasSubstr("5 segments, expected 1 to 4"));
  }
}

TEST(FrameCodecRejects, SegmentSizesThatAreNotWholeWords) {
  {
    Frames f;
    f.push_back(headerFrame(1, 1));
    f.emplace_back("123456789012", 12);
    EXPECT_THAT(decodeError(Channel::kReward, std::move(f)), HasSubstr("segment 0 is 12 bytes"));
  }
  {
    Frames f;
    f.push_back(headerFrame(1, 1));
    f.emplace_back();
    EXPECT_THAT(decodeError(Channel::kReward, std::move(f)), HasSubstr("segment 0 is 0 bytes"));
  }
}

TEST(FrameCodecRejects, MessagesAboveTheSizeLimit) {
  ReceiveLimits limits;
  limits.max_message_bytes = 32 << 10;
  EXPECT_THAT(decodeError(Channel::kWeights, encodeFrames(Channel::kWeights, makeWeightsChunk(1, 64 << 10)), limits),
              HasSubstr("above the limit of 32768 bytes"));
  // Just under the limit is fine.
  Frames ok = encodeFrames(Channel::kWeights, makeWeightsChunk(1, 16 << 10));
  EXPECT_EQ(decodeError(Channel::kWeights, std::move(ok), limits), "<accepted>");
}

TEST(FrameCodecRejects, TruncatedSegments) {
  // Root says: a struct of 1 data word and 1 pointer right after it, but the segment ends.
  EXPECT_THAT(decodeError(Channel::kReward, rawMessage(1, {{structPointer(0, 1, 1)}})),
              HasSubstr("malformed Cap'n Proto message"));
  // A real message with its last word cut off: its pointers reach past the end.
  Frames f = encodeFrames(Channel::kReward, makeScoreRequest(1, 3));
  ASSERT_EQ(f.size(), 2u);
  f[1] = zmq::message_t(f[1].data(), f[1].size() - 8);
  EXPECT_THAT(decodeError(Channel::kReward, std::move(f)), HasSubstr("out-of-bounds"));
}

TEST(FrameCodecRejects, NonStructRootFarPointersCyclesAndAmplification) {
  EXPECT_THAT(decodeError(Channel::kReward, rawMessage(1, {{bytesListPointer(0, 8), 0}})),
              HasSubstr("root pointer is not a struct"));
  EXPECT_THAT(decodeError(Channel::kReward, rawMessage(1, {{farPointer(5, 0)}})),
              HasSubstr("malformed Cap'n Proto message"));
  // A struct whose only pointer points back at the struct itself.
  EXPECT_THAT(decodeError(Channel::kReward, rawMessage(1, {{structPointer(0, 0, 1), structPointer(-1, 0, 1)}})),
              HasSubstr("malformed Cap'n Proto message"));

  // P pointers all naming the same B-word blob: a walk of P*B words from P+B+1 words on the wire.
  auto amplified = [](uint32_t p, uint32_t b) {
    std::vector<uint64_t> words{structPointer(0, 0, static_cast<uint16_t>(p))};
    for (uint32_t i = 0; i < p; ++i) words.push_back(bytesListPointer(static_cast<int32_t>(p - i - 1), b * 8));
    words.resize(words.size() + b, 0x0101010101010101ull);
    return rawMessage(1, {words});
  };
  ReceiveLimits tight;
  tight.traversal_slack_words = 1024;
  EXPECT_THAT(decodeError(Channel::kReward, amplified(256, 256), tight), HasSubstr("traversal limit"));
  EXPECT_EQ(decodeError(Channel::kReward, amplified(16, 16), tight), "<accepted>");
  EXPECT_THAT(decodeError(Channel::kReward, amplified(2048, 2048)), HasSubstr("traversal limit"));
}

TEST(FrameCodecRejects, SchemaMismatchIsReportedThroughProtocolGuard) {
  // A TrajectoryBatch sent as the root of the reward channel: structurally valid, so it decodes,
  // but RewardMessage.scoreRequest (pointer 0) is then a List(UInt64), not a struct.
  OutgoingMessage message;
  auto batch = message.initRoot<wire::TrajectoryBatch>();
  batch.setPolicyVersion(0);  // reads as RewardMessage's union tag: scoreRequest
  batch.initPromptIds(3);
  auto in = decodeFrames(Channel::kReward, encodeFrames(Channel::kReward, std::move(message)), {});
  auto root = in.getRoot<wire::RewardMessage>();
  ASSERT_TRUE(root.isScoreRequest());
  EXPECT_THROW(root.getScoreRequest(), kj::Exception);  // what the guard is for
  try {
    protocolGuard("scoreRequest", [&] { return root.getScoreRequest().getPolicyVersion(); });
    FAIL() << "expected ProtocolError";
  } catch (const ProtocolError& e) {
    EXPECT_THAT(e.what(), HasSubstr("while reading scoreRequest"));
    EXPECT_THAT(e.what(), HasSubstr("non-struct pointer"));
  }
}

}  // namespace
}  // namespace gramrl::transport
