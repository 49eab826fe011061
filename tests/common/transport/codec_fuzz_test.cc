// Seeded fuzzing of decodeFrames: random frames and mutations of valid messages must either
// decode (and then read without crashing, through protocolGuard) or throw ProtocolError.
// Nothing else may escape, and nothing may crash. Reproduce a failure with GRAMRL_TEST_SEED.
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/transport/frame_codec.h"
#include "tests/common/transport/test_messages.h"
#include "tests/common/transport/test_util.h"

namespace gramrl::transport {
namespace {

using namespace gramrl::transport::testing;

constexpr int kIterations = 20000;

// Reads every field a consumer of the channel would read. Returns a value so nothing is
// optimised away.
uint64_t readEverything(const IncomingMessage& message) {
  return protocolGuard("fuzzed fields", [&]() -> uint64_t {
    uint64_t acc = 0;
    switch (message.channel()) {
      case Channel::kReward: {
        auto root = message.getRoot<wire::RewardMessage>();
        acc += root.getSeq();
        if (root.isScoreRequest()) {
          auto request = root.getScoreRequest();
          if (request.isPointwise()) {
            for (auto item : request.getPointwise()) acc += item.getPrompt().size() + item.getResponse().size();
          }
        } else if (root.isScoreReply()) {
          for (float s : root.getScoreReply().getScores()) acc += static_cast<uint64_t>(s != 0);
        } else if (root.isError()) {
          acc += root.getError().getMessage().size();
        }
        break;
      }
      case Channel::kRollout: {
        auto root = message.getRoot<wire::RolloutMessage>();
        if (root.isBatch()) {
          auto batch = root.getBatch();
          for (int32_t t : batch.getTokens()) acc += static_cast<uint32_t>(t);
          acc += batch.getBehaviourLogprobs().size() + batch.getRewards().size();
        }
        break;
      }
      case Channel::kWeights: {
        auto root = message.getRoot<wire::WeightsMessage>();
        if (root.isChunk()) {
          for (auto tensor : root.getChunk().getTensors()) {
            acc += tensor.getName().size() + tensor.getShape().size();
            auto data = tensor.getData();
            if (data.size() > 0) acc += data[data.size() - 1];
          }
        }
        break;
      }
      case Channel::kControl: {
        auto root = message.getRoot<wire::ControlMessage>();
        acc += root.getSender().getHost().size();
        if (root.isRegister()) {
          for (auto e : root.getRegister().getEndpoints()) acc += e.getAddress().size() + e.getName().size();
        }
        break;
      }
    }
    return acc;
  });
}

struct Outcome {
  int accepted = 0;
  int rejected = 0;
};

// Decodes and reads; fails the test on anything but success or ProtocolError.
void decodeAndRead(Channel channel, Frames frames, const ReceiveLimits& limits, Outcome& outcome, uint64_t seed,
                   int iteration) {
  try {
    IncomingMessage message = decodeFrames(channel, std::move(frames), limits);
    try {
      readEverything(message);
    } catch (const ProtocolError&) {
      // structurally valid but not the channel's schema: fine
    }
    ++outcome.accepted;
  } catch (const ProtocolError&) {
    ++outcome.rejected;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "seed " << seed << " iteration " << iteration << ": unexpected exception: " << e.what();
  } catch (...) {
    ADD_FAILURE() << "seed " << seed << " iteration " << iteration << ": unexpected non-std exception";
  }
}

// A frame holding `bytes`, sometimes at an odd address (as small tcp/ipc frames arrive).
zmq::message_t makeFrame(const std::vector<unsigned char>& bytes, bool misalign,
                         std::vector<std::unique_ptr<unsigned char[]>>& storage) {
  if (!misalign || bytes.empty()) return zmq::message_t(bytes.data(), bytes.size());
  storage.emplace_back(new unsigned char[bytes.size() + 8]);
  unsigned char* odd = storage.back().get() + 1 + (bytes.size() % 7);
  std::memcpy(odd, bytes.data(), bytes.size());
  return zmq::message_t(odd, bytes.size(), nullptr, nullptr);
}

TEST(CodecFuzz, RandomFramesAreRejectedOrDecodedNeverCrash) {
  const uint64_t seed = testSeed();
  std::mt19937_64 rng(seed);
  ReceiveLimits limits;
  limits.max_message_bytes = 1 << 16;
  Outcome outcome;
  for (int it = 0; it < kIterations; ++it) {
    std::vector<std::unique_ptr<unsigned char[]>> storage;
    const auto channel = static_cast<Channel>(1 + rng() % 4);
    // Half the time a valid header and a plausible root, so the fuzzing reaches capnp's
    // pointer validation instead of stopping at the header checks.
    const bool plausible = rng() % 2 == 0;
    const size_t segments = plausible ? 1 + rng() % 3 : rng() % 4;
    Frames frames;
    std::vector<unsigned char> header(16);
    for (auto& b : header) b = static_cast<unsigned char>(rng());
    if (plausible) {
      std::memcpy(header.data(), "GRL1", 4);
      header[4] = 1;
      header[5] = static_cast<unsigned char>(rng() % 8 == 0 ? rng() % 6 : static_cast<uint8_t>(channel));
      std::memset(header.data() + 6, 0, 10);
      header[8] = static_cast<unsigned char>(rng() % 8 == 0 ? rng() % 70 : segments);
      if (rng() % 8 == 0) header.resize(rng() % 20);
    }
    frames.push_back(makeFrame(header, false, storage));
    for (size_t s = 0; s < segments; ++s) {
      size_t words = rng() % 64;
      std::vector<unsigned char> body(words * 8 + (rng() % 16 == 0 ? rng() % 8 : 0));
      for (auto& b : body) b = static_cast<unsigned char>(rng());
      // Bias some words toward small, plausible pointers so the walk goes deeper.
      for (size_t w = 0; w + 8 <= body.size(); w += 8) {
        if (rng() % 3 == 0) {
          uint64_t p =
              (rng() % 4) | ((rng() % 32) << 2) | ((rng() % 8) << 32) | ((rng() % 16) << 35) | ((rng() % 4) << 48);
          std::memcpy(body.data() + w, &p, 8);
        }
      }
      if (plausible && s == 0 && body.size() >= 8) {
        const uint64_t root = ((rng() % 4) << 2) | ((rng() % 3) << 32) | ((rng() % 4) << 48);  // a struct
        std::memcpy(body.data(), &root, 8);
      }
      frames.push_back(makeFrame(body, rng() % 2 == 0, storage));
    }
    decodeAndRead(channel, std::move(frames), limits, outcome, seed, it);
    if (::testing::Test::HasFailure()) break;
  }
  std::cout << "[ fuzz     ] random frames: " << outcome.accepted << " accepted, " << outcome.rejected << " rejected"
            << std::endl;
  EXPECT_GT(outcome.rejected, 0);
}

TEST(CodecFuzz, MutationsOfValidMessagesAreRejectedOrDecodedNeverCrash) {
  const uint64_t seed = testSeed();
  std::mt19937_64 rng(seed);

  // Valid originals for every channel, some of them multi-segment (a tiny first segment).
  struct Original {
    Channel channel;
    std::vector<std::vector<unsigned char>> frames;
  };
  std::vector<Original> originals;
  auto keep = [&](Channel channel, OutgoingMessage message) {
    Frames frames = encodeFrames(channel, std::move(message));
    Original o{channel, {}};
    for (const auto& f : frames) {
      const auto* p = static_cast<const unsigned char*>(f.data());
      o.frames.emplace_back(p, p + f.size());
    }
    originals.push_back(std::move(o));
  };
  keep(Channel::kReward, makeScoreRequest(1, 6));
  keep(Channel::kReward, makeScoreReply(2, 8));
  keep(Channel::kReward, makeErrorReply(3, wire::ErrorCode::OVERLOADED, "queue full"));
  keep(Channel::kRollout, makeRolloutBatch(4, 3, 20));
  keep(Channel::kWeights, makeWeightsChunk(5, 2048));
  keep(Channel::kControl, makeRegister(6));
  {
    OutgoingMessage small(4);  // 4-word segments: many segments and far pointers
    auto root = small.initRoot<wire::ControlMessage>();
    root.initSender().setHost("a-rather-long-host-name.cluster.example");
    auto endpoints = root.initRegister().initEndpoints(3);
    for (unsigned i = 0; i < 3; ++i) endpoints[i].setAddress("tcp://10.1.2.3:5555");
    keep(Channel::kControl, std::move(small));
  }
  for (const auto& o : originals) ASSERT_LE(o.frames.size(), 64u);
  ASSERT_GT(originals.back().frames.size(), 3u) << "expected a multi-segment message";

  ReceiveLimits limits;
  Outcome outcome;
  for (int it = 0; it < kIterations; ++it) {
    const Original& o = originals[rng() % originals.size()];
    auto frames_bytes = o.frames;
    const int mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations; ++m) {
      const size_t fi = frames_bytes.size() > 1 ? 1 + rng() % (frames_bytes.size() - 1) : 0;
      auto& bytes = frames_bytes[rng() % 8 == 0 ? 0 : fi];
      switch (rng() % 6) {
        case 0:
        case 1:  // flip random bits
          if (!bytes.empty()) bytes[rng() % bytes.size()] ^= static_cast<unsigned char>(1u << (rng() % 8));
          break;
        case 2:  // overwrite a word with a random value
          if (bytes.size() >= 8) {
            uint64_t v = rng();
            std::memcpy(bytes.data() + 8 * (rng() % (bytes.size() / 8)), &v, 8);
          }
          break;
        case 3:  // truncate (whole words or not)
          if (!bytes.empty()) {
            const size_t n = bytes.size();
            bytes.resize(rng() % 2 && n >= 8 ? (n / 8) * 8 - 8 * (rng() % 2) : rng() % n);
          }
          break;
        case 4:  // drop or duplicate a frame
          if (rng() % 2 && frames_bytes.size() > 1) {
            frames_bytes.erase(frames_bytes.begin() + static_cast<long>(fi));
          } else {
            frames_bytes.push_back(frames_bytes[fi]);
          }
          m = mutations;  // `bytes` may dangle now
          break;
        case 5:  // swap two segments
          if (frames_bytes.size() > 2) std::swap(frames_bytes[1], frames_bytes[1 + rng() % (frames_bytes.size() - 1)]);
          break;
      }
    }
    std::vector<std::unique_ptr<unsigned char[]>> storage;
    Frames frames;
    for (const auto& bytes : frames_bytes) frames.push_back(makeFrame(bytes, rng() % 3 == 0, storage));
    decodeAndRead(o.channel, std::move(frames), limits, outcome, seed, it);
    if (::testing::Test::HasFailure()) break;
  }
  std::cout << "[ fuzz     ] mutations: " << outcome.accepted << " accepted, " << outcome.rejected << " rejected"
            << std::endl;
  EXPECT_GT(outcome.accepted, 0);
  EXPECT_GT(outcome.rejected, 0);
}

}  // namespace
}  // namespace gramrl::transport
