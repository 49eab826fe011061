#include "common/transport/frame_codec.h"

#include <cstring>
#include <limits>

#include <capnp/any.h>
#include <fmt/core.h>

namespace gramrl::transport {
namespace {

constexpr unsigned char kMagic[4] = {'G', 'R', 'L', '1'};

void putU16(unsigned char* out, uint16_t v) {
  out[0] = static_cast<unsigned char>(v);
  out[1] = static_cast<unsigned char>(v >> 8);
}
void putU32(unsigned char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint16_t getU16(const unsigned char* in) { return static_cast<uint16_t>(in[0] | (in[1] << 8)); }
uint32_t getU32(const unsigned char* in) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | in[i];
  return v;
}

bool isKnownChannel(uint8_t id) { return id >= 1 && id <= 4; }

}  // namespace

std::string_view toString(Channel channel) {
  switch (channel) {
    case Channel::kReward: return "reward";
    case Channel::kRollout: return "rollout";
    case Channel::kWeights: return "weights";
    case Channel::kControl: return "control";
  }
  return "unknown";
}

namespace detail {
void throwProtocolFromKj(std::string_view what, const kj::Exception& e) {
  throw ProtocolError(
      fmt::format("malformed message while reading {}: {}", what, std::string_view(e.getDescription().cStr())));
}
}  // namespace detail

size_t answerableMessageBytes(const ReceiveLimits& limits) {
  const size_t slack = size_t{1} << 20;
  if (limits.max_message_bytes > (std::numeric_limits<size_t>::max() - slack) / 2) {
    return std::numeric_limits<size_t>::max();
  }
  return 2 * limits.max_message_bytes + slack;
}

uint64_t peekEnvelopeSeq(Channel channel, const zmq::message_t& header, const void* segment0, size_t segment0_bytes) {
  if (header.size() != kFrameHeaderBytes || segment0 == nullptr) return 0;
  const auto* h = static_cast<const unsigned char*>(header.data());
  if (std::memcmp(h, kMagic, 4) != 0 || h[4] != kWireFormatVersion || h[5] != static_cast<unsigned char>(channel)) {
    return 0;
  }
  const size_t words = segment0_bytes / sizeof(uint64_t);
  auto wordAt = [&](size_t i) {
    uint64_t w = 0;
    std::memcpy(&w, static_cast<const unsigned char*>(segment0) + i * sizeof(uint64_t), sizeof(w));
    return w;  // capnp is little-endian, as are the hosts gramrl builds for
  };
  if (words < 2) return 0;
  // The root pointer (word 0): a struct pointer, kind 0 in the low two bits, a signed 30-bit
  // word offset from the end of the pointer, then the data section's size in words.
  const uint64_t root = wordAt(0);
  if ((root & 3) != 0) return 0;
  const int64_t offset = static_cast<int32_t>(static_cast<uint32_t>(root)) >> 2;
  const uint64_t data_words = (root >> 32) & 0xFFFF;
  if (data_words == 0 || offset < 0) return 0;
  const uint64_t at = 1 + static_cast<uint64_t>(offset);
  if (at >= words) return 0;
  return wordAt(at);
}

// ---- OutgoingMessage ------------------------------------------------------------------------

OutgoingMessage::OutgoingMessage() : builder_(std::make_unique<capnp::MallocMessageBuilder>()) {}

OutgoingMessage::OutgoingMessage(unsigned first_segment_words)
    : builder_(std::make_unique<capnp::MallocMessageBuilder>(first_segment_words)) {}

OutgoingMessage::~OutgoingMessage() = default;

capnp::MallocMessageBuilder& OutgoingMessage::builder() {
  GRAMRL_ASSERT(builder_ != nullptr, "OutgoingMessage used after it was encoded or moved from");
  return *builder_;
}

void OutgoingMessage::keepAlive(std::shared_ptr<const void> owner) { keep_alive_.push_back(std::move(owner)); }

size_t OutgoingMessage::byteSize() {
  size_t bytes = 0;
  for (auto segment : builder().getSegmentsForOutput()) bytes += segment.size() * sizeof(capnp::word);
  return bytes;
}

// ---- EncodedMessage -------------------------------------------------------------------------

// Owns the builder's memory for as long as any frame refers to it. Immutable once built.
struct EncodedMessage::Shared {
  std::unique_ptr<capnp::MallocMessageBuilder> builder;
  std::vector<std::shared_ptr<const void>> keep_alive;
  kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments;
  unsigned char header[kFrameHeaderBytes];
  size_t byte_size = 0;
};

EncodedMessage::EncodedMessage(Channel channel, OutgoingMessage&& message) : channel_(channel) {
  GRAMRL_ASSERT(message.builder_ != nullptr, "encoding an OutgoingMessage that was already encoded");
  GRAMRL_ASSERT(!message.builder_->getRoot<capnp::AnyPointer>().isNull(),
                "encoding an OutgoingMessage with no root (call initRoot first)");
  auto shared = std::make_shared<Shared>();
  shared->builder = std::move(message.builder_);
  shared->keep_alive = std::move(message.keep_alive_);
  shared->segments = shared->builder->getSegmentsForOutput();
  GRAMRL_ASSERT(shared->segments.size() > 0 && shared->segments.size() <= UINT32_MAX, "capnp produced {} segments",
                shared->segments.size());
  std::memcpy(shared->header, kMagic, 4);
  shared->header[4] = kWireFormatVersion;
  shared->header[5] = static_cast<unsigned char>(channel);
  putU16(shared->header + 6, 0);
  putU32(shared->header + 8, static_cast<uint32_t>(shared->segments.size()));
  putU32(shared->header + 12, 0);
  shared->byte_size = kFrameHeaderBytes;
  for (auto segment : shared->segments) shared->byte_size += segment.size() * sizeof(capnp::word);
  shared_ = std::move(shared);
}

size_t EncodedMessage::segmentCount() const { return shared_->segments.size(); }
size_t EncodedMessage::byteSize() const { return shared_->byte_size; }

Frames EncodedMessage::frames() const {
  Frames frames;
  frames.reserve(1 + shared_->segments.size());
  frames.emplace_back(shared_->header, kFrameHeaderBytes);
  for (auto segment : shared_->segments) {
    const size_t bytes = segment.size() * sizeof(capnp::word);
    if (bytes < kCopySegmentBelowBytes) {
      frames.emplace_back(segment.begin(), bytes);
      continue;
    }
    // Zero-copy: the frame points at the builder's segment; each frame holds one reference to
    // the shared state, dropped by libzmq (possibly on its I/O thread) when it is done.
    auto* hint = new std::shared_ptr<const Shared>(shared_);
    auto release = [](void*, void* h) { delete static_cast<std::shared_ptr<const Shared>*>(h); };
    try {
      frames.emplace_back(const_cast<capnp::word*>(segment.begin()), bytes, release, hint);
    } catch (...) {
      delete hint;
      throw;
    }
  }
  return frames;
}

Frames encodeFrames(Channel channel, OutgoingMessage&& message) {
  return EncodedMessage(channel, std::move(message)).frames();
}

// ---- IncomingMessage ------------------------------------------------------------------------

IncomingMessage::IncomingMessage() = default;
IncomingMessage::~IncomingMessage() { reset(); }

IncomingMessage::IncomingMessage(IncomingMessage&& other) noexcept { *this = std::move(other); }

IncomingMessage& IncomingMessage::operator=(IncomingMessage&& other) noexcept {
  if (this != &other) {
    reset();
    // The reader points at frames_' payloads and segments_; moving the vectors and arrays keeps
    // their heap buffers (and so every pointer) where they are.
    channel_ = other.channel_;
    byte_size_ = std::exchange(other.byte_size_, 0);
    frames_ = std::move(other.frames_);
    segments_ = std::move(other.segments_);
    copies_ = std::move(other.copies_);
    reader_ = std::move(other.reader_);
  }
  return *this;
}

void IncomingMessage::reset() noexcept {
  reader_.reset();  // before the memory it reads
  copies_.clear();
  segments_ = nullptr;
  frames_.clear();
  byte_size_ = 0;
}

// ---- decodeFrames ---------------------------------------------------------------------------

IncomingMessage decodeFrames(Channel expected, Frames&& frames, const ReceiveLimits& limits) {
  const std::string_view want = toString(expected);
  GRAMRL_CHECK(!frames.empty(), ProtocolError, "empty message on the {} channel", want);
  const zmq::message_t& header_frame = frames[0];
  GRAMRL_CHECK(header_frame.size() == kFrameHeaderBytes, ProtocolError,
               "{} channel: header frame is {} bytes, expected {} (not a gramrl message?)", want, header_frame.size(),
               kFrameHeaderBytes);
  const auto* h = static_cast<const unsigned char*>(header_frame.data());
  GRAMRL_CHECK(std::memcmp(h, kMagic, 4) == 0, ProtocolError,
               "{} channel: bad magic {:02x} {:02x} {:02x} {:02x}, expected 'GRL1' (not a gramrl message)", want, h[0],
               h[1], h[2], h[3]);
  GRAMRL_CHECK(h[4] == kWireFormatVersion, ProtocolError,
               "{} channel: wire format version {}, this build speaks version {}", want, h[4], kWireFormatVersion);
  GRAMRL_CHECK(isKnownChannel(h[5]), ProtocolError, "{} channel: unknown channel id {}", want, h[5]);
  GRAMRL_CHECK(h[5] == static_cast<uint8_t>(expected), ProtocolError,
               "{} channel: received a message of the {} channel (id {}); is an endpoint misconfigured?", want,
               toString(static_cast<Channel>(h[5])), h[5]);
  GRAMRL_CHECK(getU16(h + 6) == 0 && getU32(h + 12) == 0, ProtocolError,
               "{} channel: reserved header fields are {} and {}, expected 0", want, getU16(h + 6), getU32(h + 12));
  const uint32_t segment_count = getU32(h + 8);
  GRAMRL_CHECK(segment_count >= 1 && segment_count <= limits.max_segments, ProtocolError,
               "{} channel: {} segments, expected 1 to {}", want, segment_count, limits.max_segments);
  GRAMRL_CHECK(frames.size() == size_t{1} + segment_count, ProtocolError,
               "{} channel: header announces {} segments but the message has {} frames after it", want, segment_count,
               frames.size() - 1);

  size_t total = kFrameHeaderBytes;
  for (size_t i = 1; i < frames.size(); ++i) {
    const size_t size = frames[i].size();
    GRAMRL_CHECK(size > 0 && size % sizeof(capnp::word) == 0, ProtocolError,
                 "{} channel: segment {} is {} bytes, expected a non-zero multiple of 8", want, i - 1, size);
    total += size;
  }
  GRAMRL_CHECK(total <= limits.max_message_bytes, ProtocolError,
               "{} channel: message is {} bytes, above the limit of {} bytes", want, total, limits.max_message_bytes);

  IncomingMessage message;
  message.channel_ = expected;
  message.byte_size_ = total;
  message.frames_ = std::move(frames);
  message.segments_ = kj::heapArray<kj::ArrayPtr<const capnp::word>>(segment_count);
  for (uint32_t i = 0; i < segment_count; ++i) {
    const zmq::message_t& frame = message.frames_[i + 1];
    const size_t words = frame.size() / sizeof(capnp::word);
    if (reinterpret_cast<uintptr_t>(frame.data()) % alignof(capnp::word) == 0) {
      message.segments_[i] = kj::arrayPtr(static_cast<const capnp::word*>(frame.data()), words);
    } else {
      auto copy = kj::heapArray<capnp::word>(words);
      std::memcpy(copy.begin(), frame.data(), frame.size());
      message.segments_[i] = copy.asPtr();
      message.copies_.push_back(std::move(copy));
    }
  }

  const uint64_t total_words = (total - kFrameHeaderBytes) / sizeof(capnp::word);
  capnp::ReaderOptions options;
  options.traversalLimitInWords = limits.traversal_multiplier * total_words + limits.traversal_slack_words;
  message.reader_ = std::make_unique<capnp::SegmentArrayMessageReader>(message.segments_.asPtr(), options);
  try {
    auto root = message.reader_->getRoot<capnp::AnyPointer>();
    GRAMRL_CHECK(root.isStruct(), ProtocolError,
                 "{} channel: the root pointer is not a struct ({} bytes in {} segments)", want, total, segment_count);
    root.targetSize();  // walks every pointer once; throws on anything out of bounds
  } catch (const kj::Exception& e) {
    throw ProtocolError(fmt::format("{} channel: malformed Cap'n Proto message ({} bytes in {} segments): {}", want,
                                    total, segment_count, std::string_view(e.getDescription().cStr())));
  }
  return message;
}

}  // namespace gramrl::transport
