#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "common/tokenizer/byte_tokenizer.h"
#include "common/tokenizer/tokenizer.h"

namespace gramrl::tokenizer {
namespace {

using ::testing::ElementsAre;

TEST(ByteTokenizerTest, RoundTripsArbitraryBytesIncludingInvalidUtf8) {
  ByteTokenizer tok;
  const unsigned seed = 1234567;
  std::mt19937 rng(seed);
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::vector<std::string> inputs{"", all, "\xFF\xFE\xC0\x80\xED\xA0\x80", "caf\xC3\xA9", std::string(3, '\0')};
  for (int i = 0; i < 200; ++i) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    inputs.push_back(s);
  }
  for (const std::string& s : inputs) {
    const std::vector<TokenId> ids = tok.encode(s, /*add_special_tokens=*/false);
    ASSERT_EQ(ids.size(), s.size());  // no special-token text in these inputs
    for (size_t k = 0; k < s.size(); ++k) EXPECT_EQ(ids[k], static_cast<uint8_t>(s[k]));
    EXPECT_EQ(tok.decode(ids), s);
    const std::vector<TokenId> with_bos = tok.encode(s);
    ASSERT_EQ(with_bos.size(), s.size() + 1);
    EXPECT_EQ(with_bos.front(), kByteBos);
    EXPECT_EQ(tok.decode(with_bos, /*skip_special_tokens=*/true), s);
  }
}

TEST(ByteTokenizerTest, SpecialTokenTextBecomesItsId) {
  ByteTokenizer tok;
  EXPECT_THAT(tok.encode("<|user|>hi<|end|>", false), ElementsAre(kByteUser, 'h', 'i', kByteEnd));
  EXPECT_THAT(tok.encode("<|use<|eos|>", false), ElementsAre('<', '|', 'u', 's', 'e', kByteEos));
  EXPECT_THAT(tok.encode("<|assistant|>", true), ElementsAre(kByteBos, kByteAssistant));
  const std::string text = "<|bos|><|system|>s<|end|><|user|>u<|end|><|assistant|>a<|end|><|pad|>";
  EXPECT_EQ(tok.decode(tok.encode(text, false)), text);
  EXPECT_EQ(tok.decode(tok.encode(text, false), /*skip_special_tokens=*/true), "sua");
}

TEST(ByteTokenizerTest, PiecesAndIdsAreInverse) {
  ByteTokenizer tok;
  EXPECT_EQ(tok.idToPiece('A'), "A");
  EXPECT_EQ(tok.idToPiece('\n'), "<0x0A>");
  EXPECT_EQ(tok.idToPiece(' '), "<0x20>");
  EXPECT_EQ(tok.idToPiece(0xFF), "<0xFF>");
  EXPECT_EQ(tok.idToPiece(kByteAssistant), "<|assistant|>");
  for (TokenId id = 0; id < tok.vocabSize(); ++id) EXPECT_EQ(tok.tokenToId(tok.idToPiece(id)), id) << id;
  EXPECT_EQ(tok.tokenToId("<0x41>"), std::nullopt);  // 'A' is written as itself
  EXPECT_EQ(tok.tokenToId("<0xfe>"), std::nullopt);  // upper-case hex only
  EXPECT_EQ(tok.tokenToId("ab"), std::nullopt);
}

TEST(ByteTokenizerTest, VocabularyAndSpecialTokens) {
  std::unique_ptr<Tokenizer> tok = loadTokenizer("builtin:bytes");
  EXPECT_EQ(tok->vocabSize(), 263);
  EXPECT_EQ(tok->specialTokens().bos, kByteBos);
  EXPECT_EQ(tok->specialTokens().eos, kByteEos);
  EXPECT_EQ(tok->specialTokens().pad, kBytePad);
  EXPECT_THAT(tok->specialTokens().stop, ElementsAre(kByteEos, kByteEnd));
  EXPECT_EQ(tok->chatTemplateName(), "plain");
  EXPECT_EQ(tok->source(), "builtin:bytes");
  EXPECT_FALSE(tok->isSpecial(255));
  EXPECT_TRUE(tok->isSpecial(kBytePad));
  EXPECT_TRUE(tok->isSpecial(kByteEnd));
  EXPECT_FALSE(tok->isSpecial(kByteVocabSize));
}

TEST(ByteTokenizerTest, RejectsIdsOutsideTheVocabulary) {
  ByteTokenizer tok;
  EXPECT_THROW(tok.decode(std::vector<TokenId>{65, 263}), DataError);
  EXPECT_THROW(tok.decode(std::vector<TokenId>{-1}), DataError);
  EXPECT_THROW(tok.idToPiece(300), DataError);
}

}  // namespace
}  // namespace gramrl::tokenizer
