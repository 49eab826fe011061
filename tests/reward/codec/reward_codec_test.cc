// The reward codec: requests round-trip through fillScoreRequest -> frames -> decodeRewardFrames;
// every validation failure of NOTE [Decoding reward requests] gives its wire code and names the
// field; readScoreReply maps each error code to its exception.
#include "reward/service/reward_codec.h"

#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "common/transport/frame_codec.h"
#include "schemas/control.capnp.h"

namespace gramrl::reward {
namespace {

using transport::Channel;
using transport::Frames;
using transport::OutgoingMessage;

// Texts with 1-, 2-, 3- and 4-byte UTF-8 sequences and an embedded NUL (valid UTF-8).
const std::string kMixed = "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80";  // "café 日本 😀"
const std::string kWithNul = std::string("a\0b", 3);
const std::string kInvalid = "ok\xFF";     // 0xFF never occurs in UTF-8
const std::string kOverlong = "\xC0\xAF";  // overlong '/'

Frames requestFrames(const ScoreRequest& request, uint64_t seq) {
  OutgoingMessage message;
  auto root = message.initRoot<wire::RewardMessage>();
  root.setSeq(seq);
  fillScoreRequest(root, request);
  return transport::encodeFrames(Channel::kReward, std::move(message));
}

DecodedRequest decode(const ScoreRequest& request, uint64_t seq, const RequestLimits& limits = {}) {
  return decodeRewardFrames(requestFrames(request, seq), {}, limits);
}

ScoreRequest pointwiseRequest() {
  ScoreRequest r;
  r.policy_version = 42;
  r.deadline_unix_ms = 1700000000123;
  r.kind = RequestKind::kPointwise;
  r.pointwise = {{"sort [3,1]", "[1,3]", "[1, 3]", "[1,3]"}, {kMixed, kWithNul, "", ""}};
  return r;
}

ScoreRequest pairwiseRequest() {
  ScoreRequest r;
  r.policy_version = 7;
  r.kind = RequestKind::kPairwise;
  r.pairwise = {{"2+2?", "4", "5"}, {kMixed, "", kWithNul}, {"q", "a", "b"}};
  return r;
}

ScoreRequest bestOfNRequest() {
  ScoreRequest r;
  r.kind = RequestKind::kBestOfN;
  r.best_of_n = {{"pick", {"x", "yy", "zzz"}}, {kMixed, {kWithNul}}};
  return r;
}

// ---- round trips ------------------------------------------------------------------------------

TEST(RewardCodec, PointwiseRoundTrip) {
  const auto request = pointwiseRequest();
  auto decoded = decode(request, 1234);
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  EXPECT_FALSE(decoded.ping);
  EXPECT_EQ(decoded.seq, 1234u);
  const auto& got = decoded.request;
  EXPECT_EQ(got.policy_version, 42u);
  EXPECT_EQ(got.deadline_unix_ms, 1700000000123u);
  ASSERT_EQ(got.kind, RequestKind::kPointwise);
  ASSERT_EQ(got.pointwise.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(got.pointwise[i].prompt, request.pointwise[i].prompt) << i;
    EXPECT_EQ(got.pointwise[i].response, request.pointwise[i].response) << i;
    EXPECT_EQ(got.pointwise[i].reference, request.pointwise[i].reference) << i;
    EXPECT_EQ(got.pointwise[i].label, request.pointwise[i].label) << i;
  }
  EXPECT_EQ(got.pointwise[1].response.size(), 3u);  // the NUL survived
  EXPECT_TRUE(got.pointwise[0].has_reference);      // a non-empty reference counts as given
  EXPECT_TRUE(got.pairwise.empty());
  EXPECT_TRUE(got.best_of_n.empty());
  // By hand: item 0 has 10+5+6+5 bytes, item 1 has 17 (kMixed) + 3 (kWithNul).
  EXPECT_EQ(got.itemCount(), 2u);
  EXPECT_EQ(got.textBytes(), 26u + 20u);
}

TEST(RewardCodec, AnEmptyReferenceThatWasGivenStaysGiven) {
  ScoreRequest request;
  request.kind = RequestKind::kPointwise;
  request.pointwise = {PointwiseItem{"q", "a", "", "", true}, PointwiseItem{"q", "a", "", "", false}};
  auto decoded = decode(request, 7);
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  EXPECT_TRUE(decoded.request.pointwise[0].has_reference);
  EXPECT_FALSE(decoded.request.pointwise[1].has_reference);
}

TEST(RewardCodec, PairwiseRoundTrip) {
  const auto request = pairwiseRequest();
  auto decoded = decode(request, 5);
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  EXPECT_EQ(decoded.seq, 5u);
  const auto& got = decoded.request;
  EXPECT_EQ(got.policy_version, 7u);
  EXPECT_EQ(got.deadline_unix_ms, 0u);
  ASSERT_EQ(got.kind, RequestKind::kPairwise);
  ASSERT_EQ(got.pairwise.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got.pairwise[i].prompt, request.pairwise[i].prompt) << i;
    EXPECT_EQ(got.pairwise[i].response_a, request.pairwise[i].response_a) << i;
    EXPECT_EQ(got.pairwise[i].response_b, request.pairwise[i].response_b) << i;
  }
  EXPECT_EQ(got.itemCount(), 3u);
  EXPECT_EQ(got.textBytes(), (4u + 1 + 1) + (17u + 0 + 3) + 3u);
}

TEST(RewardCodec, BestOfNRoundTrip) {
  const auto request = bestOfNRequest();
  auto decoded = decode(request, 9);
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  const auto& got = decoded.request;
  ASSERT_EQ(got.kind, RequestKind::kBestOfN);
  ASSERT_EQ(got.best_of_n.size(), 2u);
  EXPECT_EQ(got.best_of_n[0].prompt, "pick");
  EXPECT_EQ(got.best_of_n[0].candidates, (std::vector<std::string>{"x", "yy", "zzz"}));
  EXPECT_EQ(got.best_of_n[1].prompt, kMixed);
  EXPECT_EQ(got.best_of_n[1].candidates, std::vector<std::string>{kWithNul});
  EXPECT_EQ(got.itemCount(), 4u);  // candidates, not groups
  EXPECT_EQ(got.textBytes(), (4u + 1 + 2 + 3) + (17u + 3));
}

TEST(RewardCodec, EmptyRequestIsValid) {
  ScoreRequest r;  // pointwise, no items
  auto decoded = decode(r, 3);
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  EXPECT_EQ(decoded.request.itemCount(), 0u);
}

// ---- limits -----------------------------------------------------------------------------------

TEST(RewardCodec, ItemLimit) {
  RequestLimits limits;
  limits.max_items = 2;
  auto ok = decode(pointwiseRequest(), 1, limits);  // exactly 2 items
  EXPECT_TRUE(ok.ok()) << ok.error;

  auto pairs = decode(pairwiseRequest(), 77, limits);  // 3 pairs
  ASSERT_FALSE(pairs.ok());
  EXPECT_EQ(pairs.error_code, wire::ErrorCode::TOO_LARGE);
  EXPECT_EQ(pairs.seq, 77u);
  EXPECT_NE(pairs.error.find("scoreRequest.pairwise: 3 items"), std::string::npos) << pairs.error;
  EXPECT_NE(pairs.error.find("max_request_items"), std::string::npos) << pairs.error;
  EXPECT_TRUE(pairs.request.pairwise.empty());  // nothing half-decoded is left behind
}

TEST(RewardCodec, CandidateLimitCountsCandidatesNotGroups) {
  RequestLimits limits;
  limits.max_items = 4;  // the request has 2 groups, 4 candidates
  EXPECT_TRUE(decode(bestOfNRequest(), 1, limits).ok());
  limits.max_items = 3;
  auto decoded = decode(bestOfNRequest(), 8, limits);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error_code, wire::ErrorCode::TOO_LARGE);
  EXPECT_EQ(decoded.seq, 8u);
  EXPECT_NE(decoded.error.find("scoreRequest.bestOfN: more than 3 candidates"), std::string::npos) << decoded.error;
}

