// GRAM's judge prompt and stage-1 text, byte for byte, in each chat template; their token ids
// under the real Qwen3 and Llama-3.1 tokenizers; the label tokens; the fitting rule.
// Expected strings are written out from gram-paper.md section 1.2 / 2.2, not by the renderer.
#include <algorithm>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "common/tokenizer/byte_tokenizer.h"
#include "common/tokenizer/chat_template.h"
#include "common/tokenizer/tokenizer.h"
#include "reward/gram/judge_encoder.h"
#include "reward/gram/judge_template.h"

namespace gramrl::gram {
namespace {

const std::string kData = GRAMRL_GRAM_TOKENIZER_DATA;

// The official judge prompt for x = "What is 2+2?", y_a = "4", y_b = "5".
const std::string kOfficialS =
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to "
    "the user question displayed below. You should choose the assistant that follows the user's instructions and "
    "answers the user's question better.\n"
    "Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and "
    "level of detail of their responses. Avoid any position biases and ensure that the order in which the "
    "responses were presented does not influence your decision. Do not allow the length of the responses to "
    "influence your evaluation. Do not favor certain names of the assistants. Be as objective as possible.\n"
    "Please directly output your final verdict by strictly following this format: \"A\" if assistant A is better, "
    "\"B\" if assistant B is better.\n"
    "\n"
    "[User Question]\n"
    "What is 2+2?\n"
    "\n"
    "[The Start of Assistant A's Answer]\n"
    "4\n"
    "[The End of Assistant A's Answer]\n"
    "\n"
    "[The Start of Assistant B's Answer]\n"
    "5\n"
    "[The End of Assistant B's Answer]\n"
    "\n"
    "#Preferred:";

const std::string kQwen3Prompt =
    "<|im_start|>user\n" + kOfficialS + "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
// The Llama-3.1 Instruct template as gramrl renders it (HF's, as gram_eval.py feeds released
// models): it always writes the "Cutting Knowledge" system block.
const std::string kLlama3Prompt =
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
    "Today Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n" +
    kOfficialS + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
const std::string kPlainPrompt = "<|bos|><|user|>" + kOfficialS + "<|end|><|assistant|>";

std::vector<int64_t> encodeText(const tokenizer::Tokenizer& tok, const std::string& text) {
  const auto ids = tok.encode(text, /*add_special_tokens=*/false);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::string decodeIds(const tokenizer::Tokenizer& tok, const std::vector<int64_t>& ids) {
  return tok.decode(std::vector<tokenizer::TokenId>(ids.begin(), ids.end()));
}

TEST(JudgeTemplate, OfficialPromptIsByteExact) {
  EXPECT_EQ(renderJudgePrompt(judgeTemplate("official"), "What is 2+2?", "4", "5"), kOfficialS);
}

TEST(JudgeTemplate, CompactPromptAndStage1AreByteExact) {
  const JudgeTemplate& t = judgeTemplate("compact");
  EXPECT_EQ(renderJudgePrompt(t, "sort 3 1", "1 3", "3 1"), "Q:sort 3 1\nA:1 3\nB:3 1\n#:");
  const Stage1Text s = renderStage1(t, "sort 3 1", "1 3", "3 1");
  EXPECT_EQ(s.user, "Q:sort 3 1\n");
  EXPECT_EQ(s.assistant, "A:1 3\nB:3 1");
}

TEST(JudgeTemplate, OfficialStage1IsByteExact) {
  const Stage1Text s = renderStage1(judgeTemplate("official"), "What is 2+2?", "4", "5");
  EXPECT_EQ(s.user, "[User Question]\nWhat is 2+2?\n\n");
  EXPECT_EQ(s.assistant,
            "[The Start of Assistant A's Answer]\n4\n[The End of Assistant A's Answer]\n\n"
            "[The Start of Assistant B's Answer]\n5\n[The End of Assistant B's Answer]");
}

TEST(JudgeTemplate, UnknownNameIsConfigError) { EXPECT_THROW(judgeTemplate("fancy"), ConfigError); }

TEST(JudgeTemplate, ChatRenderingsAreByteExact) {
  tokenizer::ChatMessages m;
  m.user = kOfficialS;
  EXPECT_EQ(tokenizer::renderChat("qwen3", m), kQwen3Prompt);
  EXPECT_EQ(tokenizer::renderChat("llama3", m), kLlama3Prompt);
  EXPECT_EQ(tokenizer::renderChat("plain", m), kPlainPrompt);
}

class RealTokenizers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    qwen3_ = tokenizer::loadTokenizer(kData + "/qwen3").release();
    llama3_ = tokenizer::loadTokenizer(kData + "/llama3.1").release();
  }
  static void TearDownTestSuite() {
    delete qwen3_;
    delete llama3_;
  }
  static tokenizer::Tokenizer* qwen3_;
  static tokenizer::Tokenizer* llama3_;
};
tokenizer::Tokenizer* RealTokenizers::qwen3_ = nullptr;
tokenizer::Tokenizer* RealTokenizers::llama3_ = nullptr;

// gram-paper.md section 1.3 expects 32 and 33 in both vocabularies ("unverified"): verified here.
TEST_F(RealTokenizers, LabelsAreSingleTokens32And33) {
  for (const tokenizer::Tokenizer* tok : {qwen3_, llama3_}) {
    JudgeEncoder enc(*tok, tok == qwen3_ ? "qwen3" : "llama3", judgeTemplate("official"), 2048);
    EXPECT_EQ(enc.labelA(), 32) << tok->source();
    EXPECT_EQ(enc.labelB(), 33) << tok->source();
    EXPECT_EQ(tok->idToPiece(32), "A");
    EXPECT_EQ(tok->idToPiece(33), "B");
  }
}

TEST_F(RealTokenizers, Qwen3JudgePromptIds) {
  JudgeEncoder enc(*qwen3_, "qwen3", judgeTemplate("official"), 2048);
  const auto ids = enc.judgePrompt("What is 2+2?", "4", "5");
  EXPECT_EQ(ids, encodeText(*qwen3_, kQwen3Prompt));
  EXPECT_EQ(decodeIds(*qwen3_, ids), kQwen3Prompt);
  EXPECT_EQ(ids.front(), *qwen3_->tokenToId("<|im_start|>"));
  // The prompt ends with the empty think block; the label is the next token.
  EXPECT_EQ(decodeIds(*qwen3_, {ids.end() - 4, ids.end()}), "<think>\n\n</think>\n\n");
}

TEST_F(RealTokenizers, Llama3JudgePromptIds) {
  JudgeEncoder enc(*llama3_, "llama3", judgeTemplate("official"), 2048);
  const auto ids = enc.judgePrompt("What is 2+2?", "4", "5");
  EXPECT_EQ(ids, encodeText(*llama3_, kLlama3Prompt));
  EXPECT_EQ(decodeIds(*llama3_, ids), kLlama3Prompt);
  EXPECT_EQ(ids.front(), *llama3_->tokenToId("<|begin_of_text|>"));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), *llama3_->tokenToId("<|begin_of_text|>")), 1);  // no second BOS
}

