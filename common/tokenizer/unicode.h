// UTF-8 and Unicode helpers shared by the tokenizers and the chat templates.
//
// Threads: all functions are pure and may be called from any thread.
// Throws: nothing, except where a function says so; functions that take "valid UTF-8" expect
// text that findInvalidUtf8() accepted (they do not check again).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gramrl::tokenizer {

constexpr size_t kValidUtf8 = std::string_view::npos;

// Offset of the first byte that does not belong to a well-formed UTF-8 sequence (overlong
// forms, surrogates and code points above U+10FFFF are ill-formed), or kValidUtf8.
size_t findInvalidUtf8(std::string_view bytes);

// Replaces every maximal ill-formed subsequence with U+FFFD, exactly as the WHATWG UTF-8
// decoder does (JavaScript's TextDecoder, Rust's String::from_utf8_lossy, Python's
// errors="replace"): this is what Hugging Face's decode returns when ids split a character.
std::string toValidUtf8(std::string_view bytes);

// Decodes the code point at `pos` of valid UTF-8 and advances `pos` past it.
char32_t nextCodePoint(std::string_view valid_utf8, size_t& pos);
void appendUtf8(std::string& out, char32_t cp);

// The Unicode White_Space property (what Oniguruma's and Rust's \s match).
bool isWhiteSpace(char32_t cp);
// Python's str.isspace() for one code point (what jinja2's `trim` strips): White_Space plus
// U+001C..U+001F, which Python counts as separators.
bool isPythonSpace(char32_t cp);

// Removes leading and/or trailing code points of valid UTF-8 for which pred is true.
template <typename Pred>
std::string_view trimCodePoints(std::string_view s, bool leading, bool trailing, Pred pred);

// Canonical composition (Unicode NFC) of valid UTF-8. Text in which no code point can change
// under NFC (all of ASCII, most CJK and already-composed text) is returned unchanged after one
// scan. The tables come from Unicode 14.0 (see nfcUnicodeVersion()).
std::string toNfc(std::string_view valid_utf8);
const char* nfcUnicodeVersion();

// ---------------------------------------------------------------------------------------------

template <typename Pred>
std::string_view trimCodePoints(std::string_view s, bool leading, bool trailing, Pred pred) {
  if (leading) {
    size_t pos = 0;
    while (pos < s.size()) {
      size_t next = pos;
      if (!pred(nextCodePoint(s, next))) break;
      pos = next;
    }
    s.remove_prefix(pos);
  }
  if (trailing) {
    while (!s.empty()) {
      size_t start = s.size() - 1;
      while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      size_t pos = start;
      if (!pred(nextCodePoint(s, pos))) break;
      s.remove_suffix(s.size() - start);
    }
  }
  return s;
}

}  // namespace gramrl::tokenizer
