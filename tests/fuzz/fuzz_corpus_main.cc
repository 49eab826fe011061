// Writes the fuzzers' seed corpus: valid messages of every reward kind (and one of each other
// channel) in the layout of NOTE [Fuzz input layout], one file each, named by content.
// Usage: fuzz_corpus DIR. Run by scripts/fuzz.sh, so the seeds follow the schemas as they change.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "reward/service/reward_codec.h"
#include "schemas/control.capnp.h"
#include "schemas/rollout.capnp.h"
#include "schemas/weights.capnp.h"
#include "tests/fuzz/fuzz_input.h"

namespace gramrl::fuzz {
namespace {

using transport::Channel;
using transport::OutgoingMessage;

std::vector<std::string> frameBytes(Channel channel, OutgoingMessage&& message) {
  std::vector<std::string> out;
  for (const auto& f : transport::encodeFrames(channel, std::move(message))) {
    out.emplace_back(static_cast<const char*>(f.data()), f.size());
  }
  return out;
}

// The channel's mode byte for layout `mode` (NOTE [Fuzz input layout]).
uint8_t modeByte(Mode mode, Channel channel) {
  return static_cast<uint8_t>(static_cast<uint8_t>(mode) + 3 * (static_cast<uint8_t>(channel) - 1));
}

class Writer {
 public:
  explicit Writer(std::filesystem::path dir) : dir_(std::move(dir)) { std::filesystem::create_directories(dir_); }

  void add(const std::string& name, Channel channel, OutgoingMessage&& message) {
    auto frames = frameBytes(channel, std::move(message));
    write(name + ".framed", joinFrames(modeByte(Mode::kFramed, channel), frames));
    // Without the header frame: the fuzzer puts a valid one in front.
    std::vector<std::string> segments(frames.begin() + 1, frames.end());
    write(name + ".segments", joinFrames(modeByte(Mode::kSegmentsOnly, channel), segments));
  }
  int count() const { return count_; }

 private:
  void write(const std::string& name, const std::string& bytes) {
    std::ofstream out(dir_ / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", (dir_ / name).string()));
    ++count_;
  }
  std::filesystem::path dir_;
  int count_ = 0;
};

OutgoingMessage request(uint64_t seq, const reward::ScoreRequest& r, unsigned first_segment_words = 0) {
  OutgoingMessage message = first_segment_words ? OutgoingMessage(first_segment_words) : OutgoingMessage();
  auto root = message.initRoot<wire::RewardMessage>();
  root.setSeq(seq);
  reward::fillScoreRequest(root, r);
  return message;
}

void writeCorpus(Writer& w) {
  reward::ScoreRequest pointwise;
  pointwise.policy_version = 3;
  pointwise.deadline_unix_ms = 1700000000000;
  pointwise.pointwise = {{"What is 2+2?", "4", "four", "4"}, {"caf\xC3\xA9", "\xE6\x97\xA5\xE6\x9C\xAC", "", ""}};
  w.add("pointwise", Channel::kReward, request(1, pointwise));
  w.add("pointwise_multiseg", Channel::kReward, request(2, pointwise, 4));  // far pointers

  reward::ScoreRequest pairwise;
  pairwise.kind = reward::RequestKind::kPairwise;
  pairwise.pairwise = {{"sort [2,1]", "[1,2]", "[2,1]"}, {"q", "a", "b"}};
  w.add("pairwise", Channel::kReward, request(3, pairwise));

  reward::ScoreRequest best;
  best.kind = reward::RequestKind::kBestOfN;
  best.best_of_n = {{"pick one", {"x", "yy", "zzz"}}, {"p", {"\xF0\x9F\x98\x80"}}};
  w.add("best_of_n", Channel::kReward, request(4, best));

  w.add("empty_request", Channel::kReward, request(5, reward::ScoreRequest{}));
  {
    OutgoingMessage ping;
    auto root = ping.initRoot<wire::RewardMessage>();
    root.setSeq(6);
    root.setPing();
    w.add("ping", Channel::kReward, std::move(ping));
  }
  w.add("pong", Channel::kReward, reward::encodePong(7));
  w.add("score_reply", Channel::kReward, reward::encodeScoreReply(8, "rule", {0.5, -1, 2}, {1}, 3.5f));
  w.add("error_reply", Channel::kReward, reward::encodeErrorReply(9, wire::ErrorCode::OVERLOADED, "queue full", 100));

  {
    OutgoingMessage m;
    auto root = m.initRoot<wire::ControlMessage>();
    root.setSeq(10);
    root.initSender().setHost("node-1");
    auto endpoints = root.initRegister().initEndpoints(1);
    endpoints[0].setName("reward");
    endpoints[0].setAddress("tcp://10.0.0.1:5555");
    w.add("control_register", Channel::kControl, std::move(m));
  }
  {
    OutgoingMessage m;
    auto batch = m.initRoot<wire::RolloutMessage>().initBatch();
    batch.initTokens(8);
    batch.initRewards(2);
    w.add("rollout_batch", Channel::kRollout, std::move(m));
  }
  {
    OutgoingMessage m;
    auto tensor = m.initRoot<wire::WeightsMessage>().initChunk().initTensors(1)[0];
    tensor.setName("w");
    tensor.initShape(1).set(0, 16);
    tensor.initData(16);
    w.add("weights_chunk", Channel::kWeights, std::move(m));
  }
}

}  // namespace
}  // namespace gramrl::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    gramrl::fuzz::Writer writer(argv[1]);
    gramrl::fuzz::writeCorpus(writer);
    std::printf("fuzz_corpus: wrote %d seeds to %s\n", writer.count(), argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
