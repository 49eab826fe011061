// ChatEncoder on the byte tokenizer: the end-of-turn token after a response, and the truncation
// rules of NOTE [Response tokens] (prompts lose their start, responses their end).
#include "common/tokenizer/chat_encoder.h"

#include <gtest/gtest.h>

#include "common/tokenizer/tokenizer.h"

namespace gramrl::tokenizer {
namespace {

TEST(ChatEncoderTest, AppendsEndOfTurnAndTruncates) {
  auto tok = loadTokenizer("builtin:bytes");
  const ChatEncoder encoder(*tok, "plain", 4, 3);
  EXPECT_EQ(encoder.endOfTurnId(), 262);
  EXPECT_EQ(encoder.response("ab"), (std::vector<int64_t>{'a', 'b', 262}));
  EXPECT_EQ(encoder.response("abcd"), (std::vector<int64_t>{'a', 'b', 'c'}));  // cut: no end-of-turn
  // <|bos|><|user|>xy<|end|><|assistant|> keeps its last 4 tokens.
  EXPECT_EQ(encoder.prompt(std::nullopt, "xy"), (std::vector<int64_t>{'x', 'y', 262, 261}));
}

}  // namespace
}  // namespace gramrl::tokenizer