TEST(RewardCodec, TextByteLimit) {
  const auto request = pointwiseRequest();
  RequestLimits limits;
  limits.max_text_bytes = 46;  // exactly the request's text bytes (PointwiseRoundTrip)
  auto ok = decode(request, 1, limits);
  EXPECT_TRUE(ok.ok()) << ok.error;
  limits.max_text_bytes = 45;
  auto decoded = decode(request, 2, limits);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error_code, wire::ErrorCode::TOO_LARGE);
  EXPECT_EQ(decoded.seq, 2u);
  EXPECT_NE(decoded.error.find("46 bytes of text"), std::string::npos) << decoded.error;
  EXPECT_NE(decoded.error.find("max_request_mb"), std::string::npos) << decoded.error;
}

TEST(RewardCodec, EmptyCandidateGroupIsMalformed) {
  auto request = bestOfNRequest();
  request.best_of_n.push_back({"no candidates", {}});
  auto decoded = decode(request, 31);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error_code, wire::ErrorCode::MALFORMED);
  EXPECT_EQ(decoded.seq, 31u);
  EXPECT_NE(decoded.error.find("scoreRequest.bestOfN[2].candidates: empty"), std::string::npos) << decoded.error;
}

// ---- UTF-8 ------------------------------------------------------------------------------------

