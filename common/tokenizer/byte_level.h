// The byte-level alphabet of GPT-2-style BPE (Hugging Face's ByteLevel pre-tokenizer and
// decoder): each of the 256 byte values is written as one printable code point, so that a
// vocabulary of strings can hold arbitrary bytes. Printable Latin-1 bytes stand for
// themselves; the others (controls, space, 0x7F-0xA0, 0xAD) map to U+0100.. in byte order,
// so the space 0x20 is written "Ġ" (U+0120) and the newline "Ċ" (U+010A).
//
// Threads: pure functions over constant tables; safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace gramrl::tokenizer {

// The byte-level string for raw bytes ("Hello world" -> "HelloĠworld").
std::string byteLevelEncode(std::string_view bytes);
// Appends the raw bytes of a byte-level string to `out`. Returns false (and leaves `out` in an
// unspecified state) when `piece` is not valid UTF-8 made only of byte-level code points.
bool byteLevelDecode(std::string_view piece, std::string& out);

}  // namespace gramrl::tokenizer
