// Unicode NFC: canonical decomposition, canonical ordering, canonical composition (UAX #15),
// over tables generated from Python's unicodedata (nfc_tables.inc).
#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "common/tokenizer/unicode.h"

namespace gramrl::tokenizer {
namespace {

struct NfcDecomposition {
  char32_t cp;
  char32_t first;
  char32_t second;  // 0 for a singleton decomposition
  int excluded;     // 1: never produced by composition (Full_Composition_Exclusion)
};
struct NfcClassRange {
  char32_t first;
  char32_t last;
  int ccc;
};
struct NfcRange {
  char32_t first;
  char32_t last;
};

#include "common/tokenizer/nfc_tables.inc"

// Hangul syllables decompose and compose algorithmically (Unicode §3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

template <typename Range>
const Range* findRange(const Range* begin, const Range* end, char32_t cp) {
  const Range* it = std::upper_bound(begin, end, cp, [](char32_t c, const Range& r) { return c < r.first; });
  if (it == begin) return nullptr;
  --it;
  return cp <= it->last ? it : nullptr;
}

int combiningClass(char32_t cp) {
  if (cp < 0x300) return 0;
  const auto* r = findRange(std::begin(kNfcCombiningClasses), std::end(kNfcCombiningClasses), cp);
  return r ? r->ccc : 0;
}

bool isUnstable(char32_t cp) {
  // One bit per BMP code point (8 KiB) answers the common case without a search.
  static const std::vector<uint64_t>* bmp = [] {
    auto* bits = new std::vector<uint64_t>(0x10000 / 64, 0);
    for (const NfcRange& r : kNfcUnstable) {
      for (char32_t c = r.first; c <= r.last && c < 0x10000; ++c) (*bits)[c / 64] |= uint64_t{1} << (c % 64);
    }
    return bits;
  }();
  if (cp < 0x10000) return ((*bmp)[cp / 64] >> (cp % 64)) & 1;
  return findRange(std::begin(kNfcUnstable), std::end(kNfcUnstable), cp) != nullptr;
}

const NfcDecomposition* findDecomposition(char32_t cp) {
  const auto* begin = std::begin(kNfcDecompositions);
  const auto* end = std::end(kNfcDecompositions);
  const auto* it = std::lower_bound(begin, end, cp, [](const NfcDecomposition& d, char32_t c) { return d.cp < c; });
  return it != end && it->cp == cp ? it : nullptr;
}

void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  const NfcDecomposition* d = cp < 0xC0 ? nullptr : findDecomposition(cp);
  if (d == nullptr) {
    out.push_back(cp);
    return;
  }
  decompose(d->first, out);
  if (d->second != 0) decompose(d->second, out);
}

// Primary composites: (first, second) -> composed code point.
const std::unordered_map<uint64_t, char32_t>& compositions() {
  static const auto* table = [] {
    auto* map = new std::unordered_map<uint64_t, char32_t>();
    for (const auto& d : kNfcDecompositions) {
      if (d.second != 0 && !d.excluded) map->emplace((uint64_t{d.first} << 32) | d.second, d.cp);
    }
    return map;
  }();
  return *table;
}

// The composite of (starter, next), or 0 when they do not compose.
char32_t compose(char32_t starter, char32_t next) {
  if (starter >= kLBase && starter < kLBase + kLCount && next >= kVBase && next < kVBase + kVCount) {
    return kSBase + ((starter - kLBase) * kVCount + (next - kVBase)) * kTCount;
  }
  if (starter >= kSBase && starter < kSBase + kSCount && (starter - kSBase) % kTCount == 0 && next > kTBase &&
      next < kTBase + kTCount) {
    return starter + (next - kTBase);
  }
  const auto& map = compositions();
  auto it = map.find((uint64_t{starter} << 32) | next);
  return it == map.end() ? 0 : it->second;
}

}  // namespace

const char* nfcUnicodeVersion() { return kNfcUnicodeVersion; }

namespace {

// The full algorithm, appended to `out`.
void nfcSegment(std::string_view text, std::string& out) {
  std::vector<char32_t> cps;
  cps.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) decompose(nextCodePoint(text, pos), cps);

  // Canonical ordering: stable sort of each run of non-starters by combining class.
  std::vector<int> classes(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) classes[i] = combiningClass(cps[i]);
  for (size_t i = 0; i < cps.size();) {
    if (classes[i] == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < cps.size() && classes[end] != 0) ++end;
    if (end - i > 1) {
      std::vector<std::pair<int, char32_t>> run;
      for (size_t k = i; k < end; ++k) run.emplace_back(classes[k], cps[k]);
      std::stable_sort(run.begin(), run.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (size_t k = i; k < end; ++k) std::tie(classes[k], cps[k]) = run[k - i];
    }
    i = end;
  }

  // Canonical composition (the UAX #15 reference algorithm): a character composes with the
  // last starter unless a character of the same or higher class stands between them.
  size_t starter = 0;
  int last_class = classes.empty() ? 0 : classes[0];
  if (last_class != 0) last_class = 256;  // a leading non-starter has no starter to compose with
  size_t kept = cps.empty() ? 0 : 1;
  for (size_t i = 1; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    const int cc = classes[i];
    const char32_t composite = last_class == 256 ? 0 : compose(cps[starter], c);
    if (composite != 0 && (last_class < cc || last_class == 0)) {
      cps[starter] = composite;
      continue;
    }
    if (cc == 0) starter = kept;
    last_class = cc;
    cps[kept++] = c;
  }
  cps.resize(kept);

  for (char32_t c : cps) appendUtf8(out, c);
}

}  // namespace

// A stable code point (combining class 0, NFC quick check Yes) neither composes with what
// precedes it nor is reordered across, so NFC can be computed separately on each side of it:
// only the stretches from the last stable code point before an unstable one up to the next
// stable one go through the full algorithm; everything else is copied.
std::string toNfc(std::string_view text) {
  std::string out;
  size_t copied = 0;  // text[0, copied) is in `out`
  size_t stable = 0;  // start of the last stable code point seen
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    if (static_cast<unsigned char>(text[pos]) < 0xCC) {  // below U+0300: always stable
      pos += static_cast<unsigned char>(text[pos]) < 0x80 ? 1 : 2;
      stable = start;
      continue;
    }
    if (!isUnstable(nextCodePoint(text, pos))) {
      stable = start;
      continue;
    }
    size_t end = pos;
    while (end < text.size()) {
      size_t next = end;
      if (!isUnstable(nextCodePoint(text, next))) break;
      end = next;
    }
    if (out.empty()) out.reserve(text.size() + 16);
    out.append(text.substr(copied, stable - copied));
    nfcSegment(text.substr(stable, end - stable), out);
    copied = pos = stable = end;
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

}  // namespace gramrl::tokenizer
