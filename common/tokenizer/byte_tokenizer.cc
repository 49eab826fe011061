#include "common/tokenizer/byte_tokenizer.h"

#include <cstring>

#include <fmt/core.h>

#include "common/core/errors.h"

namespace gramrl::tokenizer {
namespace {

constexpr const char* kSpecialTexts[] = {"<|pad|>",  "<|bos|>",       "<|eos|>", "<|system|>",
                                         "<|user|>", "<|assistant|>", "<|end|>"};
static_assert(sizeof(kSpecialTexts) / sizeof(kSpecialTexts[0]) == kByteVocabSize - kBytePad);

bool isPrintableAscii(int b) { return b >= 0x21 && b <= 0x7E; }

// The longest special-token text starting at text[pos], or -1. All of them start with "<|".
TokenId matchSpecial(std::string_view text, size_t pos) {
  if (text.compare(pos, 2, "<|") != 0) return -1;
  TokenId best = -1;
  size_t best_len = 0;
  for (TokenId id = kBytePad; id < kByteVocabSize; ++id) {
    const char* s = kSpecialTexts[id - kBytePad];
    const size_t len = std::strlen(s);
    if (len > best_len && text.compare(pos, len, s) == 0) {
      best = id;
      best_len = len;
    }
  }
  return best;
}

}  // namespace

ByteTokenizer::ByteTokenizer() {
  special_.bos = kByteBos;
  special_.eos = kByteEos;
  special_.pad = kBytePad;
  special_.stop = {kByteEos, kByteEnd};
}

const char* ByteTokenizer::specialText(TokenId id) {
  GRAMRL_ASSERT(id >= kBytePad && id < kByteVocabSize, "not a special token id: {}", id);
  return kSpecialTexts[id - kBytePad];
}

std::vector<TokenId> ByteTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<TokenId> ids;
  ids.reserve(text.size() + 1);
  if (add_special_tokens) ids.push_back(kByteBos);
  for (size_t pos = 0; pos < text.size();) {
    const TokenId special = text[pos] == '<' ? matchSpecial(text, pos) : -1;
    if (special >= 0) {
      ids.push_back(special);
      pos += std::strlen(kSpecialTexts[special - kBytePad]);
    } else {
      ids.push_back(static_cast<uint8_t>(text[pos]));
      ++pos;
    }
  }
  return ids;
}

std::string ByteTokenizer::decode(const TokenId* ids, size_t count, bool skip_special_tokens) const {
  std::string out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const TokenId id = ids[i];
    GRAMRL_CHECK(id >= 0 && id < kByteVocabSize, DataError,
                 "decode: token id {} (at index {}) is outside the vocabulary of builtin:bytes [0, {})", id, i,
                 kByteVocabSize);
    if (id < kBytePad) {
      out += static_cast<char>(id);
    } else if (!skip_special_tokens) {
      out += kSpecialTexts[id - kBytePad];
    }
  }
  return out;
}

std::string ByteTokenizer::idToPiece(TokenId id) const {
  GRAMRL_CHECK(id >= 0 && id < kByteVocabSize, DataError,
               "token id {} is outside the vocabulary of builtin:bytes [0, {})", id, kByteVocabSize);
  if (id >= kBytePad) return kSpecialTexts[id - kBytePad];
  if (isPrintableAscii(id)) return std::string(1, static_cast<char>(id));
  return fmt::format("<0x{:02X}>", id);
}

std::optional<TokenId> ByteTokenizer::tokenToId(std::string_view piece) const {
  if (piece.size() == 1 && isPrintableAscii(static_cast<uint8_t>(piece[0]))) return static_cast<uint8_t>(piece[0]);
  for (TokenId id = kBytePad; id < kByteVocabSize; ++id) {
    if (piece == kSpecialTexts[id - kBytePad]) return id;
  }
  // "<0xNN>", upper-case hex, only for the bytes that are not written as themselves.
  auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
  if (piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>' && hex(piece[3]) >= 0 &&
      hex(piece[4]) >= 0) {
    const int b = hex(piece[3]) * 16 + hex(piece[4]);
    if (!isPrintableAscii(b)) return b;
  }
  return std::nullopt;
}

}  // namespace gramrl::tokenizer