struct Utf8Case {
  std::string expected_path;
  ScoreRequest request;
};

std::vector<Utf8Case> invalidUtf8Cases() {
  std::vector<Utf8Case> cases;
  auto pointwise = [&](std::string path, auto set) {
    auto r = pointwiseRequest();
    set(r.pointwise[1]);
    cases.push_back({std::move(path), std::move(r)});
  };
  pointwise("scoreRequest.pointwise[1].prompt", [](PointwiseItem& i) { i.prompt = kInvalid; });
  pointwise("scoreRequest.pointwise[1].response", [](PointwiseItem& i) { i.response = kOverlong; });
  pointwise("scoreRequest.pointwise[1].reference", [](PointwiseItem& i) { i.reference = kInvalid; });
  pointwise("scoreRequest.pointwise[1].label", [](PointwiseItem& i) { i.label = "\xED\xA0\x80"; });  // surrogate
  auto pairwise = [&](std::string path, auto set) {
    auto r = pairwiseRequest();
    set(r.pairwise[2]);
    cases.push_back({std::move(path), std::move(r)});
  };
  pairwise("scoreRequest.pairwise[2].prompt", [](PairItem& i) { i.prompt = kInvalid; });
  pairwise("scoreRequest.pairwise[2].responseA", [](PairItem& i) { i.response_a = "\xE6\x97"; });  // truncated
  pairwise("scoreRequest.pairwise[2].responseB", [](PairItem& i) { i.response_b = kInvalid; });
  {
    auto r = bestOfNRequest();
    r.best_of_n[1].prompt = kInvalid;
    cases.push_back({"scoreRequest.bestOfN[1].prompt", std::move(r)});
  }
  {
    auto r = bestOfNRequest();
    r.best_of_n[0].candidates[2] = "\xF4\x90\x80\x80";  // above U+10FFFF
    cases.push_back({"scoreRequest.bestOfN[0].candidates[2]", std::move(r)});
  }
  return cases;
}

TEST(RewardCodec, InvalidUtf8NamesTheField) {
  uint64_t seq = 100;
  for (const auto& c : invalidUtf8Cases()) {
    auto decoded = decode(c.request, ++seq);
    ASSERT_FALSE(decoded.ok()) << c.expected_path;
    EXPECT_EQ(decoded.error_code, wire::ErrorCode::MALFORMED) << c.expected_path;
    EXPECT_EQ(decoded.seq, seq);
    EXPECT_EQ(decoded.error.rfind(c.expected_path + ": invalid UTF-8 at byte ", 0), 0u)
        << "expected " << c.expected_path << ", got: " << decoded.error;
  }
}

TEST(RewardCodec, InvalidUtf8ErrorGivesTheByteOffset) {
  auto r = pointwiseRequest();
  r.pointwise[0].response = kInvalid;  // "ok\xFF": byte 2
  auto decoded = decode(r, 1);
  EXPECT_EQ(decoded.error, "scoreRequest.pointwise[0].response: invalid UTF-8 at byte 2 of 3");
}

// ---- envelope kinds ---------------------------------------------------------------------------

