// Regex pre-tokenization with PCRE2 (internal to HfTokenizer).
//
// NOTE [Oniguruma patterns in PCRE2]
// tokenizer.json's Split patterns are written for Oniguruma (Hugging Face's Rust library) and
// also run, rewritten, in transformers.js. PCRE2 reads them almost as is; translateOnigPattern
// changes the two constructs whose meaning differs, the same way transformers.js does:
//   \s, \S   -> \p{White_Space}, \P{White_Space}. PCRE2's UCP \s also matches U+180E (it
//               is still in PCRE2's \h) and JavaScript's matches U+FEFF; Oniguruma's (and
//               Rust's) \s is the White_Space property. ("a  \u180E b" tokenizes differently.)
//   (?i:...) -> (?:...) with each ASCII letter written [xX]. PCRE2's caseless mode would also
//               let "'ſ" (U+017F) match 's; transformers.js folds ASCII only. (No Llama-3 or
//               Qwen token holds "ſ" next to another letter, so the ids do not depend on it.)
// Anything else is passed through; a construct we do not translate inside (?i:...) (a
// character class) is refused with DataError rather than given a subtly different meaning.
// \p{L} and \p{N} come from PCRE2 10.42's Unicode 14 tables; code points assigned later are
// neither letters nor numbers here.
//
// Threads: a RegexSplitter is immutable after construction; split() may be called from any
// number of threads (each thread keeps its own match data).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gramrl::tokenizer {

// Throws DataError("<where>: ...") for constructs it refuses (see the NOTE).
std::string translateOnigPattern(std::string_view pattern, const std::string& where);

// Splits text at the matches of one pattern, keeping both the matches and the text between
// them as pieces (Hugging Face's Split with behavior "Isolated", invert false).
class RegexSplitter {
 public:
  // `pattern` is Oniguruma syntax; `where` (file: field) prefixes error messages.
  // Throws DataError when the pattern does not compile.
  RegexSplitter(std::string_view pattern, const std::string& where);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Appends the non-empty pieces of `text` (valid UTF-8) in order; they concatenate to text.
  void split(std::string_view text, std::vector<std::string_view>& out) const;

 private:
  struct Pattern;  // the compiled PCRE2 code (pcre2.h stays out of this header)
  std::unique_ptr<Pattern> pattern_;
};

}  // namespace gramrl::tokenizer
