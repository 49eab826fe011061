// The gramrl wire format: one Cap'n Proto message per ZeroMQ multipart message.
//
// NOTE [Wire format]
// A logical message is one multipart message: [header][segment 0][segment 1]...
// The 16-byte header is
//   bytes 0-3   magic 'G' 'R' 'L' '1'
//   byte  4     format version (kWireFormatVersion = 1)
//   byte  5     channel id (Channel)
//   bytes 6-7   reserved, 0 (u16 little-endian)
//   bytes 8-11  segment count (u32 little-endian)
//   bytes 12-15 reserved, 0 (u32 little-endian)
// (receivers reject anything else: a new layout gets a new format version)
// and each following frame is one Cap'n Proto segment, sent as it lies in the builder's memory
// (no flattening copy). The receiver reads each segment in place when the frame's bytes are
// 8-byte aligned, and copies it otherwise: libzmq hands small tcp/ipc frames (< ~8 KiB) out of
// a shared receive buffer at arbitrary offsets, and capnp 0.9 rejects unaligned segments
// (dependencies.md §3). Large payloads (tensors, token arrays) therefore stay zero-copy.
//
// NOTE [Decoding untrusted messages]
// decodeFrames checks everything before capnp looks at the bytes (header, frame count, segment
// sizes, total size), then walks the whole message once, so that out-of-bounds pointers,
// pointer loops and over-deep nesting are found at once and reported as ProtocolError. The walk
// runs under a traversal limit sized from the message (ReceiveLimits), which also bounds what
// the caller's reads may traverse: read each large field once and keep the reader, because
// capnp charges every get of a pointer field again. A message can still be structurally valid
// but not match the schema the caller expects (a list where a struct should be); capnp then
// throws lazily while the caller reads fields, so reads of peer data go through
// protocolGuard(), which turns capnp's kj::Exception into ProtocolError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include <capnp/message.h>
#include <capnp/orphan.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <zmq.hpp>

#include "common/core/errors.h"
#include "common/transport/socket.h"

namespace gramrl::transport {

// Which envelope a message carries: RewardMessage, RolloutMessage, WeightsMessage or
// ControlMessage (schemas/*.capnp).
enum class Channel : uint8_t { kReward = 1, kRollout = 2, kWeights = 3, kControl = 4 };
std::string_view toString(Channel channel);

inline constexpr size_t kFrameHeaderBytes = 16;
inline constexpr uint8_t kWireFormatVersion = 1;
// Segments smaller than this are copied into their frame; larger ones are sent zero-copy.
inline constexpr size_t kCopySegmentBelowBytes = 1024;

// What a receiver accepts. Named like the YAML keys that will configure them.
struct ReceiveLimits {
  // Header plus all segments. Larger messages are rejected with ProtocolError.
  size_t max_message_bytes = size_t{64} << 20;
  size_t max_segments = 64;
  // capnp traversal limit = traversal_multiplier * message words + traversal_slack_words
  // (see NOTE [Decoding untrusted messages]). The walk uses about one multiple; the rest is
  // for the caller's reads. The slack (8 MiB of traversal) keeps small messages read in loops
  // from hitting the limit.
  uint64_t traversal_multiplier = 4;
  uint64_t traversal_slack_words = uint64_t{1} << 20;
};

// NOTE [Oversize messages are answered]
// libzmq's ZMQ_MAXMSGSIZE (SocketOptions::max_message_bytes) drops the connection of a peer that
// sends a larger frame, inside libzmq: the receiver never sees the message and cannot answer, so
// the sender waits out its timeout and every retry (issue 15). A receiving MessageSocket
// therefore never sets libzmq's cap below answerableMessageBytes(limits), twice what its
// ReceiveLimits accept plus 1 MiB: a message up to that size is received, rejected by recv()
// (Received::is_too_large) and answered by the server with an error reply that carries the
// request's seq when it can be read (peekEnvelopeSeq), so the client ends its call at once. The
// cap stays: beyond it libzmq still drops the connection, which bounds what one peer can make
// the receiver allocate. A client that knows the server's limits refuses a larger request
// before sending it (reward_client.h).
size_t answerableMessageBytes(const ReceiveLimits& limits);

// The `seq @0 :UInt64` of a message's envelope (every gramrl envelope starts with it) read from
// the header frame and the first bytes of segment 0, without decoding or trusting the rest: 0
// when the header is not a gramrl header of `channel` or the root pointer does not lead to a
// data word inside `segment0`. For labelling the error reply to a message that failed
// validation (NOTE [Oversize messages are answered]); never for anything else.
uint64_t peekEnvelopeSeq(Channel channel, const zmq::message_t& header, const void* segment0, size_t segment0_bytes);

// Runs `read` (a function reading fields of a received message) and converts a kj::Exception
// from capnp into ProtocolError saying what was being read. See NOTE [Decoding untrusted messages].
template <class Read>
auto protocolGuard(std::string_view what, Read&& read) -> decltype(read());

// A message being built. Threads: one at a time. Move-only. Never blocks.
// Owns its capnp::MallocMessageBuilder and whatever keepAlive() was given, until it is encoded;
// after that the encoded frames own them and release them when libzmq has sent the last frame.
// Throws InternalError when used after it was encoded; capnp's own kj::Exception for builder
// misuse (e.g. asking for a Data::Builder of external data).
class OutgoingMessage {
 public:
  OutgoingMessage();
  // first_segment_words: the size of the first segment to allocate (capnp grows from there);
  // use about the expected message size to get one segment.
  explicit OutgoingMessage(unsigned first_segment_words);
  OutgoingMessage(OutgoingMessage&&) noexcept = default;
  OutgoingMessage& operator=(OutgoingMessage&&) noexcept = default;
  ~OutgoingMessage();

