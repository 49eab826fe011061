#include "reward/service/reward_codec.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/core.h>

#include "common/core/errors.h"
#include "common/tokenizer/unicode.h"

namespace gramrl::reward {

size_t ScoreRequest::itemCount() const {
  switch (kind) {
    case RequestKind::kPointwise: return pointwise.size();
    case RequestKind::kPairwise: return pairwise.size();
    case RequestKind::kBestOfN: {
      size_t n = 0;
      for (const auto& group : best_of_n) n += group.candidates.size();
      return n;
    }
  }
  return 0;
}

size_t ScoreRequest::textBytes() const {
  size_t n = 0;
  for (const auto& item : pointwise) {
    n += item.prompt.size() + item.response.size() + item.reference.size() + item.label.size();
  }
  for (const auto& item : pairwise) n += item.prompt.size() + item.response_a.size() + item.response_b.size();
  for (const auto& group : best_of_n) {
    n += group.prompt.size();
    for (const auto& candidate : group.candidates) n += candidate.size();
  }
  return n;
}

namespace {

// For setters: capnp's conversion from std::string stops at the first NUL, and texts may hold NULs.
capnp::Text::Reader text(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }

// A validation failure inside decodeScoreRequest: the wire code and the message.
struct Rejection {
  wire::ErrorCode code;
  std::string message;
};

// Reads the texts of one request once each (see NOTE [Decoding untrusted messages] on
// traversal), checking UTF-8 and counting bytes.
class TextReader {
 public:
  // Copies `text` into `out`, or returns the rejection naming `path`.
  bool read(capnp::Text::Reader text, std::string& out, const std::string& path) {
    std::string_view bytes(text.begin(), text.size());
    size_t bad = tokenizer::findInvalidUtf8(bytes);
    if (bad != tokenizer::kValidUtf8) {
      rejection_ = Rejection{wire::ErrorCode::MALFORMED,
                             fmt::format("{}: invalid UTF-8 at byte {} of {}", path, bad, bytes.size())};
      return false;
    }
    bytes_ += bytes.size();
    out.assign(bytes);
    return true;
  }
  size_t bytes() const { return bytes_; }
  Rejection& rejection() { return rejection_; }