TEST_F(RealTokenizers, Qwen3Stage1Ids) {
  JudgeEncoder enc(*qwen3_, "qwen3", judgeTemplate("official"), 2048);
  const EncodedStage1 s = enc.stage1("What is 2+2?", "4", "5");
  EXPECT_EQ(decodeIds(*qwen3_, s.prompt),
            "<|im_start|>user\n[User Question]\nWhat is 2+2?\n\n<|im_end|>\n<|im_start|>assistant\n<think>\n\n"
            "</think>\n\n");
  EXPECT_EQ(decodeIds(*qwen3_, s.target),
            "[The Start of Assistant A's Answer]\n4\n[The End of Assistant A's Answer]\n\n"
            "[The Start of Assistant B's Answer]\n5\n[The End of Assistant B's Answer]<|im_end|>");
  EXPECT_EQ(s.target.back(), *qwen3_->tokenToId("<|im_end|>"));
}

// The official-format options (issue 14), each pinned byte for byte.

// gram_eval.py writes "#Preferred: " with a space; the fine-tuning data has "#Preferred:".
TEST(JudgeTemplate, OfficialEvalEndsWithTheTrailingSpace) {
  const std::string eval = renderJudgePrompt(judgeTemplate("official-eval"), "What is 2+2?", "4", "5");
  EXPECT_EQ(eval, kOfficialS + " ");
  const std::string tail = "[The End of Assistant B's Answer]\n\n#Preferred: ";
  EXPECT_EQ(eval.substr(eval.size() - tail.size()), tail);
  EXPECT_EQ(renderJudgePrompt(judgeTemplate("official"), "What is 2+2?", "4", "5").back(), ':');
}

