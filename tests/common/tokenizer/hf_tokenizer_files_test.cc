// HfTokenizer on small hand-made tokenizer.json files: each pipeline stage with hand-derived ids,
// and the DataErrors for files that are missing, corrupt or use what we do not support.
#include <zlib.h>

#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "common/tokenizer/byte_level.h"
#include "common/tokenizer/hf_tokenizer.h"
#include "common/tokenizer/pre_tokenizer.h"
#include "tests/common/tokenizer/test_data.h"

namespace gramrl::tokenizer {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Ids 0..255 are the bytes; 256 "ab", 257 "abc", 258 "Ġa", 259 "xyz" (no merge makes it),
// 260 "bc"; merges (rank order) a+b, ab+c, Ġ+a, b+c in both JSON forms. Added tokens: <L>
// (lstrip, special), <R> (rstrip), <|s|> (special, wrapped around every sequence), é
// (normalized: matched after NFC).
json syntheticTokenizer() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byteLevelEncode(std::string(1, static_cast<char>(b)))] = b;
  vocab["ab"] = 256;
  vocab["abc"] = 257;
  vocab["Ġa"] = 258;
  vocab["xyz"] = 259;
  vocab["bc"] = 260;
  auto added = [](int id, const char* content, bool special, bool lstrip, bool rstrip, bool normalized) {
    return json{{"id", id},         {"content", content},       {"single_word", false}, {"lstrip", lstrip},
                {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
  };
  return json{
      {"version", "1.0"},
      {"added_tokens",
       json::array({added(261, "<L>", true, true, false, false), added(262, "<R>", false, false, true, false),
                    added(263, "<|s|>", true, false, false, false), added(264, "\u00E9", false, false, false, true)})},
      {"normalizer", {{"type", "NFC"}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array(
             {{{"type", "Split"},
               {"pattern", {{"Regex", " ?\\p{L}+|\\s+|\\p{N}"}}},
               {"behavior", "Isolated"},
               {"invert", false}},
              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}})}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", json::array({{{"SpecialToken", {{"id", "<|s|>"}, {"type_id", 0}}}},
                                {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                {{"SpecialToken", {{"id", "<|s|>"}, {"type_id", 0}}}}})},
        {"pair", json::array()},
        {"special_tokens", {{"<|s|>", {{"id", "<|s|>"}, {"ids", {263}}, {"tokens", {"<|s|>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", json::array({"a b", {"ab", "c"}, "Ġ a", {"b", "c"}})}}}};
}

json syntheticConfig() {
  return json{
      {"bos_token", {{"__type", "AddedToken"}, {"content", "<|s|>"}}},
      {"eos_token", "<|s|>"},
      {"chat_template", json::array({{{"name", "tool_use"}, {"template", "x"}},
                                     {{"name", "default"}, {"template", "<|im_start|>{{ enable_thinking }}"}}})}};
}

std::string writeTokenizerDir(const json& tokenizer, const json& config = syntheticConfig()) {
  const std::string dir = testing::makeTempDir();
  testing::writeFile(dir + "/tokenizer.json", tokenizer.dump());
  testing::writeFile(dir + "/tokenizer_config.json", config.dump());
  testing::writeFile(dir + "/config.json", R"({"eos_token_id": [263, 261]})");
  return dir;
}

TEST(HfTokenizerFilesTest, SyntheticTokenizerFollowsEachStage) {
  const std::string dir = writeTokenizerDir(syntheticTokenizer());
  const auto tok = HfTokenizer::load(dir);
  EXPECT_THAT(tok->encode("abc", false), ElementsAre(257));  // a+b first (rank 0), then ab+c
  EXPECT_THAT(tok->encode("bc", false), ElementsAre(260));
  EXPECT_THAT(tok->encode(" abc", false), ElementsAre(' ', 257));                 // Ġa (rank 2) loses to a+b
  EXPECT_THAT(tok->encode("xyz", false), ElementsAre('x', 'y', 'z'));             // no merges reach "xyz"
  EXPECT_THAT(tok->encode("ab12", false), ElementsAre(256, '1', '2'));            // \p{N} splits digits
  EXPECT_THAT(tok->encode("abc", true), ElementsAre(263, 257, 263));              // TemplateProcessing
  EXPECT_THAT(tok->encode("a <L> b", false), ElementsAre('a', 261, ' ', 'b'));    // lstrip ate "a"'s space
  EXPECT_THAT(tok->encode("a <R> b", false), ElementsAre('a', ' ', 262, 'b'));    // rstrip ate " b"'s space
  EXPECT_THAT(tok->encode("e\u0301 \u00E9", false), ElementsAre(264, ' ', 264));  // NFC, then matched
  EXPECT_EQ(tok->decode(std::vector<TokenId>{263, 257, 262, 261, 264}), "<|s|>abc<R><L>\u00E9");
  EXPECT_EQ(tok->decode(std::vector<TokenId>{263, 257, 262, 261}, /*skip_special_tokens=*/true), "abc<R>");
  EXPECT_EQ(tok->idToPiece(258), "Ġa");
  EXPECT_EQ(tok->specialTokens().bos, 263);
  EXPECT_EQ(tok->specialTokens().eos, 263);
  EXPECT_THAT(tok->specialTokens().stop, ElementsAre(261, 263));
  EXPECT_EQ(tok->chatTemplateName(), "qwen3");  // the "default" entry of the list
  EXPECT_EQ(tok->vocabSize(), 265);
}

TEST(HfTokenizerFilesTest, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  json t = syntheticTokenizer();
  t["model"]["ignore_merges"] = true;
  const auto tok = HfTokenizer::load(writeTokenizerDir(t));
  EXPECT_THAT(tok->encode("xyz", false), ElementsAre(259));
  EXPECT_THAT(tok->encode("abc", false), ElementsAre(257));
  EXPECT_THAT(tok->encode("xyzx", false), ElementsAre('x', 'y', 'z', 'x'));
}

TEST(HfTokenizerFilesTest, ReadsGzipCompressedFilesAndFilePaths) {
  const std::string dir = testing::makeTempDir();
  const std::string text = syntheticTokenizer().dump();
  gzFile gz = gzopen((dir + "/tokenizer.json.gz").c_str(), "wb9");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
  EXPECT_THAT(HfTokenizer::load(dir)->encode("abc"), ElementsAre(263, 257, 263));
  EXPECT_THAT(HfTokenizer::load(dir + "/tokenizer.json.gz")->encode("bc", false), ElementsAre(260));
  EXPECT_EQ(HfTokenizer::load(dir)->specialTokens().eos, std::nullopt);  // no tokenizer_config.json here
}

// Loading must fail with a DataError whose message contains each of `parts`.
void expectLoadError(const std::string& path, std::vector<std::string> parts) {
  try {
    HfTokenizer::load(path);
    ADD_FAILURE() << "loading " << path << " did not throw";
  } catch (const DataError& e) {
    for (const auto& part : parts) EXPECT_THAT(e.what(), HasSubstr(part));
  }
}

void expectMutationError(const std::function<void(json&)>& mutate, const std::string& field) {
  json t = syntheticTokenizer();
  mutate(t);
  const std::string dir = writeTokenizerDir(t);
  expectLoadError(dir, {dir + "/tokenizer.json: ", field});
}

TEST(HfTokenizerFilesTest, MissingOrCorruptFilesNameTheFile) {
  expectLoadError("/nonexistent/tokenizer-dir", {"/nonexistent/tokenizer-dir", "no such tokenizer directory"});
  const std::string empty = testing::makeTempDir();
  expectLoadError(empty, {empty, "no tokenizer.json or tokenizer.json.gz"});

  const std::string corrupt = testing::makeTempDir();
  testing::writeFile(corrupt + "/tokenizer.json", "{\"model\": {\"vocab\": ");
  expectLoadError(corrupt, {corrupt + "/tokenizer.json", "not valid JSON"});

  const std::string truncated = testing::makeTempDir();
  const std::string gz_path = truncated + "/tokenizer.json.gz";
  const std::string text = syntheticTokenizer().dump();
  gzFile out = gzopen(gz_path.c_str(), "wb");
  ASSERT_NE(out, nullptr);
  gzwrite(out, text.data(), static_cast<unsigned>(text.size()));
  gzclose(out);
  const std::string bytes = testing::readFile(gz_path);
  testing::writeFile(gz_path, bytes.substr(0, bytes.size() / 2));
  expectLoadError(truncated, {gz_path, "cannot read"});

  const std::string bad_config = writeTokenizerDir(syntheticTokenizer(), json{{"eos_token", "<nope>"}});
  expectLoadError(bad_config, {bad_config + "/tokenizer_config.json", "eos_token", "<nope>"});
}

TEST(HfTokenizerFilesTest, BadOrUnsupportedFieldsNameTheField) {
  expectMutationError([](json& t) { t["model"].erase("vocab"); }, "model.vocab: missing");
  expectMutationError([](json& t) { t["model"]["merges"][1] = "ab c d"; }, "model.merges[1]");
  expectMutationError([](json& t) { t["model"]["merges"][0] = "a q9"; }, "model.merges[0]");
  expectMutationError([](json& t) { t["model"]["merges"][2] = json::array({"x", 5}); }, "model.merges[2]");
  expectMutationError([](json& t) { t["model"]["vocab"].erase("Ġ"); }, "no token for the byte 0x20");
  expectMutationError([](json& t) { t["model"]["vocab"]["ab"] = "x"; }, "model.vocab[\"ab\"]");
  expectMutationError([](json& t) { t["model"]["dropout"] = 0.1; }, "model.dropout");
  expectMutationError([](json& t) { t["model"]["type"] = "WordPiece"; }, "model.type");
  expectMutationError([](json& t) { t["normalizer"] = {{"type", "NFKC"}}; }, "normalizer.type");
  expectMutationError([](json& t) { t["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed"; },
                      "pre_tokenizer.pretokenizers[0].behavior");
  expectMutationError([](json& t) { t["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed"; },
                      "does not compile");
  expectMutationError([](json& t) { t["pre_tokenizer"] = {{"type", "Whitespace"}}; }, "pre_tokenizer.type");
  expectMutationError([](json& t) { t["pre_tokenizer"]["pretokenizers"].erase(1); }, "ByteLevel pre-tokenizer");
  expectMutationError([](json& t) { t["added_tokens"][0]["single_word"] = true; }, "added_tokens[0].single_word");
  expectMutationError([](json& t) { t["added_tokens"][1]["id"] = -3; }, "added_tokens[1].id");
  expectMutationError([](json& t) { t["post_processor"] = {{"type", "RobertaProcessing"}}; }, "post_processor.type");
  expectMutationError([](json& t) { t["decoder"] = {{"type", "WordPiece"}}; }, "decoder.type");
}

TEST(PreTokenizerTest, TranslatesOnigurumaConstructs) {
  EXPECT_EQ(translateOnigPattern(R"(\s+(?!\S))", "p"), R"(\p{White_Space}+(?!\P{White_Space}))");
  EXPECT_EQ(translateOnigPattern(R"((?i:'s|'ll)|\p{L}+)", "p"), R"((?:'[sS]|'[lL][lL])|\p{L}+)");
  EXPECT_EQ(translateOnigPattern(R"([^\s\p{L}\p{N}]?)", "p"), R"([^\p{White_Space}\p{L}\p{N}]?)");
  EXPECT_EQ(translateOnigPattern(R"((?i:\p{Lu}x))", "p"), R"((?:\p{Lu}[xX]))");
  EXPECT_THROW(translateOnigPattern("(?i:[a-z])", "p"), DataError);
  EXPECT_THROW(translateOnigPattern("(?i)abc", "p"), DataError);
}

TEST(PreTokenizerTest, IsolatedSplitKeepsMatchesAndGaps) {
  RegexSplitter digits(R"(\p{N}+)", "test");
  std::vector<std::string_view> pieces;
  digits.split("ab12cd3", pieces);
  EXPECT_THAT(pieces, ElementsAre("ab", "12", "cd", "3"));
  pieces.clear();
  digits.split("", pieces);
  EXPECT_TRUE(pieces.empty());
  RegexSplitter empty_matches("x*", "test");  // matches empty strings everywhere
  pieces.clear();
  empty_matches.split("axxb", pieces);
  EXPECT_THAT(pieces, ElementsAre("a", "xx", "b"));
  // White space is the Unicode property: U+0085 and U+3000 yes, U+180E no.
  RegexSplitter spaces(R"(\s+)", "test");
  pieces.clear();
  spaces.split("a\u0085\u3000b\u180Ec", pieces);
  EXPECT_THAT(pieces, ElementsAre("a", "\u0085\u3000", "b\u180Ec"));
}

}  // namespace
}  // namespace gramrl::tokenizer