  template <class T>
  typename T::Builder initRoot() {
    return builder().initRoot<T>();
  }
  template <class T>
  typename T::Builder getRoot() {
    return builder().getRoot<T>();
  }
  capnp::MallocMessageBuilder& builder();
  // For Orphanage::referenceExternalData: put a large buffer in the message without copying.
  // The data must be 8-byte aligned and its owner passed to keepAlive().
  capnp::Orphanage orphanage() { return builder().getOrphanage(); }
  // Keeps `owner` alive until the message and every frame made from it are released.
  void keepAlive(std::shared_ptr<const void> owner);
  // Bytes in all segments now (what the segment frames will carry).
  size_t byteSize();
  bool isEmpty() const { return builder_ == nullptr; }

 private:
  friend class EncodedMessage;
  std::unique_ptr<capnp::MallocMessageBuilder> builder_;
  std::vector<std::shared_ptr<const void>> keep_alive_;
};

// An encoded, immutable message that can be sent any number of times (retries): each frames()
// call makes new frames sharing the same segment memory, ref-counted and freed with the last
// frame. Threads: frames() may be called from any thread. Copyable (shares the encoding).
class EncodedMessage {
 public:
  // Consumes `message`; it must have a root (initRoot was called).
  EncodedMessage(Channel channel, OutgoingMessage&& message);
  Frames frames() const;
  Channel channel() const { return channel_; }
  size_t segmentCount() const;
  size_t byteSize() const;  // header + segments

 private:
  struct Shared;
  std::shared_ptr<const Shared> shared_;
  Channel channel_;
};

// Encodes into frames ready for Socket::sendFrames (one use of EncodedMessage).
Frames encodeFrames(Channel channel, OutgoingMessage&& message);

// A received, validated message. Move-only. Owns the zmq frames (and copies of misaligned
// segments); readers obtained from getRoot() point into them and are valid while this object
// lives. Threads: one at a time.
class IncomingMessage {
 public:
  IncomingMessage();  // empty
  IncomingMessage(IncomingMessage&& other) noexcept;
  IncomingMessage& operator=(IncomingMessage&& other) noexcept;
  ~IncomingMessage();

  // The root as envelope T. Throws ProtocolError if the root is not a T-shaped struct.
  template <class T>
  typename T::Reader getRoot() const {
    GRAMRL_ASSERT(reader_ != nullptr, "getRoot on an empty IncomingMessage");
    return protocolGuard("the message root", [&] { return reader_->getRoot<T>(); });
  }

  bool isEmpty() const { return reader_ == nullptr; }
  Channel channel() const { return channel_; }
  size_t byteSize() const { return byte_size_; }  // header + segments, as received
  size_t segmentCount() const { return segments_.size(); }
  // Segments that arrived misaligned and were copied (0 means fully zero-copy).
  size_t copiedSegmentCount() const { return copies_.size(); }
  // The frames as received ([header][segments...]), e.g. to check that a Data field points
  // into them.
  const Frames& frames() const { return frames_; }

 private:
  friend IncomingMessage decodeFrames(Channel, Frames&&, const ReceiveLimits&);
  void reset() noexcept;

  Channel channel_ = Channel::kReward;
  size_t byte_size_ = 0;
  Frames frames_;
  kj::Array<kj::ArrayPtr<const capnp::word>> segments_;
  std::vector<kj::Array<capnp::word>> copies_;
  std::unique_ptr<capnp::SegmentArrayMessageReader> reader_;  // last: destroyed first
};

// Validates and decodes [header][segments...] of channel `expected`, taking the frames.
// Throws ProtocolError naming what was wrong (see NOTE [Decoding untrusted messages]).
// Never crashes on any input.
IncomingMessage decodeFrames(Channel expected, Frames&& frames, const ReceiveLimits& limits);

namespace detail {
[[noreturn]] void throwProtocolFromKj(std::string_view what, const kj::Exception& e);
}  // namespace detail

template <class Read>
auto protocolGuard(std::string_view what, Read&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const kj::Exception& e) {
    detail::throwProtocolFromKj(what, e);
  }
}

}  // namespace gramrl::transport
