// `gramrl tokenize` (launch/tokenize_command.cc) on in-memory streams.
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "launch/tokenize_command.h"
#include "tests/common/tokenizer/test_data.h"

namespace gramrl::cli {
namespace {

using ::testing::HasSubstr;

std::string run(const TokenizeArgs& args, const std::string& input = "") {
  std::istringstream in(input);
  std::ostringstream out;
  EXPECT_EQ(runTokenize(args, in, out), 0);
  return out.str();
}

TEST(TokenizeCommandTest, JsonlFromStdinOneObjectPerLine) {
  TokenizeArgs args;
  args.tokenizer = "builtin:bytes";
  args.jsonl = true;
  EXPECT_EQ(run(args, "hi\n\n<|eos|> \xFF\n"),
            "{\"text\":\"hi\",\"ids\":[257,104,105],\"pieces\":[\"<|bos|>\",\"h\",\"i\"]}\n"
            "{\"text\":\"\",\"ids\":[257],\"pieces\":[\"<|bos|>\"]}\n"
            "{\"text\":\"<|eos|> \xEF\xBF\xBD\",\"ids\":[257,258,32,255],"
            "\"pieces\":[\"<|bos|>\",\"<|eos|>\",\"<0x20>\",\"<0xFF>\"]}\n");
  args.add_special_tokens = false;
  args.texts = {"a"};
  EXPECT_EQ(run(args), "{\"text\":\"a\",\"ids\":[97],\"pieces\":[\"a\"]}\n");
}

TEST(TokenizeCommandTest, ReadableFormWithAChatTemplate) {
  // The fixture's qwen3 "system_user" chat, rendered and encoded by transformers.js.
  const nlohmann::json* chat = nullptr;
  for (const auto& c : gramrl::tokenizer::testing::reference().at("chats")) {
    if (c.at("template") == "qwen3" && c.at("name") == "system_user") chat = &c;
  }
  ASSERT_NE(chat, nullptr);
  TokenizeArgs args;
  args.tokenizer = gramrl::tokenizer::testing::testDataDir() + "/qwen3";
  args.chat_template = "auto";
  args.system = chat->at("system").get<std::string>();
  args.texts = {chat->at("user").get<std::string>()};
  const auto ids = chat->at("ids").get<std::vector<int>>();
  const std::string out = run(args);
  EXPECT_THAT(out, ::testing::StartsWith("text:   " + nlohmann::json(chat->at("text")).dump() + "\n" +
                                         "ids:    " + nlohmann::json(ids).dump() + "  (" + std::to_string(ids.size()) +
                                         " tokens)\n" + "pieces: [\"<|im_start|>\", \"system\", \"Ċ\", \"You\", "));
  EXPECT_THAT(out, HasSubstr("\"<think>\", \"ĊĊ\", \"</think>\", \"ĊĊ\"]\n\n"));
}

TEST(TokenizeCommandTest, DecodesLinesOfIds) {
  TokenizeArgs args;
  args.tokenizer = "builtin:bytes";
  args.decode = true;
  EXPECT_EQ(run(args, "257 104 105\n[104, 105]\n\n228 189\n"), "<|bos|>hi\nhi\n\n\xEF\xBF\xBD\n");
  args.jsonl = true;
  EXPECT_EQ(run(args, "104,105\n"), "{\"ids\":[104,105],\"text\":\"hi\"}\n");
  try {
    run(args, "1 2\n3 x4\n");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("input 2: \"x4\" is not a token id"));
  }
  EXPECT_THROW(run(args, "999\n"), DataError);  // outside the vocabulary
}

TEST(TokenizeCommandTest, ErrorsForUnknownTemplatesAndTokenizers) {
  TokenizeArgs args;
  args.tokenizer = "builtin:bytes";
  args.chat_template = "nope";
  args.texts = {"x"};
  EXPECT_THROW(run(args), ConfigError);
  args.chat_template = "";
  args.tokenizer = "/nonexistent/dir";
  EXPECT_THROW(run(args), DataError);
}

}  // namespace
}  // namespace gramrl::cli
