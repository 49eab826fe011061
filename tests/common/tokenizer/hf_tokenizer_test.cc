// HfTokenizer on the real Qwen3 and Llama-3.1 files against Hugging Face's JavaScript
// implementation (tests/data/tokenizers/reference.json, scripts/reference/tokenizer).
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "common/tokenizer/unicode.h"
#include "tests/common/tokenizer/test_data.h"

namespace gramrl::tokenizer {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::reference;

std::vector<TokenId> idsOf(const json& value) { return value.get<std::vector<TokenId>>(); }

// Every sample: ids with and without special tokens, the decode, the skip-special decode and
// (for the hand-written samples) the pieces.
void checkSamples(const std::string& model) {
  const HfTokenizer& tok = testing::byName(model);
  size_t checked = 0;
  for (const json& sample : reference().at("samples")) {
    const std::string& name = sample.at("name").get_ref<const std::string&>();
    const std::string& text = sample.at("text").get_ref<const std::string&>();
    const json& expected = sample.at(model);
    SCOPED_TRACE(model + " sample " + name);
    const std::vector<TokenId> ids = idsOf(expected.at("ids"));
    const std::vector<TokenId> with_special = idsOf(expected.value("ids_with_special_tokens", expected.at("ids")));
    EXPECT_EQ(tok.encode(text, /*add_special_tokens=*/false), ids);
    EXPECT_EQ(tok.encode(text, /*add_special_tokens=*/true), with_special);
    const std::string decoded = expected.value("decoded", text);
    EXPECT_EQ(tok.decode(ids), decoded);
    EXPECT_EQ(tok.decode(with_special, /*skip_special_tokens=*/true), expected.value("decoded_skip_special", decoded));
    if (expected.contains("pieces")) {
      const auto pieces = expected.at("pieces").get<std::vector<std::string>>();
      ASSERT_EQ(pieces.size(), ids.size());
      for (size_t i = 0; i < ids.size(); ++i) {
        EXPECT_EQ(tok.idToPiece(ids[i]), pieces[i]);
        EXPECT_EQ(tok.tokenToId(pieces[i]), ids[i]);
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 300u);
}

TEST(HfTokenizerTest, Qwen3MatchesReferenceSamples) { checkSamples("qwen3"); }
TEST(HfTokenizerTest, Llama31MatchesReferenceSamples) { checkSamples("llama3.1"); }

// Arbitrary id sequences decode to bytes that need not be UTF-8; with U+FFFD replacement they
// equal Hugging Face's decode.
void checkDecodes(const std::string& model) {
  const HfTokenizer& tok = testing::byName(model);
  const json& decodes = reference().at("decodes").at(model);
  EXPECT_EQ(tok.vocabSize(), decodes.at("vocab_size").get<int32_t>());
  int invalid_utf8 = 0;
  for (const json& seq : decodes.at("sequences")) {
    const std::vector<TokenId> ids = idsOf(seq.at("ids"));
    SCOPED_TRACE(model + " ids " + seq.at("ids").dump());
    const std::string bytes = tok.decode(ids);
    invalid_utf8 += findInvalidUtf8(bytes) != kValidUtf8;
    EXPECT_EQ(toValidUtf8(bytes), seq.at("text").get<std::string>());
    EXPECT_EQ(toValidUtf8(tok.decode(ids, /*skip_special_tokens=*/true)),
              seq.at("text_skip_special").get<std::string>());
    // Decoding in pieces concatenates to the whole (NOTE [Decoded bytes]).
    std::string pieces;
    for (TokenId id : ids) pieces += tok.decode(&id, 1);
    EXPECT_EQ(pieces, bytes);
  }
  EXPECT_GT(invalid_utf8, 5);  // the fixture does exercise the replacement
}

TEST(HfTokenizerTest, Qwen3DecodesArbitraryIds) { checkDecodes("qwen3"); }
TEST(HfTokenizerTest, Llama31DecodesArbitraryIds) { checkDecodes("llama3.1"); }

TEST(HfTokenizerTest, Qwen3SpecialTokensFromConfigFiles) {
  const HfTokenizer& tok = testing::qwen3();
  EXPECT_EQ(tok.vocabSize(), 151669);
  EXPECT_EQ(tok.specialTokens().bos, std::nullopt);                    // bos_token: null
  EXPECT_EQ(tok.specialTokens().eos, 151645);                          // <|im_end|>
  EXPECT_EQ(tok.specialTokens().pad, 151643);                          // <|endoftext|>
  EXPECT_THAT(tok.specialTokens().stop, ElementsAre(151643, 151645));  // + generation_config.json
  EXPECT_EQ(tok.chatTemplateName(), "qwen3");
  EXPECT_TRUE(tok.isSpecial(151644));   // <|im_start|>
  EXPECT_FALSE(tok.isSpecial(151667));  // <think> is added but not special
  EXPECT_FALSE(tok.isSpecial(9707));
  EXPECT_EQ(tok.tokenToId("<think>"), 151667);
  EXPECT_EQ(tok.idToPiece(151668), "</think>");
  EXPECT_EQ(tok.tokenToId("not a token"), std::nullopt);
  EXPECT_EQ(tok.source(), testing::testDataDir() + "/qwen3");
}

TEST(HfTokenizerTest, Llama31SpecialTokensFromConfigFiles) {
  const HfTokenizer& tok = testing::llama31();
  EXPECT_EQ(tok.vocabSize(), 128256);
  EXPECT_EQ(tok.specialTokens().bos, 128000);  // <|begin_of_text|>
  EXPECT_EQ(tok.specialTokens().eos, 128009);  // <|eot_id|>
  EXPECT_EQ(tok.specialTokens().pad, std::nullopt);
  EXPECT_THAT(tok.specialTokens().stop, ElementsAre(128001, 128008, 128009));
  EXPECT_EQ(tok.chatTemplateName(), "llama3");
  EXPECT_TRUE(tok.isSpecial(128255));
  EXPECT_EQ(tok.idToPiece(128009), "<|eot_id|>");
}

TEST(HfTokenizerTest, RejectsTextThatIsNotUtf8AndIdsOutsideTheVocabulary) {
  const HfTokenizer& tok = testing::qwen3();
  try {
    tok.encode("ok \xC3\x28 bad");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("offset 3"));
  }
  EXPECT_THROW(tok.decode(std::vector<TokenId>{9707, 151669}), DataError);
  EXPECT_THROW(tok.decode(std::vector<TokenId>{-5}), DataError);
  EXPECT_THROW(tok.idToPiece(200000), DataError);
}

// Pre-tokens longer than 48 bytes take the heap merge path (the reference's long_* samples
// check it against transformers.js); much longer ones must still round-trip.
TEST(HfTokenizerTest, LongInputsRoundTrip) {
  for (const HfTokenizer* tok : {&testing::qwen3(), &testing::llama31()}) {
    SCOPED_TRACE(tok->source());
    for (const std::string& text : {std::string(200000, ' ') + "x", std::string(100000, 'a'), std::string(50000, '7'),
                                    std::string(20000, '\n') + "end", std::string(30000, 'z') + "\xF0\x9F\xA6\x80"}) {
      const std::vector<TokenId> ids = tok->encode(text, false);
      EXPECT_EQ(tok->decode(ids), text);
      EXPECT_LE(ids.size(), text.size());
      EXPECT_GT(ids.size(), 0u);
    }
  }
}

TEST(HfTokenizerTest, ConcurrentEncodingGivesTheSameIds) {
  const HfTokenizer& tok = testing::llama31();
  const json& samples = reference().at("samples");
  std::vector<std::vector<TokenId>> expected;
  for (const json& s : samples) expected.push_back(idsOf(s.at("llama3.1").at("ids")));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (size_t i = 0; i < samples.size(); ++i) {
          const size_t k = (i * 7 + t * 13) % samples.size();
          mismatches[t] += tok.encode(samples[k].at("text").get<std::string>(), false) != expected[k];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
}

}  // namespace
}  // namespace gramrl::tokenizer