TEST(RewardCodec, Ping) {
  OutgoingMessage message;
  auto root = message.initRoot<wire::RewardMessage>();
  root.setSeq(555);
  root.setPing();
  auto decoded = decodeRewardFrames(transport::encodeFrames(Channel::kReward, std::move(message)), {}, {});
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  EXPECT_TRUE(decoded.ping);
  EXPECT_EQ(decoded.seq, 555u);

  auto pong = transport::decodeFrames(Channel::kReward, transport::encodeFrames(Channel::kReward, encodePong(555)), {});
  auto pong_root = pong.getRoot<wire::RewardMessage>();
  EXPECT_TRUE(pong_root.isPong());
  EXPECT_EQ(pong_root.getSeq(), 555u);
}

TEST(RewardCodec, ReplyKindsSentToTheServerAreMalformed) {
  std::vector<std::pair<std::string, OutgoingMessage>> messages;
  messages.emplace_back("scoreReply", encodeScoreReply(61, "rule", {0.5}, {}, 1.0f));
  messages.emplace_back("error", encodeErrorReply(61, wire::ErrorCode::OVERLOADED, "busy"));
  messages.emplace_back("pong", encodePong(61));
  for (auto& [kind, message] : messages) {
    auto decoded = decodeRewardFrames(transport::encodeFrames(Channel::kReward, std::move(message)), {}, {});
    ASSERT_FALSE(decoded.ok()) << kind;
    EXPECT_FALSE(decoded.ping);
    EXPECT_EQ(decoded.error_code, wire::ErrorCode::MALFORMED) << kind;
    EXPECT_EQ(decoded.seq, 61u) << kind;
    EXPECT_NE(decoded.error.find("expected a scoreRequest or a ping, got " + kind), std::string::npos) << decoded.error;
  }
}

TEST(RewardCodec, BadFramesAreMalformedWithoutSeq) {
  Frames frames;
  frames.emplace_back("not a header", 12);
  auto decoded = decodeRewardFrames(std::move(frames), {}, {});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error_code, wire::ErrorCode::MALFORMED);
  EXPECT_EQ(decoded.seq, 0u);
  EXPECT_FALSE(decoded.error.empty());

  // A message larger than the receive limits is rejected at the frame level.
  transport::ReceiveLimits tight;
  tight.max_message_bytes = 64;
  auto big = decodeRewardFrames(requestFrames(pointwiseRequest(), 4), tight, {});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error_code, wire::ErrorCode::MALFORMED);
}

TEST(RewardCodec, WrongChannelAndEmptyMessageAreMalformed) {
  transport::IncomingMessage empty;
  auto decoded = decodeRewardRequest(empty, {});
  EXPECT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error_code, wire::ErrorCode::MALFORMED);

  OutgoingMessage control;
  control.initRoot<wire::ControlMessage>().setSeq(3);
  auto in =
      transport::decodeFrames(Channel::kControl, transport::encodeFrames(Channel::kControl, std::move(control)), {});
  auto wrong = decodeRewardRequest(in, {});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error_code, wire::ErrorCode::MALFORMED);
  EXPECT_NE(wrong.error.find("on the reward channel"), std::string::npos) << wrong.error;
}

TEST(RewardCodec, FieldOfTheWrongShapeIsMalformedWithSeq) {
  // bestOfN[0].candidates is a List(Text); here it is a list of UInt32, which passes
  // decodeFrames' structural walk and fails only when read as a list of texts.
  OutgoingMessage message;
  auto root = message.initRoot<wire::RewardMessage>();
  root.setSeq(808);
  auto group = root.initScoreRequest().initBestOfN(1)[0];
  group.setPrompt("p");
  auto candidates = capnp::toAny(group).getPointerSection()[1];  // CandidateGroup.candidates @1
  candidates.initAsAnyList(capnp::ElementSize::FOUR_BYTES, 2);
  auto decoded = decodeRewardFrames(transport::encodeFrames(Channel::kReward, std::move(message)), {}, {});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error_code, wire::ErrorCode::MALFORMED);
  EXPECT_EQ(decoded.seq, 808u);
  EXPECT_NE(decoded.error.find("scoreRequest"), std::string::npos) << decoded.error;
}

// ---- replies (client side) --------------------------------------------------------------------