// LLaMA-Factory's llama3 template (GRAM's training): one BOS, no date block, no trimming; a system
// block only when there is a system message.
TEST_F(RealTokenizers, Llama3TrainRenderingAndIds) {
  tokenizer::ChatMessages m;
  m.user = " 2+2? ";
  EXPECT_EQ(tokenizer::renderChat("llama3-train", m),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n 2+2? <|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  m.system = "Be brief.";
  m.assistant = " 4\n";
  EXPECT_EQ(tokenizer::renderChat("llama3-train", m),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n 2+2? <|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n 4\n<|eot_id|>");
  JudgeEncoder enc(*llama3_, "llama3-train", judgeTemplate("official"), 2048);
  const auto ids = enc.judgePrompt("What is 2+2?", "4", "5");
  const std::string expected = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n" + kOfficialS +
                               "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
  EXPECT_EQ(decodeIds(*llama3_, ids), expected);
  EXPECT_EQ(ids, encodeText(*llama3_, expected));
  const auto bos = *llama3_->tokenToId("<|begin_of_text|>");
  EXPECT_EQ(ids.front(), bos);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), bos), 1);
  // Today's llama3 (the HF template, as the evaluation script renders it) adds the date block.
  EXPECT_LT(
      ids.size(),
      JudgeEncoder(*llama3_, "llama3", judgeTemplate("official"), 2048).judgePrompt("What is 2+2?", "4", "5").size());
}

// LLaMA-Factory's qwen3 template trains the stage-1 target through "<|im_end|>\n".
TEST_F(RealTokenizers, Qwen3TrainStage1TargetEndsWithImEndNewline) {
  JudgeEncoder enc(*qwen3_, "qwen3-train", judgeTemplate("official"), 2048);
  const EncodedStage1 s = enc.stage1("What is 2+2?", "4", "5");
  EXPECT_EQ(decodeIds(*qwen3_, s.prompt),
            "<|im_start|>user\n[User Question]\nWhat is 2+2?\n\n<|im_end|>\n<|im_start|>assistant\n<think>\n\n"
            "</think>\n\n");
  EXPECT_EQ(decodeIds(*qwen3_, s.target),
            "[The Start of Assistant A's Answer]\n4\n[The End of Assistant A's Answer]\n\n"
            "[The Start of Assistant B's Answer]\n5\n[The End of Assistant B's Answer]<|im_end|>\n");
  ASSERT_GE(s.target.size(), 2u);
  EXPECT_EQ(s.target[s.target.size() - 2], *qwen3_->tokenToId("<|im_end|>"));
  EXPECT_EQ(s.target.back(), 198);  // "\n" (Ċ) in the Qwen vocabulary
  EXPECT_EQ(qwen3_->idToPiece(198), "\xC4\x8A");
  // The prompt is qwen3's; only the target's end differs.
  const EncodedStage1 hf =
      JudgeEncoder(*qwen3_, "qwen3", judgeTemplate("official"), 2048).stage1("What is 2+2?", "4", "5");
  EXPECT_EQ(s.prompt, hf.prompt);
  EXPECT_EQ(s.target.size(), hf.target.size() + 1);
}

// A tokenizer that splits "A" into two tokens, as a tokenizer with a leading-space vocabulary might.
class SplitLabelTokenizer final : public tokenizer::Tokenizer {
 public:
  std::vector<tokenizer::TokenId> encode(std::string_view text, bool add_special_tokens) const override {
    if (text == "A") return {65, 65};
    return bytes_.encode(text, add_special_tokens);
  }
  std::string decode(const tokenizer::TokenId* ids, size_t count, bool skip) const override {
    return bytes_.decode(ids, count, skip);
  }
  std::string idToPiece(tokenizer::TokenId id) const override { return bytes_.idToPiece(id); }
  std::optional<tokenizer::TokenId> tokenToId(std::string_view piece) const override { return bytes_.tokenToId(piece); }
  int32_t vocabSize() const override { return bytes_.vocabSize(); }
  bool isSpecial(tokenizer::TokenId id) const override { return bytes_.isSpecial(id); }
  const tokenizer::SpecialTokenIds& specialTokens() const override { return bytes_.specialTokens(); }
  const std::string& chatTemplateName() const override { return bytes_.chatTemplateName(); }
  const std::string& source() const override { return bytes_.source(); }

