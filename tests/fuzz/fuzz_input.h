// The byte layout the gramrl fuzzers read, shared with the seed-corpus generator.
//
// NOTE [Fuzz input layout]
// libFuzzer hands a fuzz target one flat byte string; a gramrl message is several ZeroMQ frames.
// The first byte picks how the rest becomes frames:
//   mode % 3 == 0  the rest is one frame (a lone header, or garbage)
//   mode % 3 == 1  framed: n = 1 + (byte % 16) frames; then n - 1 little-endian u16 lengths;
//                  then the bytes, frame i taking its length (clamped to what is left) and the
//                  last frame the remainder. Seeds use this for [header][segments...].
//   mode % 3 == 2  as 1, but a valid header (magic, version, `channel`, segment count n) is put
//                  in front, so that mutations land in the Cap'n Proto segments.
// (mode / 3) % 4 picks the channel for the transport fuzzer; the reward fuzzer ignores it.
// Frames are copied into zmq::message_t: tiny ones live inside the message object at odd
// offsets, so both the in-place and the copying segment paths of decodeFrames are reached.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/transport/frame_codec.h"

namespace gramrl::fuzz {

enum class Mode : uint8_t { kOneFrame = 0, kFramed = 1, kSegmentsOnly = 2 };

struct FuzzInput {
  transport::Channel channel = transport::Channel::kReward;
  transport::Frames frames;
};

inline transport::Channel channelOf(uint8_t mode) { return static_cast<transport::Channel>(1 + (mode / 3) % 4); }

inline FuzzInput splitInput(const uint8_t* data, size_t size) {
  FuzzInput in;
  if (size == 0) return in;
  const uint8_t mode = data[0];
  in.channel = channelOf(mode);
  ++data;
  --size;
  if (mode % 3 == 0) {
    in.frames.emplace_back(data, size);
    return in;
  }
  if (size == 0) return in;
  const size_t n = 1 + data[0] % 16;
  ++data;
  --size;
  std::vector<size_t> lengths;
  for (size_t i = 0; i + 1 < n; ++i) {
    size_t len = 0;
    if (size >= 2) {
      len = data[0] | (size_t{data[1]} << 8);
      data += 2;
      size -= 2;
    }
    lengths.push_back(len);
  }
  if (mode % 3 == 2) {
    uint8_t header[transport::kFrameHeaderBytes] = {
        'G', 'R', 'L', '1', transport::kWireFormatVersion, static_cast<uint8_t>(in.channel)};
    header[8] = static_cast<uint8_t>(n);
    in.frames.emplace_back(header, sizeof(header));
  }
  for (size_t len : lengths) {
    len = std::min(len, size);
    in.frames.emplace_back(data, len);
    data += len;
    size -= len;
  }
  in.frames.emplace_back(data, size);
  return in;
}

// The inverse for the seed generator: frames -> a kFramed input (frame lengths below 64 KiB).
inline std::string joinFrames(uint8_t mode, const std::vector<std::string>& frames) {
  std::string out;
  out.push_back(static_cast<char>(mode));
  out.push_back(static_cast<char>(frames.size() - 1));
  for (size_t i = 0; i + 1 < frames.size(); ++i) {
    out.push_back(static_cast<char>(frames[i].size() & 0xff));
    out.push_back(static_cast<char>(frames[i].size() >> 8));
  }
  for (const auto& f : frames) out += f;
  return out;
}

}  // namespace gramrl::fuzz
