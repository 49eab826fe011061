// Finding added tokens ("<|im_start|>", "<think>") in text (internal to HfTokenizer).
//
// Hugging Face matches added tokens before the pre-tokenizer sees the text, so a special
// token written in the input becomes its id and never reaches BPE. The match is leftmost,
// then longest (Rust's aho-corasick LeftmostLongest, JavaScript's DictionarySplitter). An added
// token with lstrip (rstrip) also swallows the white space on its left (right).
//
// Threads: immutable after construction; split() may be called concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/tokenizer/tokenizer.h"

namespace gramrl::tokenizer {

class AddedTokenMatcher {
 public:
  struct Token {
    std::string content;  // non-empty
    TokenId id;
    bool lstrip = false;
    bool rstrip = false;
  };
  // A piece of the input: plain text (id < 0) or one added token.
  struct Section {
    std::string_view text;
    TokenId id;
  };

  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(const std::vector<Token>& tokens);

  bool empty() const { return tokens_.empty(); }
  // Appends the sections of `text` (valid UTF-8) in order; plain sections are never empty.
  void split(std::string_view text, std::vector<Section>& out) const;

 private:
  // Index into tokens_ of the longest token starting at text[pos], or -1.
  int32_t longestMatchAt(std::string_view text, size_t pos) const;

  std::vector<Token> tokens_;
  bool first_byte_[256] = {};
  // Trie over bytes: edge (node << 8 | byte) -> child node; terminal_[node]: token index or -1.
  std::unordered_map<uint64_t, int32_t> edges_;
  std::vector<int32_t> terminal_;
};

}  // namespace gramrl::tokenizer