 private:
  tokenizer::ByteTokenizer bytes_;
};

TEST(JudgeEncoder, LabelThatIsNotOneTokenIsConfigError) {
  SplitLabelTokenizer tok;
  try {
    JudgeEncoder enc(tok, "plain", judgeTemplate("compact"), 512);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("\"A\""), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2 tokens"), std::string::npos) << e.what();
  }
}

TEST(JudgeEncoder, TemplateWithoutEndOfTurnTokenIsConfigError) {
  tokenizer::ByteTokenizer tok;  // has no <|im_end|>
  EXPECT_THROW(JudgeEncoder(tok, "qwen3", judgeTemplate("compact"), 512), ConfigError);
}

TEST(CutToFraction, StopsAtUtf8Boundaries) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // a é € 😀: 1 + 2 + 3 + 4 bytes
  EXPECT_EQ(cutToFraction(s, 0.0), "");
  EXPECT_EQ(cutToFraction(s, 0.1), "a");
  EXPECT_EQ(cutToFraction(s, 0.2), "a");  // byte 2 is inside é
  EXPECT_EQ(cutToFraction(s, 0.3), "a\xC3\xA9");
  EXPECT_EQ(cutToFraction(s, 0.5), "a\xC3\xA9");  // bytes 4, 5 are inside €
  EXPECT_EQ(cutToFraction(s, 0.6), "a\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(cutToFraction(s, 0.9), "a\xC3\xA9\xE2\x82\xAC");  // inside 😀
  EXPECT_EQ(cutToFraction(s, 1.0), s);
  EXPECT_EQ(cutToFraction(s, 7.0), s);
  EXPECT_EQ(cutToFraction(s, -1.0), "");
}

// NOTE [Fitting the judge input] with the byte tokenizer (one token per byte): the compact
// prompt in the plain template is 4 special tokens + "Q:q\n" + "A:" a "\n" + "B:" b "\n" + "#:",
// 16 + |a| + |b| tokens. With |a| = 100, |b| = 50 and max_tokens 102 it must reach
// |a'| + |b'| <= 86: fraction 0.9^5 gives 59 + 29 = 88 (too long), 0.9^6 gives 53 + 26 = 79.
// The stage-1 example is 4 + "Q:q\n" + "A:" a "\nB:" b + <|end|> = 14 + |a| + |b| tokens: it
// needs <= 88, so 0.9^5 (59, 29) fits.
TEST(JudgeEncoder, FittingCutsBothResponsesProportionally) {
  tokenizer::ByteTokenizer tok;
  JudgeEncoder enc(tok, "plain", judgeTemplate("compact"), 102);
  const std::string a(100, 'a'), b(50, 'b');
  const auto ids = enc.judgePrompt("q", a, b);
  EXPECT_EQ(decodeIds(tok, ids), "<|bos|><|user|>Q:q\nA:" + std::string(53, 'a') + "\nB:" + std::string(26, 'b') +
                                     "\n#:<|end|><|assistant|>");
  EXPECT_EQ(ids.size(), 16u + 53u + 26u);

  const EncodedStage1 s = enc.stage1("q", a, b);
  EXPECT_EQ(decodeIds(tok, s.prompt), "<|bos|><|user|>Q:q\n<|end|><|assistant|>");
  EXPECT_EQ(decodeIds(tok, s.target), "A:" + std::string(59, 'a') + "\nB:" + std::string(29, 'b') + "<|end|>");

  // What fits is not cut.
  EXPECT_EQ(decodeIds(tok, enc.judgePrompt("q", "xy", "z")), "<|bos|><|user|>Q:q\nA:xy\nB:z\n#:<|end|><|assistant|>");
}

TEST(JudgeEncoder, QuestionThatDoesNotFitIsDataError) {
  tokenizer::ByteTokenizer tok;
  JudgeEncoder enc(tok, "plain", judgeTemplate("compact"), 64);
  EXPECT_THROW(enc.judgePrompt(std::string(60, 'q'), "a", "b"), DataError);
  EXPECT_THROW(enc.stage1(std::string(60, 'q'), "a", "b"), DataError);
}

}  // namespace
}  // namespace gramrl::gram
