#include "common/tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cctype>

#include "common/core/errors.h"

namespace gramrl::tokenizer {
namespace {

std::string pcre2Message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

// One match-data block per thread, sized for the whole-match offsets only (the patterns'
// groups are not used); PCRE2 returns 0 instead of the group count when it is too small.
pcre2_match_data* threadMatchData() {
  struct Holder {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    ~Holder() { pcre2_match_data_free(data); }
  };
  thread_local Holder holder;
  GRAMRL_ASSERT(holder.data != nullptr, "pcre2_match_data_create failed");
  return holder.data;
}

}  // namespace

std::string translateOnigPattern(std::string_view pattern, const std::string& where) {
  std::string out;
  out.reserve(pattern.size() + 64);
  std::vector<bool> group_folds;  // per open group: whether it is case-insensitive
  bool fold = false;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 's' || e == 'S') {
        out += e == 's' ? "\\p{White_Space}" : "\\P{White_Space}";
      } else if ((e == 'p' || e == 'P' || e == 'x') && i + 1 < pattern.size() && pattern[i + 1] == '{') {
        const size_t close = pattern.find('}', i + 1);
        GRAMRL_CHECK(close != std::string_view::npos, DataError, "{}: unterminated \\{}{{ in the pattern", where, e);
        out += '\\';
        out.append(pattern.substr(i, close - i + 1));  // \p{L} verbatim: its letters are not folded
        i = close;
      } else {
        out += '\\';
        out += e;
      }
      continue;
    }
    if (in_class) {
      GRAMRL_CHECK(!fold || !std::isalpha(static_cast<unsigned char>(c)), DataError,
                   "{}: a character class with letters inside (?i:...) is not supported", where);
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (c == '(') {
      group_folds.push_back(fold);
      if (pattern.compare(i, 4, "(?i:") == 0) {
        fold = true;
        out += "(?:";
        i += 3;
        continue;
      }
      GRAMRL_CHECK(pattern.compare(i, 3, "(?i") != 0 && pattern.compare(i, 3, "(?-") != 0, DataError,
                   "{}: inline option groups other than (?i:...) are not supported", where);
      out += c;
      continue;
    }
    if (c == ')') {
      GRAMRL_CHECK(!group_folds.empty(), DataError, "{}: unbalanced ')' in the pattern", where);
      fold = group_folds.back();
      group_folds.pop_back();
      out += c;
      continue;
    }
    if (fold && std::isalpha(static_cast<unsigned char>(c))) {
      out += '[';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out += ']';
      continue;
    }
    out += c;
  }
  return out;
}

struct RegexSplitter::Pattern {
  pcre2_code* code = nullptr;
  bool jit = false;
  std::string where;
  ~Pattern() { pcre2_code_free(code); }
};

RegexSplitter::RegexSplitter(std::string_view pattern, const std::string& where) : pattern_(new Pattern) {
  pattern_->where = where;
  const std::string translated = translateOnigPattern(pattern, where);
  int error = 0;
  PCRE2_SIZE offset = 0;
  pattern_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                 PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  GRAMRL_CHECK(pattern_->code != nullptr, DataError, "{}: the pattern does not compile (PCRE2: {} at offset {} of {})",
               where, pcre2Message(error), offset, translated);
  // Without JIT (a platform PCRE2 lacks it for) matching still works, only slower.
  pattern_->jit = pcre2_jit_compile(pattern_->code, PCRE2_JIT_COMPLETE) == 0;
}

RegexSplitter::~RegexSplitter() = default;

void RegexSplitter::split(std::string_view text, std::vector<std::string_view>& out) const {
  pcre2_match_data* match = threadMatchData();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t gap_start = 0;  // end of the previous match
  size_t pos = 0;
  while (pos < text.size()) {
    int rc = pattern_->jit ? pcre2_jit_match(pattern_->code, subject, text.size(), pos, 0, match, nullptr)
                           : PCRE2_ERROR_JIT_STACKLIMIT;
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      // The JIT's 32 KiB default stack ran out (pathological input): the interpreter keeps its
      // backtracking frames on the heap.
      rc = pcre2_match(pattern_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, match, nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    GRAMRL_CHECK(rc >= 0, DataError, "{}: matching failed: PCRE2 {}", pattern_->where, pcre2Message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
    const size_t begin = ovector[0], end = ovector[1];
    if (end == begin) {  // an empty match splits nothing; step over one code point
      pos = begin + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    if (begin > gap_start) out.push_back(text.substr(gap_start, begin - gap_start));
    out.push_back(text.substr(begin, end - begin));
    gap_start = pos = end;
  }
  if (gap_start < text.size()) out.push_back(text.substr(gap_start));
}

}  // namespace gramrl::tokenizer
