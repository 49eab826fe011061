#include "common/transport/message_socket.h"

#include <utility>

#include <fmt/core.h>

#include "common/core/errors.h"

namespace gramrl::transport {
namespace {

bool canSend(SocketType type) { return type != SocketType::kPull && type != SocketType::kSub; }
bool canRecv(SocketType type) { return type != SocketType::kPush && type != SocketType::kPub; }

// Routing ids are at most 255 bytes; a little more for a header frame and slack.
constexpr size_t kPeerFrameBytes = 256;

// NOTE [Oversize messages are answered] (frame_codec.h).
SocketOptions withAnswerableCap(SocketOptions options, const ReceiveLimits& limits) {
  if (options.max_message_bytes == -1) return options;
  const size_t answerable = answerableMessageBytes(limits);
  const auto cap = answerable > static_cast<size_t>(INT64_MAX) ? int64_t{-1} : static_cast<int64_t>(answerable);
  if (cap == -1 || options.max_message_bytes < cap) options.max_message_bytes = cap;
  return options;
}

}  // namespace

MessageSocket::MessageSocket(ZmqContext& context, SocketType type, Channel channel, SocketOptions options,
                             ReceiveLimits limits)
    : socket_(context, type, withAnswerableCap(std::move(options), limits)), channel_(channel), limits_(limits) {
  if (type == SocketType::kSub) socket_.subscribe("");
}

bool MessageSocket::send(OutgoingMessage&& message, Deadline deadline) {
  return send(EncodedMessage(channel_, std::move(message)), deadline);
}

bool MessageSocket::send(const EncodedMessage& message, Deadline deadline) {
  GRAMRL_ASSERT(socket_.type() != SocketType::kRouter, "send on a ROUTER socket: use sendTo(peer, ...)");
  GRAMRL_ASSERT(canSend(socket_.type()), "send on a {} socket", toString(socket_.type()));
  GRAMRL_ASSERT(message.channel() == channel_, "sending a {} message on a {} socket", toString(message.channel()),
                toString(channel_));
  Frames frames = message.frames();
  return socket_.sendFrames(frames, deadline);
}

bool MessageSocket::sendTo(std::string_view peer, OutgoingMessage&& message, Deadline deadline) {
  return sendTo(peer, EncodedMessage(channel_, std::move(message)), deadline);
}

bool MessageSocket::sendTo(std::string_view peer, const EncodedMessage& message, Deadline deadline) {
  GRAMRL_ASSERT(socket_.type() == SocketType::kRouter, "sendTo on a {} socket", toString(socket_.type()));
  GRAMRL_ASSERT(message.channel() == channel_, "sending a {} message on a {} socket", toString(message.channel()),
                toString(channel_));
  Frames payload = message.frames();
  Frames frames;
  frames.reserve(1 + payload.size());
  frames.emplace_back(peer.data(), peer.size());
  for (auto& frame : payload) frames.push_back(std::move(frame));
  return socket_.sendFrames(frames, deadline);
}

std::optional<Received> MessageSocket::recv(Deadline deadline) {
  GRAMRL_ASSERT(canRecv(socket_.type()), "recv on a {} socket", toString(socket_.type()));
  const bool router = socket_.type() == SocketType::kRouter;
  const size_t max_frames = (router ? 1 : 0) + 1 + limits_.max_segments;
  const size_t max_bytes = limits_.max_message_bytes + (router ? kPeerFrameBytes : 0);
  auto multipart = socket_.recvMultipart(deadline, max_frames, max_bytes);
  if (!multipart) return std::nullopt;

  Received received;
  Frames& frames = multipart->frames;
  if (router && !frames.empty()) {
    received.peer = frames.front().to_string();
    frames.erase(frames.begin());
  }
  size_t kept_bytes = 0;
  for (const auto& frame : frames) kept_bytes += frame.size();
  if (multipart->isTruncated() || kept_bytes > limits_.max_message_bytes) {
    received.is_too_large = true;
    // Segment 0 is the second part: kept, or the first one dropped.
    if (frames.size() >= 2) {
      received.seq = peekEnvelopeSeq(channel_, frames[0], frames[1].data(), frames[1].size());
    } else if (frames.size() == 1) {
      received.seq = peekEnvelopeSeq(channel_, frames[0], multipart->first_dropped_head.data(),
                                     multipart->first_dropped_head.size());
    }
  }
  if (multipart->isTruncated()) {
    received.error =
        fmt::format("{} channel: message too large: {} frames, {} bytes (limits: {} segments, {} bytes)",
                    toString(channel_), frames.size() + multipart->dropped_frames,
                    kept_bytes + multipart->dropped_bytes, limits_.max_segments, limits_.max_message_bytes);
  } else {
    const uint64_t seq =
        frames.size() >= 2 ? peekEnvelopeSeq(channel_, frames[0], frames[1].data(), frames[1].size()) : 0;
    try {
      received.message = decodeFrames(channel_, std::move(frames), limits_);
    } catch (const ProtocolError& e) {
      received.error = e.what();
      received.seq = seq;
    }
  }
  if (!received.ok()) ++rejected_;
  return received;
}

}  // namespace gramrl::transport