 private:
  size_t bytes_ = 0;
  Rejection rejection_{wire::ErrorCode::INTERNAL, {}};
};

Rejection tooManyItems(std::string_view what, size_t count, size_t limit) {
  return {wire::ErrorCode::TOO_LARGE, fmt::format("scoreRequest.{}: {} items, more than the server's limit of {} "
                                                  "(reward.server.max_request_items)",
                                                  what, count, limit)};
}

// Fills `out` from `request`, or returns the first failure. capnp exceptions (a field of the
// wrong shape) propagate to the caller's protocolGuard.
std::optional<Rejection> decodeScoreRequest(wire::ScoreRequest::Reader request, const RequestLimits& limits,
                                            ScoreRequest& out) {
  out.policy_version = request.getPolicyVersion();
  out.deadline_unix_ms = request.getDeadlineUnixMs();
  TextReader texts;
  switch (request.which()) {
    case wire::ScoreRequest::POINTWISE: {
      out.kind = RequestKind::kPointwise;
      auto items = request.getPointwise();
      if (items.size() > limits.max_items) return tooManyItems("pointwise", items.size(), limits.max_items);
      out.pointwise.resize(items.size());
      for (uint32_t i = 0; i < items.size(); ++i) {
        auto item = items[i];
        auto& dst = out.pointwise[i];
        auto path = [&](const char* field) { return fmt::format("scoreRequest.pointwise[{}].{}", i, field); };
        if (!texts.read(item.getPrompt(), dst.prompt, path("prompt")) ||
            !texts.read(item.getResponse(), dst.response, path("response")) ||
            !texts.read(item.getReference(), dst.reference, path("reference")) ||
            !texts.read(item.getLabel(), dst.label, path("label"))) {
          return std::move(texts.rejection());
        }
        dst.has_reference = item.getHasReference() || !dst.reference.empty();
      }
      break;
    }
    case wire::ScoreRequest::PAIRWISE: {
      out.kind = RequestKind::kPairwise;
      auto items = request.getPairwise();
      if (items.size() > limits.max_items) return tooManyItems("pairwise", items.size(), limits.max_items);
      out.pairwise.resize(items.size());
      for (uint32_t i = 0; i < items.size(); ++i) {
        auto item = items[i];
        auto& dst = out.pairwise[i];
        auto path = [&](const char* field) { return fmt::format("scoreRequest.pairwise[{}].{}", i, field); };
        if (!texts.read(item.getPrompt(), dst.prompt, path("prompt")) ||
            !texts.read(item.getResponseA(), dst.response_a, path("responseA")) ||
            !texts.read(item.getResponseB(), dst.response_b, path("responseB"))) {
          return std::move(texts.rejection());
        }
      }
      break;
    }
    case wire::ScoreRequest::BEST_OF_N: {
      out.kind = RequestKind::kBestOfN;
      auto groups = request.getBestOfN();
      if (groups.size() > limits.max_items) return tooManyItems("bestOfN", groups.size(), limits.max_items);
      // Counts first, keeping each candidate list's reader so it is got (and charged) once.
      std::vector<capnp::List<capnp::Text>::Reader> candidates;
      candidates.reserve(groups.size());
      size_t total = 0;
      for (uint32_t g = 0; g < groups.size(); ++g) {
        candidates.push_back(groups[g].getCandidates());
        if (candidates.back().size() == 0) {
          return Rejection{wire::ErrorCode::MALFORMED,
                           fmt::format("scoreRequest.bestOfN[{}].candidates: empty (a group needs at least one)", g)};
        }
        total += candidates.back().size();
        if (total > limits.max_items) {
          return Rejection{wire::ErrorCode::TOO_LARGE,
                           fmt::format("scoreRequest.bestOfN: more than {} candidates in groups 0..{} "
                                       "(reward.server.max_request_items)",
                                       limits.max_items, g)};
        }
      }
      out.best_of_n.resize(groups.size());
      for (uint32_t g = 0; g < groups.size(); ++g) {
        auto& dst = out.best_of_n[g];
        if (!texts.read(groups[g].getPrompt(), dst.prompt, fmt::format("scoreRequest.bestOfN[{}].prompt", g))) {
          return std::move(texts.rejection());
        }
        dst.candidates.resize(candidates[g].size());
        for (uint32_t c = 0; c < candidates[g].size(); ++c) {
          if (!texts.read(candidates[g][c], dst.candidates[c],
                          fmt::format("scoreRequest.bestOfN[{}].candidates[{}]", g, c))) {
            return std::move(texts.rejection());
          }
        }
      }
      break;
    }
    default:
      return Rejection{wire::ErrorCode::UNSUPPORTED,
                       fmt::format("scoreRequest: unknown request kind (union discriminant {}); "
                                   "the client is newer than this server",
                                   static_cast<unsigned>(request.which()))};
  }
  if (texts.bytes() > limits.max_text_bytes) {
    return Rejection{wire::ErrorCode::TOO_LARGE,
                     fmt::format("scoreRequest: {} bytes of text, more than the server's limit of {} "
                                 "(reward.server.max_request_mb)",
                                 texts.bytes(), limits.max_text_bytes)};
  }
  return std::nullopt;
}

const char* kindName(wire::RewardMessage::Which which) {
  switch (which) {
    case wire::RewardMessage::SCORE_REQUEST: return "scoreRequest";
    case wire::RewardMessage::SCORE_REPLY: return "scoreReply";
    case wire::RewardMessage::ERROR: return "error";
    case wire::RewardMessage::PING: return "ping";
    case wire::RewardMessage::PONG: return "pong";
  }
  return "an unknown kind";
}

DecodedRequest fail(DecodedRequest decoded, wire::ErrorCode code, std::string message) {
  decoded.error_code = code;
  decoded.error = std::move(message);
  decoded.ping = false;
  decoded.request = ScoreRequest{};
  return decoded;
}

}  // namespace

DecodedRequest decodeRewardRequest(const transport::IncomingMessage& message, const RequestLimits& limits) {
  DecodedRequest decoded;
  if (message.isEmpty()) return fail(std::move(decoded), wire::ErrorCode::MALFORMED, "empty message");
  if (message.channel() != transport::Channel::kReward) {
    return fail(std::move(decoded), wire::ErrorCode::MALFORMED,
                fmt::format("a {} message on the reward channel", transport::toString(message.channel())));
  }
  try {
    auto root = message.getRoot<wire::RewardMessage>();
    decoded.seq = root.getSeq();
    auto which = root.which();
    if (which == wire::RewardMessage::PING) {
      decoded.ping = true;
      return decoded;
    }
    if (which != wire::RewardMessage::SCORE_REQUEST) {
      return fail(std::move(decoded), wire::ErrorCode::MALFORMED,
                  fmt::format("RewardMessage: expected a scoreRequest or a ping, got {} (discriminant {})",
                              kindName(which), static_cast<unsigned>(which)));
    }
    auto rejection = transport::protocolGuard(
        "scoreRequest", [&] { return decodeScoreRequest(root.getScoreRequest(), limits, decoded.request); });
    if (rejection) return fail(std::move(decoded), rejection->code, std::move(rejection->message));
    return decoded;
  } catch (const ProtocolError& e) {
    return fail(std::move(decoded), wire::ErrorCode::MALFORMED, e.what());
  } catch (const kj::Exception& e) {  // not expected: every read above is guarded
    return fail(std::move(decoded), wire::ErrorCode::MALFORMED,
                fmt::format("malformed message: {}", e.getDescription().cStr()));
  } catch (const std::exception& e) {  // e.g. bad_alloc
    return fail(std::move(decoded), wire::ErrorCode::INTERNAL, fmt::format("decoding the request: {}", e.what()));
  }
}

DecodedRequest decodeRewardFrames(transport::Frames&& frames, const transport::ReceiveLimits& receive_limits,
                                  const RequestLimits& limits) {
  transport::IncomingMessage message;
  try {
    message = transport::decodeFrames(transport::Channel::kReward, std::move(frames), receive_limits);
  } catch (const ProtocolError& e) {
    return fail(DecodedRequest{}, wire::ErrorCode::MALFORMED, e.what());
  } catch (const std::exception& e) {
    return fail(DecodedRequest{}, wire::ErrorCode::INTERNAL, fmt::format("decoding the frames: {}", e.what()));
  }
  return decodeRewardRequest(message, limits);
}

// ---- encoding -------------------------------------------------------------------------------

transport::OutgoingMessage encodeScoreReply(uint64_t seq, const std::string& model_name,
                                            const std::vector<double>& scores, const std::vector<uint32_t>& best,
                                            float compute_ms) {
  // One segment: the root, the name and the two lists, in words, plus slack.
  const size_t words = 16 + model_name.size() / 8 + scores.size() / 2 + best.size() / 2;
  transport::OutgoingMessage message(static_cast<unsigned>(std::min<size_t>(words, size_t{1} << 24)));
  auto root = message.initRoot<wire::RewardMessage>();
  root.setSeq(seq);
  auto reply = root.initScoreReply();
  reply.setModelName(text(model_name));
  auto out_scores = reply.initScores(static_cast<unsigned>(scores.size()));
  for (size_t i = 0; i < scores.size(); ++i) out_scores.set(static_cast<unsigned>(i), static_cast<float>(scores[i]));
  if (!best.empty()) {
    auto out_best = reply.initBest(static_cast<unsigned>(best.size()));
    for (size_t i = 0; i < best.size(); ++i) out_best.set(static_cast<unsigned>(i), best[i]);
  }
  reply.setComputeMs(compute_ms);
  return message;
}

transport::OutgoingMessage encodeErrorReply(uint64_t seq, wire::ErrorCode code, const std::string& message,
                                            uint32_t retry_after_ms) {
  transport::OutgoingMessage out;
  auto root = out.initRoot<wire::RewardMessage>();
  root.setSeq(seq);
  auto error = root.initError();
  error.setCode(code);
  error.setMessage(text(message));
  error.setRetryAfterMs(retry_after_ms);
  return out;
}

transport::OutgoingMessage encodePong(uint64_t seq) {
  transport::OutgoingMessage out;
  auto root = out.initRoot<wire::RewardMessage>();
  root.setSeq(seq);
  root.setPong();
  return out;
}

void fillScoreRequest(wire::RewardMessage::Builder envelope, const ScoreRequest& request) {
  auto out = envelope.initScoreRequest();
  out.setPolicyVersion(request.policy_version);
  out.setDeadlineUnixMs(request.deadline_unix_ms);
  switch (request.kind) {
    case RequestKind::kPointwise: {
      auto items = out.initPointwise(static_cast<unsigned>(request.pointwise.size()));
      for (size_t i = 0; i < request.pointwise.size(); ++i) {
        const auto& src = request.pointwise[i];
        auto dst = items[static_cast<unsigned>(i)];
        dst.setPrompt(text(src.prompt));
        dst.setResponse(text(src.response));
        dst.setReference(text(src.reference));
        dst.setLabel(text(src.label));
        dst.setHasReference(src.has_reference || !src.reference.empty());
      }
      break;
    }
    case RequestKind::kPairwise: {
      auto items = out.initPairwise(static_cast<unsigned>(request.pairwise.size()));
      for (size_t i = 0; i < request.pairwise.size(); ++i) {
        const auto& src = request.pairwise[i];
        auto dst = items[static_cast<unsigned>(i)];
        dst.setPrompt(text(src.prompt));
        dst.setResponseA(text(src.response_a));
        dst.setResponseB(text(src.response_b));
      }
      break;
    }
    case RequestKind::kBestOfN: {
      auto groups = out.initBestOfN(static_cast<unsigned>(request.best_of_n.size()));
      for (size_t g = 0; g < request.best_of_n.size(); ++g) {
        const auto& src = request.best_of_n[g];
        auto dst = groups[static_cast<unsigned>(g)];
        dst.setPrompt(text(src.prompt));
        auto candidates = dst.initCandidates(static_cast<unsigned>(src.candidates.size()));
        for (size_t c = 0; c < src.candidates.size(); ++c)
          candidates.set(static_cast<unsigned>(c), text(src.candidates[c]));
      }
      break;
    }
  }
}

// ---- client side ----------------------------------------------------------------------------

ScoreReply readScoreReply(wire::RewardMessage::Reader reply, size_t expected_items) {
  return transport::protocolGuard("a reward reply", [&] {
    const uint64_t seq = reply.getSeq();
    switch (reply.which()) {
      case wire::RewardMessage::SCORE_REPLY: {
        auto in = reply.getScoreReply();
        auto scores = in.getScores();
        GRAMRL_CHECK(scores.size() == expected_items, ProtocolError,
                     "reward reply seq={}: {} scores for a request of {} items", seq, scores.size(), expected_items);
        ScoreReply out;
        auto name = in.getModelName();
        out.model_name.assign(name.begin(), name.size());
        out.scores.reserve(scores.size());
        for (float s : scores) out.scores.push_back(s);
        auto best = in.getBest();
        out.best.reserve(best.size());
        for (uint32_t b : best) out.best.push_back(b);
        out.compute_ms = in.getComputeMs();
        return out;
      }
      case wire::RewardMessage::ERROR: {
        auto error = reply.getError();
        auto text = error.getMessage();
        const std::string message(text.begin(), text.size());
        const auto code = error.getCode();
        switch (code) {
          case wire::ErrorCode::OVERLOADED:
            throw Overloaded(fmt::format("reward server overloaded (seq={}, retry after {} ms): {}", seq,
                                         error.getRetryAfterMs(), message));
          case wire::ErrorCode::DEADLINE_EXCEEDED:
            throw Timeout(fmt::format("reward server: deadline exceeded (seq={}): {}", seq, message));
          case wire::ErrorCode::SHUTTING_DOWN:
            throw Disconnected(fmt::format("reward server shutting down (seq={}): {}", seq, message));
          case wire::ErrorCode::MALFORMED:
            throw DataError(fmt::format("reward server rejected the request as malformed (seq={}): {}", seq, message));
          case wire::ErrorCode::TOO_LARGE:
            throw DataError(fmt::format("reward server rejected the request as too large (seq={}): {}", seq, message));
          case wire::ErrorCode::UNSUPPORTED:
            throw DataError(fmt::format("reward server does not support the request (seq={}): {}", seq, message));
          case wire::ErrorCode::INTERNAL:
            throw DataError(fmt::format("reward server internal error (seq={}): {}", seq, message));
        }
        throw DataError(
            fmt::format("reward server error code {} (seq={}): {}", static_cast<unsigned>(code), seq, message));
      }
      default:
        throw ProtocolError(fmt::format("reward reply seq={}: expected a scoreReply or an error, got {}", seq,
                                        kindName(reply.which())));
    }
  });
}

}  // namespace gramrl::reward
