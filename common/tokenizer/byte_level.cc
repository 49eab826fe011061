#include "common/tokenizer/byte_level.h"

#include <array>
#include <cstdint>

#include "common/tokenizer/unicode.h"

namespace gramrl::tokenizer {
namespace {

constexpr char32_t kAlphabetEnd = 0x144;  // 256 + 68: past the largest byte-level code point

struct Alphabet {
  std::array<std::string, 256> byte_to_utf8;
  std::array<int16_t, kAlphabetEnd> char_to_byte;
};

bool standsForItself(int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

const Alphabet& alphabet() {
  static const Alphabet table = [] {
    Alphabet a;
    a.char_to_byte.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const char32_t cp = standsForItself(b) ? static_cast<char32_t>(b) : next++;
      appendUtf8(a.byte_to_utf8[b], cp);
      a.char_to_byte[cp] = static_cast<int16_t>(b);
    }
    return a;
  }();
  return table;
}

}  // namespace

std::string byteLevelEncode(std::string_view bytes) {
  const Alphabet& a = alphabet();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += a.byte_to_utf8[static_cast<uint8_t>(c)];
  return out;
}

bool byteLevelDecode(std::string_view piece, std::string& out) {
  if (findInvalidUtf8(piece) != kValidUtf8) return false;
  const Alphabet& a = alphabet();
  for (size_t pos = 0; pos < piece.size();) {
    const char32_t cp = nextCodePoint(piece, pos);
    if (cp >= kAlphabetEnd || a.char_to_byte[cp] < 0) return false;
    out += static_cast<char>(a.char_to_byte[cp]);
  }
  return true;
}

}  // namespace gramrl::tokenizer
