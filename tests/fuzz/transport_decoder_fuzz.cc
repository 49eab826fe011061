// libFuzzer target: transport::decodeFrames (NOTE [Decoding untrusted messages]) on every
// channel, then a read of every field of the channel's envelope through capnp's dynamic API,
// under protocolGuard. Input layout: NOTE [Fuzz input layout]; (mode / 3) % 4 picks the channel.
// Outcomes allowed: decoded and read, or ProtocolError. Anything else escaping is a crash.
#include <cstdint>
#include <utility>

#include <capnp/dynamic.h>

#include "common/core/errors.h"
#include "common/transport/frame_codec.h"
#include "schemas/control.capnp.h"
#include "schemas/reward.capnp.h"
#include "schemas/rollout.capnp.h"
#include "schemas/weights.capnp.h"
#include "tests/fuzz/fuzz_input.h"

namespace gramrl::fuzz {
namespace {

uint64_t walk(const capnp::DynamicValue::Reader& value, int depth);

uint64_t walkStruct(const capnp::DynamicStruct::Reader& s, int depth) {
  uint64_t acc = 0;
  for (auto field : s.getSchema().getFields()) {
    if (!s.has(field)) continue;
    acc += walk(s.get(field), depth + 1);
  }
  return acc;
}

uint64_t walk(const capnp::DynamicValue::Reader& value, int depth) {
  if (depth > 32) return 0;  // decodeFrames' nesting limit is far below the fuzzer's reach
  switch (value.getType()) {
    case capnp::DynamicValue::BOOL: return value.as<bool>();
    case capnp::DynamicValue::INT: return static_cast<uint64_t>(value.as<int64_t>());
    case capnp::DynamicValue::UINT: return value.as<uint64_t>();
    case capnp::DynamicValue::FLOAT: return value.as<double>() != 0;
    case capnp::DynamicValue::TEXT: return value.as<capnp::Text>().size();
    case capnp::DynamicValue::DATA: {
      auto data = value.as<capnp::Data>();
      return data.size() == 0 ? 0 : data[data.size() - 1];
    }
    case capnp::DynamicValue::LIST: {
      uint64_t acc = 0;
      for (auto element : value.as<capnp::DynamicList>()) acc += walk(element, depth + 1);
      return acc;
    }
    case capnp::DynamicValue::ENUM: return value.as<capnp::DynamicEnum>().getRaw();
    case capnp::DynamicValue::STRUCT: return walkStruct(value.as<capnp::DynamicStruct>(), depth);
    default: return 0;
  }
}

template <class Envelope>
uint64_t readAll(const transport::IncomingMessage& message) {
  return transport::protocolGuard("fuzzed fields",
                                  [&] { return walkStruct(capnp::toDynamic(message.getRoot<Envelope>()), 0); });
}

volatile uint64_t sink;

void fuzzOne(const uint8_t* data, size_t size) {
  auto input = splitInput(data, size);
  transport::ReceiveLimits limits;
  limits.max_message_bytes = size_t{1} << 20;
  limits.max_segments = 16;
  try {
    auto message = transport::decodeFrames(input.channel, std::move(input.frames), limits);
    switch (message.channel()) {
      case transport::Channel::kReward: sink = readAll<wire::RewardMessage>(message); break;
      case transport::Channel::kRollout: sink = readAll<wire::RolloutMessage>(message); break;
      case transport::Channel::kWeights: sink = readAll<wire::WeightsMessage>(message); break;
      case transport::Channel::kControl: sink = readAll<wire::ControlMessage>(message); break;
    }
  } catch (const ProtocolError&) {
    // rejected, or structurally valid but not the channel's schema: both fine
  }
}

}  // namespace
}  // namespace gramrl::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gramrl::fuzz::fuzzOne(data, size);
  return 0;
}
