#include "common/tokenizer/unicode.h"

#include <cstdint>

namespace gramrl::tokenizer {
namespace {

// One step of the WHATWG UTF-8 decoder (https://encoding.spec.whatwg.org/#utf-8-decoder).
// kMore: the byte was consumed, the sequence is not finished. kError: the sequence is
// ill-formed; `reprocess` says whether the byte must be fed again (it did not belong to the
// broken sequence and may start the next one).
class Utf8Decoder {
 public:
  enum Result { kMore, kCodePoint, kError };

  Result feed(uint8_t b, char32_t& cp, bool& reprocess) {
    reprocess = false;
    if (needed_ == 0) {
      if (b < 0x80) {
        cp = b;
        return kCodePoint;
      }
      if (b >= 0xC2 && b <= 0xDF) {
        needed_ = 1;
        cp_ = b & 0x1F;
      } else if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0) lower_ = 0xA0;
        if (b == 0xED) upper_ = 0x9F;
        needed_ = 2;
        cp_ = b & 0x0F;
      } else if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0) lower_ = 0x90;
        if (b == 0xF4) upper_ = 0x8F;
        needed_ = 3;
        cp_ = b & 0x07;
      } else {
        return kError;
      }
      return kMore;
    }
    if (b < lower_ || b > upper_) {
      reset();
      reprocess = true;
      return kError;
    }
    lower_ = 0x80;
    upper_ = 0xBF;
    cp_ = (cp_ << 6) | (b & 0x3F);
    if (++seen_ < needed_) return kMore;
    cp = cp_;
    reset();
    return kCodePoint;
  }
  bool isInsideSequence() const { return needed_ != 0; }

 private:
  void reset() {
    needed_ = seen_ = 0;
    cp_ = 0;
    lower_ = 0x80;
    upper_ = 0xBF;
  }
  int needed_ = 0;
  int seen_ = 0;
  char32_t cp_ = 0;
  uint8_t lower_ = 0x80;
  uint8_t upper_ = 0xBF;
};

}  // namespace

size_t findInvalidUtf8(std::string_view bytes) {
  Utf8Decoder decoder;
  size_t sequence_start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    if (b < 0x80 && !decoder.isInsideSequence()) continue;  // fast path for ASCII
    if (!decoder.isInsideSequence()) sequence_start = i;
    char32_t cp;
    bool reprocess;
    if (decoder.feed(b, cp, reprocess) == Utf8Decoder::kError) return sequence_start;
  }
  return decoder.isInsideSequence() ? sequence_start : kValidUtf8;
}

std::string toValidUtf8(std::string_view bytes) {
  if (findInvalidUtf8(bytes) == kValidUtf8) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + 8);
  Utf8Decoder decoder;
  for (size_t i = 0; i < bytes.size();) {
    char32_t cp;
    bool reprocess;
    switch (decoder.feed(static_cast<uint8_t>(bytes[i]), cp, reprocess)) {
      case Utf8Decoder::kMore: break;
      case Utf8Decoder::kCodePoint: appendUtf8(out, cp); break;
      case Utf8Decoder::kError: appendUtf8(out, 0xFFFD); break;
    }
    if (!reprocess) ++i;
  }
  if (decoder.isInsideSequence()) appendUtf8(out, 0xFFFD);
  return out;
}

char32_t nextCodePoint(std::string_view s, size_t& pos) {
  const auto b0 = static_cast<uint8_t>(s[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  auto cont = [&](size_t k) { return static_cast<char32_t>(static_cast<uint8_t>(s[pos + k]) & 0x3F); };
  char32_t cp;
  if (b0 < 0xE0) {
    cp = (char32_t{b0 & 0x1Fu} << 6) | cont(1);
    pos += 2;
  } else if (b0 < 0xF0) {
    cp = (char32_t{b0 & 0x0Fu} << 12) | (cont(1) << 6) | cont(2);
    pos += 3;
  } else {
    cp = (char32_t{b0 & 0x07u} << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
    pos += 4;
  }
  return cp;
}

void appendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool isWhiteSpace(char32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool isPythonSpace(char32_t cp) { return isWhiteSpace(cp) || (cp >= 0x1C && cp <= 0x1F); }

}  // namespace gramrl::tokenizer
