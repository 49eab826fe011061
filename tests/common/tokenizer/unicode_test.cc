// UTF-8 validation and replacement, white space, NFC. Expected values are hand-derived from the
// WHATWG encoding standard and checked with Python's unicodedata.normalize (see comments); the
// tokenizer fixtures (hf_tokenizer_test.cc) check the same code against transformers.js.
#include <gtest/gtest.h>

#include "common/tokenizer/unicode.h"

namespace gramrl::tokenizer {
namespace {

TEST(Utf8Test, FindsTheFirstIllFormedSequence) {
  EXPECT_EQ(findInvalidUtf8(""), kValidUtf8);
  EXPECT_EQ(findInvalidUtf8("plain ascii"), kValidUtf8);
  EXPECT_EQ(findInvalidUtf8("caf\xC3\xA9 \xE4\xBD\xA0 \xF0\x9F\xA6\x80"), kValidUtf8);  // é 你 🦀
  EXPECT_EQ(findInvalidUtf8("ab\xC0\x80"), 2u);                                         // overlong NUL
  EXPECT_EQ(findInvalidUtf8("a\xED\xA0\x80"), 1u);                                      // surrogate U+D800
  EXPECT_EQ(findInvalidUtf8("\xF4\x90\x80\x80"), 0u);                                   // above U+10FFFF
  EXPECT_EQ(findInvalidUtf8("xyz\xE4\xBD"), 3u);                                        // truncated at the end
  EXPECT_EQ(findInvalidUtf8("x\x80y"), 1u);                                             // lone continuation
  EXPECT_EQ(findInvalidUtf8("\xE4\xBD"
                            "a"),
            0u);  // interrupted
  EXPECT_EQ(findInvalidUtf8("\xFF"), 0u);
}

TEST(Utf8Test, ReplacesMaximalSubpartsLikeTheWhatwgDecoder) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(toValidUtf8("ok \xF0\x9F\xA6\x80"), "ok \xF0\x9F\xA6\x80");
  EXPECT_EQ(toValidUtf8("\xF0\x9F\x98"
                        "x"),
            fffd + "x");                                       // a truncated prefix is one U+FFFD
  EXPECT_EQ(toValidUtf8("\xC0\x80"), fffd + fffd);             // C0 can never start a sequence
  EXPECT_EQ(toValidUtf8("\xED\xA0\x80"), fffd + fffd + fffd);  // A0 is outside ED's 80..9F
  EXPECT_EQ(toValidUtf8("a\xE4\xBD"), "a" + fffd);             // truncated at the end
  EXPECT_EQ(toValidUtf8("\xE4\xBD\xE4\xBD\xA0"), fffd + "\xE4\xBD\xA0");
  EXPECT_EQ(toValidUtf8("\x80\x80"), fffd + fffd);
}

TEST(Utf8Test, EncodesAndDecodesCodePoints) {
  for (char32_t cp :
       {U'\0', U'A', U'\u00E9', U'\u07FF', U'\u0800', U'\uFFFD', U'\U00010000', U'\U0001F980', U'\U0010FFFF'}) {
    std::string s;
    appendUtf8(s, cp);
    ASSERT_EQ(findInvalidUtf8(s), kValidUtf8) << static_cast<uint32_t>(cp);
    size_t pos = 0;
    EXPECT_EQ(nextCodePoint(s, pos), cp);
    EXPECT_EQ(pos, s.size());
  }
}

TEST(WhiteSpaceTest, PropertyAndPythonFlavour) {
  for (char32_t cp : {U'\t', U'\n', U'\v', U'\f', U'\r', U' ', U'\u0085', U'\u00A0', U'\u1680', U'\u2000', U'\u200A',
                      U'\u2028', U'\u2029', U'\u202F', U'\u205F', U'\u3000'}) {
    EXPECT_TRUE(isWhiteSpace(cp)) << static_cast<uint32_t>(cp);
    EXPECT_TRUE(isPythonSpace(cp)) << static_cast<uint32_t>(cp);
  }
  // U+180E stopped being white space in Unicode 6.3; U+FEFF and U+200B never were.
  for (char32_t cp : {U'a', U'\u180E', U'\uFEFF', U'\u200B', U'\u001C'}) {
    EXPECT_FALSE(isWhiteSpace(cp)) << static_cast<uint32_t>(cp);
  }
  EXPECT_TRUE(isPythonSpace(U'\u001C'));  // Python's str.isspace() counts the file/group/record/unit separators
  EXPECT_TRUE(isPythonSpace(U'\u001F'));
  EXPECT_EQ(trimCodePoints("\u3000 x y\u00A0\n", true, true, isWhiteSpace), "x y");
  EXPECT_EQ(trimCodePoints(" x ", false, true, isWhiteSpace), " x");
  EXPECT_EQ(trimCodePoints("   ", true, true, isWhiteSpace), "");
}

TEST(NfcTest, ComposesReordersAndKeepsWhatIsAlreadyComposed) {
  // Expected values: Python 3.11 unicodedata.normalize("NFC", ...).
  EXPECT_EQ(toNfc("cafe\u0301"), "caf\u00E9");
  EXPECT_EQ(toNfc("A\u030A"), "\u00C5");
  EXPECT_EQ(toNfc("\u00C5\u0301"), "\u01FA");                   // composes twice
  EXPECT_EQ(toNfc("a\u0301\u0327"), "\u00E1\u0327");            // reordered (202 < 230), then á
  EXPECT_EQ(toNfc("q\u0307\u0323"), "q\u0323\u0307");           // reordered, nothing composes
  EXPECT_EQ(toNfc("e\u0301\u0301"), "\u00E9\u0301");            // the second acute is blocked
  EXPECT_EQ(toNfc("\u0301abc"), "\u0301abc");                   // a leading mark has no starter
  EXPECT_EQ(toNfc("\u212A \u212B \u2126"), "K \u00C5 \u03A9");  // singletons never come back
  EXPECT_EQ(toNfc("\u0344"), "\u0308\u0301");                   // excluded from composition
  EXPECT_EQ(toNfc("\u1100\u1161\u11A8"), "\uAC01");             // Hangul L V T
  EXPECT_EQ(toNfc("\uAC00\u11A8"), "\uAC01");                   // Hangul LV + T
  EXPECT_EQ(toNfc("\u1100\u1161x"), "\uAC00x");
  // Only the stretches around unstable code points are rewritten; the rest is copied around them.
  EXPECT_EQ(toNfc("xyz cafe\u0301 abc A\u030A \u0915\u094D\u0937 e\u0301"),
            "xyz caf\u00E9 abc \u00C5 \u0915\u094D\u0937 \u00E9");
  const std::string stable = "ASCII, caf\u00E9, \u4F60\u597D, \uAC00, \U0001F980";
  EXPECT_EQ(toNfc(stable), stable);
  EXPECT_EQ(toNfc(""), "");
  EXPECT_STREQ(nfcUnicodeVersion(), "14.0.0");
}

}  // namespace
}  // namespace gramrl::tokenizer