transport::IncomingMessage roundTrip(OutgoingMessage&& message) {
  return transport::decodeFrames(Channel::kReward, transport::encodeFrames(Channel::kReward, std::move(message)), {});
}

TEST(RewardCodec, ScoreReplyRoundTrip) {
  // Values exactly representable in float32, so the double -> float -> double trip is exact.
  auto in = roundTrip(encodeScoreReply(12, "gram(toy)", {0.25, -1.5, 3.0, 0.0}, {2, 0}, 7.5f));
  auto root = in.getRoot<wire::RewardMessage>();
  EXPECT_EQ(root.getSeq(), 12u);
  auto reply = readScoreReply(root, 4);
  EXPECT_EQ(reply.model_name, "gram(toy)");
  EXPECT_EQ(reply.scores, (std::vector<double>{0.25, -1.5, 3.0, 0.0}));
  EXPECT_EQ(reply.best, (std::vector<uint32_t>{2, 0}));
  EXPECT_EQ(reply.compute_ms, 7.5f);
}

TEST(RewardCodec, ScoreReplyWithTheWrongCountIsAProtocolError) {
  auto in = roundTrip(encodeScoreReply(12, "rule", {1.0, 2.0}, {}, 0));
  try {
    readScoreReply(in.getRoot<wire::RewardMessage>(), 3);
    FAIL() << "no exception";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("2 scores for a request of 3 items"), std::string::npos) << e.what();
  }
}

// The dynamic type of what readScoreReply throws, and its message.
std::pair<std::string, std::string> thrownBy(wire::RewardMessage::Reader reply) {
  try {
    readScoreReply(reply, 1);
  } catch (const Overloaded& e) {
    return {"Overloaded", e.what()};
  } catch (const Timeout& e) {
    return {"Timeout", e.what()};
  } catch (const Disconnected& e) {
    return {"Disconnected", e.what()};
  } catch (const DataError& e) {
    return {"DataError", e.what()};
  } catch (const ProtocolError& e) {
    return {"ProtocolError", e.what()};
  } catch (const std::exception& e) {
    return {typeid(e).name(), e.what()};
  }
  return {"nothing", ""};
}

TEST(RewardCodec, ErrorRepliesThrowByCode) {
  const std::vector<std::pair<wire::ErrorCode, std::string>> cases = {
      {wire::ErrorCode::OVERLOADED, "Overloaded"},      {wire::ErrorCode::DEADLINE_EXCEEDED, "Timeout"},
      {wire::ErrorCode::SHUTTING_DOWN, "Disconnected"}, {wire::ErrorCode::MALFORMED, "DataError"},
      {wire::ErrorCode::TOO_LARGE, "DataError"},        {wire::ErrorCode::UNSUPPORTED, "DataError"},
      {wire::ErrorCode::INTERNAL, "DataError"},
  };
  for (const auto& [code, type] : cases) {
    auto in = roundTrip(encodeErrorReply(90, code, "server says why", 250));
    auto [thrown, what] = thrownBy(in.getRoot<wire::RewardMessage>());
    EXPECT_EQ(thrown, type) << static_cast<int>(code);
    EXPECT_NE(what.find("server says why"), std::string::npos) << what;
    EXPECT_NE(what.find("seq=90"), std::string::npos) << what;
  }
  auto overloaded = roundTrip(encodeErrorReply(1, wire::ErrorCode::OVERLOADED, "full", 250));
  EXPECT_NE(thrownBy(overloaded.getRoot<wire::RewardMessage>()).second.find("retry after 250 ms"), std::string::npos);
}

TEST(RewardCodec, OtherReplyKindsAreProtocolErrors) {
  auto pong = roundTrip(encodePong(4));
  EXPECT_EQ(thrownBy(pong.getRoot<wire::RewardMessage>()).first, "ProtocolError");
  OutgoingMessage request;
  auto root = request.initRoot<wire::RewardMessage>();
  fillScoreRequest(root, pointwiseRequest());
  auto in = roundTrip(std::move(request));
  EXPECT_EQ(thrownBy(in.getRoot<wire::RewardMessage>()).first, "ProtocolError");
}

}  // namespace
}  // namespace gramrl::reward
