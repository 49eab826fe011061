// libFuzzer target: the reward server's request decoder (NOTE [Decoding reward requests]) and
// the client's reply reader, on untrusted bytes. Input layout: NOTE [Fuzz input layout].
//
// Besides "no crash, no sanitizer report, no exception escapes", it checks what the decoder
// promises: an accepted request is within the limits, all its text is valid UTF-8 and no group
// is empty; it survives fillScoreRequest -> frames -> decodeRewardFrames unchanged; a rejection
// carries a message and is never INTERNAL (that would be an unexpected exception inside).
// Any broken promise aborts, which libFuzzer reports as a crash with its reproducer.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "common/core/errors.h"
#include "common/tokenizer/unicode.h"
#include "reward/service/reward_codec.h"
#include "tests/fuzz/fuzz_input.h"

namespace gramrl::fuzz {
namespace {

// Small limits, so that the fuzzer reaches them.
transport::ReceiveLimits receiveLimits() {
  transport::ReceiveLimits limits;
  limits.max_message_bytes = size_t{1} << 20;
  limits.max_segments = 16;
  return limits;
}

reward::RequestLimits requestLimits() {
  reward::RequestLimits limits;
  limits.max_items = 64;
  limits.max_text_bytes = 16 << 10;
  return limits;
}

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "reward_decoder_fuzz: broken promise: %s\n", what.c_str());
  std::abort();
}

void checkText(const std::string& text, const char* field) {
  if (tokenizer::findInvalidUtf8(text) != tokenizer::kValidUtf8)
    broken(std::string("invalid UTF-8 accepted in ") + field);
}

bool sameRequest(const reward::ScoreRequest& a, const reward::ScoreRequest& b) {
  if (a.policy_version != b.policy_version || a.deadline_unix_ms != b.deadline_unix_ms || a.kind != b.kind) {
    return false;
  }
  if (a.pointwise.size() != b.pointwise.size() || a.pairwise.size() != b.pairwise.size() ||
      a.best_of_n.size() != b.best_of_n.size()) {
    return false;
  }
  for (size_t i = 0; i < a.pointwise.size(); ++i) {
    const auto &x = a.pointwise[i], &y = b.pointwise[i];
    if (x.prompt != y.prompt || x.response != y.response || x.reference != y.reference || x.label != y.label) {
      return false;
    }
  }
  for (size_t i = 0; i < a.pairwise.size(); ++i) {
    const auto &x = a.pairwise[i], &y = b.pairwise[i];
    if (x.prompt != y.prompt || x.response_a != y.response_a || x.response_b != y.response_b) return false;
  }
  for (size_t i = 0; i < a.best_of_n.size(); ++i) {
    if (a.best_of_n[i].prompt != b.best_of_n[i].prompt || a.best_of_n[i].candidates != b.best_of_n[i].candidates) {
      return false;
    }
  }
  return true;
}

void checkAccepted(const reward::DecodedRequest& decoded) {
  if (decoded.ping) return;
  const auto& r = decoded.request;
  const auto limits = requestLimits();
  if (r.itemCount() > limits.max_items) broken("item count above the limit accepted");
  if (r.textBytes() > limits.max_text_bytes) broken("text bytes above the limit accepted");
  for (const auto& item : r.pointwise) {
    checkText(item.prompt, "pointwise.prompt");
    checkText(item.response, "pointwise.response");
    checkText(item.reference, "pointwise.reference");
    checkText(item.label, "pointwise.label");
  }
  for (const auto& item : r.pairwise) {
    checkText(item.prompt, "pairwise.prompt");
    checkText(item.response_a, "pairwise.responseA");
    checkText(item.response_b, "pairwise.responseB");
  }
  for (const auto& group : r.best_of_n) {
    if (group.candidates.empty()) broken("an empty candidate group accepted");
    checkText(group.prompt, "bestOfN.prompt");
    for (const auto& c : group.candidates) checkText(c, "bestOfN.candidates");
  }
  // Round trip through the client's encoder.
  transport::OutgoingMessage message;
  auto root = message.initRoot<wire::RewardMessage>();
  root.setSeq(decoded.seq);
  reward::fillScoreRequest(root, r);
  auto again = reward::decodeRewardFrames(transport::encodeFrames(transport::Channel::kReward, std::move(message)),
                                          receiveLimits(), limits);
  if (!again.ok()) broken("a re-encoded accepted request was rejected: " + again.error);
  if (again.seq != decoded.seq || !sameRequest(again.request, r)) broken("the re-encoded request differs");
}

void fuzzServer(const uint8_t* data, size_t size) {
  auto input = splitInput(data, size);
  auto decoded = reward::decodeRewardFrames(std::move(input.frames), receiveLimits(), requestLimits());
  if (decoded.ok()) {
    checkAccepted(decoded);
    return;
  }
  if (decoded.error_code == wire::ErrorCode::INTERNAL) broken("INTERNAL rejection: " + decoded.error);
  if (decoded.ping) broken("a rejected message marked as ping");
}

void fuzzClient(const uint8_t* data, size_t size) {
  auto input = splitInput(data, size);
  transport::IncomingMessage message;
  try {
    message = transport::decodeFrames(transport::Channel::kReward, std::move(input.frames), receiveLimits());
  } catch (const ProtocolError&) {
    return;
  }
  try {
    auto root = message.getRoot<wire::RewardMessage>();
    const size_t expected = size > 1 ? data[1] % 8 : 0;
    auto reply = reward::readScoreReply(root, expected);
    if (reply.scores.size() != expected) broken("readScoreReply returned the wrong number of scores");
  } catch (const Error&) {
    // ProtocolError, DataError, Overloaded, Timeout, Disconnected: the documented outcomes
  }
}

}  // namespace
}  // namespace gramrl::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gramrl::fuzz::fuzzServer(data, size);
  gramrl::fuzz::fuzzClient(data, size);
  return 0;
}
