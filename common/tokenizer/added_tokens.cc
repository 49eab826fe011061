#include "common/tokenizer/added_tokens.h"

#include "common/tokenizer/unicode.h"

namespace gramrl::tokenizer {

AddedTokenMatcher::AddedTokenMatcher(const std::vector<Token>& tokens) : tokens_(tokens), terminal_{-1} {
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const std::string& content = tokens_[t].content;
    first_byte_[static_cast<uint8_t>(content[0])] = true;
    int32_t node = 0;
    for (char c : content) {
      const uint64_t edge = (uint64_t(node) << 8) | static_cast<uint8_t>(c);
      auto it = edges_.find(edge);
      if (it == edges_.end()) {
        it = edges_.emplace(edge, static_cast<int32_t>(terminal_.size())).first;
        terminal_.push_back(-1);
      }
      node = it->second;
    }
    terminal_[node] = static_cast<int32_t>(t);  // a duplicate content keeps the last entry
  }
}

int32_t AddedTokenMatcher::longestMatchAt(std::string_view text, size_t pos) const {
  int32_t node = 0;
  int32_t found = -1;
  for (size_t i = pos; i < text.size(); ++i) {
    auto it = edges_.find((uint64_t(node) << 8) | static_cast<uint8_t>(text[i]));
    if (it == edges_.end()) break;
    node = it->second;
    if (terminal_[node] >= 0) found = terminal_[node];
  }
  return found;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Section>& out) const {
  const size_t first = out.size();
  size_t plain_start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const int32_t t = first_byte_[static_cast<uint8_t>(text[pos])] ? longestMatchAt(text, pos) : -1;
    if (t < 0) {
      ++pos;
      continue;
    }
    if (pos > plain_start) out.push_back({text.substr(plain_start, pos - plain_start), -1});
    out.push_back({text.substr(pos, tokens_[t].content.size()), tokens_[t].id});
    pos += tokens_[t].content.size();
    plain_start = pos;
  }
  if (plain_start < text.size()) out.push_back({text.substr(plain_start), -1});

  // lstrip / rstrip: trim the white space of the neighbouring plain text, then drop plain
  // sections that became empty.
  bool any_strip = false;
  for (const Token& token : tokens_) any_strip = any_strip || token.lstrip || token.rstrip;
  if (!any_strip) return;
  auto tokenOf = [this](TokenId id) -> const Token* {
    for (const Token& token : tokens_) {
      if (token.id == id) return &token;
    }
    return nullptr;
  };
  for (size_t i = first; i < out.size(); ++i) {
    if (out[i].id < 0) continue;
    const Token* token = tokenOf(out[i].id);
    if (token->lstrip && i > first && out[i - 1].id < 0) {
      out[i - 1].text = trimCodePoints(out[i - 1].text, false, true, isWhiteSpace);
    }
    if (token->rstrip && i + 1 < out.size() && out[i + 1].id < 0) {
      out[i + 1].text = trimCodePoints(out[i + 1].text, true, false, isWhiteSpace);
    }
  }
  size_t kept = first;
  for (size_t i = first; i < out.size(); ++i) {
    if (out[i].id >= 0 || !out[i].text.empty()) out[kept++] = out[i];
  }
  out.resize(kept);
}

}  // namespace gramrl::tokenizer
