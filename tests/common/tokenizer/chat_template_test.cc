// Chat templates against the Hugging Face renderings in reference.json (@huggingface/jinja,
// cross-checked with Python's jinja2 by scripts/reference/tokenizer/check_chats_jinja2.py).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "common/tokenizer/byte_tokenizer.h"
#include "common/tokenizer/chat_template.h"
#include "common/tokenizer/hf_tokenizer_files.h"
#include "tests/common/tokenizer/test_data.h"

namespace gramrl::tokenizer {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

ChatMessages messagesOf(const json& chat) {
  ChatMessages m;
  if (chat.contains("system")) m.system = chat.at("system").get<std::string>();
  m.user = chat.at("user").get<std::string>();
  if (chat.contains("assistant")) m.assistant = chat.at("assistant").get<std::string>();
  return m;
}

TEST(ChatTemplateTest, RendersExactlyAsHuggingFace) {
  std::map<std::string, int> per_template;
  for (const json& chat : testing::reference().at("chats")) {
    const std::string name = chat.at("template").get<std::string>();
    SCOPED_TRACE(name + " " + chat.at("name").get<std::string>());
    const ChatMessages messages = messagesOf(chat);
    EXPECT_EQ(renderChat(name, messages), chat.at("text").get<std::string>());
    const HfTokenizer& tok = testing::byName(chat.at("tokenizer").get<std::string>());
    EXPECT_EQ(encodeChat(tok, name, messages), chat.at("ids").get<std::vector<TokenId>>());
    ++per_template[name];
  }
  EXPECT_THAT(per_template, ElementsAre(std::pair<const std::string, int>("llama3", 15),
                                        std::pair<const std::string, int>("qwen2.5", 15),
                                        std::pair<const std::string, int>("qwen3", 14)));
}

// Where @huggingface/jinja's strip(chars) ignores its argument, we follow Python's jinja2 (what
// transformers and vLLM run); these strings are checked by check_chats_jinja2.py (PYTHON_ONLY).
TEST(ChatTemplateTest, FollowsPythonStringMethods) {
  EXPECT_EQ(renderChat("qwen3", {std::nullopt, "Hi", "\n\n  Hello!  \n"}),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n  Hello!  \n<|im_end|>\n");
  EXPECT_EQ(renderChat("qwen3", {std::nullopt, "Q", "<think>\n  plan \n</think>\n  answer"}),
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n  plan \n</think>\n\n  answer<|im_end|>\n");
  EXPECT_EQ(renderChat("llama3", {std::nullopt, "\x1c\u0085 hi \x1f", std::nullopt}),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplateTest, Llama3DateIsAnOption) {
  ChatTemplateOptions options;
  options.date_string = "01 Jan 2026";
  EXPECT_THAT(renderChat("llama3", {std::nullopt, "x", std::nullopt}, options),
              HasSubstr("\nToday Date: 01 Jan 2026\n\n<|eot_id|>"));
}

TEST(ChatTemplateTest, PlainTemplateWithTheByteTokenizer) {
  EXPECT_EQ(renderChat("plain", {std::nullopt, "hi", std::nullopt}), "<|bos|><|user|>hi<|end|><|assistant|>");
  EXPECT_EQ(renderChat("plain", {"be nice", " hi\n", "ok"}),
            "<|bos|><|system|>be nice<|end|><|user|> hi\n<|end|><|assistant|>ok<|end|>");
  ByteTokenizer tok;
  EXPECT_THAT(encodeChat(tok, "plain", {std::nullopt, "hi", std::nullopt}),
              ElementsAre(kByteBos, kByteUser, 'h', 'i', kByteEnd, kByteAssistant));
  EXPECT_THAT(encodeChat(tok, "plain", {"s", "u", "a"}), ElementsAre(kByteBos, kByteSystem, 's', kByteEnd, kByteUser,
                                                                     'u', kByteEnd, kByteAssistant, 'a', kByteEnd));
}

// With an assistant message the prompt (generation-prompt rendering) is a prefix of the whole,
// so the response's tokens are those after the prompt's (as long as the tokens at the seam
// agree, which the end of every prompt here guarantees: a special token or "\n\n").
TEST(ChatTemplateTest, PromptIsAPrefixOfTheFinishedConversation) {
  for (const std::string& name : chatTemplateNames()) {
    SCOPED_TRACE(name);
    const ChatMessages prompt{"sys", "question", std::nullopt};
    ChatMessages full = prompt;
    full.assistant = "The answer.";
    const std::string p = renderChat(name, prompt);
    const std::string f = renderChat(name, full);
    EXPECT_THAT(f, StartsWith(p));
    EXPECT_EQ(f.substr(f.size() - std::string(chatEndOfTurnToken(name)).size() - (name.rfind("qwen", 0) == 0)),
              std::string(chatEndOfTurnToken(name)) + (name.rfind("qwen", 0) == 0 ? "\n" : ""));
  }
  const HfTokenizer& qwen = testing::qwen3();
  const std::vector<TokenId> p = encodeChat(qwen, "qwen3", {std::nullopt, "2+2?", std::nullopt});
  const std::vector<TokenId> f = encodeChat(qwen, "qwen3", {std::nullopt, "2+2?", "4"});
  ASSERT_GT(f.size(), p.size());
  EXPECT_TRUE(std::equal(p.begin(), p.end(), f.begin()));
  EXPECT_EQ(qwen.decode(f.data() + p.size(), f.size() - p.size()), "4<|im_end|>\n");
}

TEST(ChatTemplateTest, RecognisesTheShippedTemplates) {
  auto templateOf = [](const std::string& model) {
    return json::parse(readMaybeGzipFile(testing::testDataDir() + "/" + model + "/tokenizer_config.json"))
        .at("chat_template")
        .get<std::string>();
  };
  EXPECT_EQ(chatTemplateNameFor(templateOf("qwen3")), "qwen3");
  EXPECT_EQ(chatTemplateNameFor(templateOf("llama3.1")), "llama3");
  EXPECT_EQ(chatTemplateNameFor(readMaybeGzipFile(testing::testDataDir() + "/qwen2.5_chat_template.jinja")), "qwen2.5");
  EXPECT_EQ(chatTemplateNameFor("{{ messages }}"), "");
}

TEST(ChatTemplateTest, RejectsUnknownNamesAndInvalidUtf8) {
  EXPECT_THROW(renderChat("llama2", {std::nullopt, "x", std::nullopt}), ConfigError);
  EXPECT_THROW(chatEndOfTurnToken("chatml"), ConfigError);
  EXPECT_THROW(renderChat("qwen3", {std::nullopt, "bad \xFF", std::nullopt}), DataError);
  EXPECT_STREQ(chatEndOfTurnToken("llama3"), "<|eot_id|>");
  EXPECT_STREQ(chatEndOfTurnToken("qwen2.5"), "<|im_end|>");
  EXPECT_STREQ(chatEndOfTurnToken("plain"), "<|end|>");
}

}  // namespace
}  // namespace gramrl::tokenizer
