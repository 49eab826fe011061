// The reward channel's messages (schemas/reward.capnp) as plain C++ values: decoding untrusted
// requests on the server, encoding replies, and the client's side of both. Torch-free.
//
// NOTE [Decoding reward requests]
// decodeRewardRequest never throws and never trusts its input: every failure becomes a
// DecodedRequest with ok() == false, the wire ErrorCode to answer with and a message naming what
// was wrong (e.g. "scoreRequest.pointwise[3].response: invalid UTF-8"). It checks, in order: the
// frames decode (frame_codec.h limits), the envelope is a RewardMessage, it is a scoreRequest or a
// ping (a reply kind sent to the server is malformed), item and candidate counts are within
// RequestLimits (TOO_LARGE), each group has at least one candidate, every text is valid UTF-8, and
// the total text bytes are within the limit (TOO_LARGE). seq is filled whenever it could be read,
// so the error reply can carry it. The fuzz test (tests/fuzz/) feeds it random and mutated bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/transport/frame_codec.h"
#include "reward/backends/reward_backend.h"
#include "schemas/common.capnp.h"
#include "schemas/reward.capnp.h"

namespace gramrl::reward {

enum class RequestKind { kPointwise, kPairwise, kBestOfN };

struct ScoreRequest {
  uint64_t policy_version = 0;
  uint64_t deadline_unix_ms = 0;  // 0 = none
  RequestKind kind = RequestKind::kPointwise;
  std::vector<PointwiseItem> pointwise;   // kind == kPointwise
  std::vector<PairItem> pairwise;         // kind == kPairwise
  std::vector<CandidateGroup> best_of_n;  // kind == kBestOfN

  // Items, or candidates summed over groups for best-of-n: the unit of the batcher's budgets.
  size_t itemCount() const;
  // UTF-8 bytes of every text in the request.
  size_t textBytes() const;
};

struct RequestLimits {
  size_t max_items = 1024;                   // reward.server.max_request_items
  size_t max_text_bytes = size_t{16} << 20;  // reward.server.max_request_mb
};

struct DecodedRequest {
  uint64_t seq = 0;      // 0 when the seq itself could not be read
  bool ping = false;     // a health check: answer with encodePong(seq)
  ScoreRequest request;  // valid when ok() && !ping
  wire::ErrorCode error_code = wire::ErrorCode::INTERNAL;
  std::string error;  // empty when ok()
  bool ok() const { return error.empty(); }
};

// Server side: see NOTE [Decoding reward requests]. `message` is what MessageSocket::recv
// returned for a valid frame sequence.
DecodedRequest decodeRewardRequest(const transport::IncomingMessage& message, const RequestLimits& limits);
// The same from raw frames ([header][segments...]): decodes them with `receive_limits` first;
// a frame-level failure is MALFORMED. What the fuzz test calls.
DecodedRequest decodeRewardFrames(transport::Frames&& frames, const transport::ReceiveLimits& receive_limits,
                                  const RequestLimits& limits);

// Server replies.
transport::OutgoingMessage encodeScoreReply(uint64_t seq, const std::string& model_name,
                                            const std::vector<double>& scores, const std::vector<uint32_t>& best,
                                            float compute_ms);
transport::OutgoingMessage encodeErrorReply(uint64_t seq, wire::ErrorCode code, const std::string& message,
                                            uint32_t retry_after_ms = 0);
transport::OutgoingMessage encodePong(uint64_t seq);

// Client side: writes `request` into the envelope's scoreRequest (the caller sets seq).
void fillScoreRequest(wire::RewardMessage::Builder envelope, const ScoreRequest& request);

struct ScoreReply {
  std::string model_name;
  std::vector<double> scores;
  std::vector<uint32_t> best;
  float compute_ms = 0;
};
// Client side: reads a reply to a request of `expected_items` scores. An error reply throws by
// its code: overloaded -> Overloaded, deadlineExceeded -> Timeout, shuttingDown -> Disconnected
// (the three a RequestClient retries, possibly on another replica); malformed, tooLarge,
// unsupported, internal -> DataError with the server's message. A reply with the wrong number
// of scores or of a kind other than scoreReply/error is a ProtocolError.
ScoreReply readScoreReply(wire::RewardMessage::Reader reply, size_t expected_items);

}  // namespace gramrl::reward
