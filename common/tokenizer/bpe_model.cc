#include "common/tokenizer/bpe_model.h"

#include <algorithm>
#include <limits>
#include <queue>

#include "common/core/errors.h"
#include "common/tokenizer/byte_level.h"

namespace gramrl::tokenizer {
namespace {

constexpr int32_t kNoMerge = std::numeric_limits<int32_t>::max();

uint64_t mix(uint64_t key) { return (key ^ (key >> 29)) * 0x9E3779B97F4A7C15ull; }

}  // namespace

BpeModel::BpeModel(const std::unordered_map<std::string, TokenId>& piece_to_id,
                   const std::vector<std::string>& id_to_bytes,
                   const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges,
                   const std::string& file)
    : ignore_merges_(ignore_merges) {
  for (int b = 0; b < 256; ++b) {
    const std::string piece = byteLevelEncode(std::string(1, static_cast<char>(b)));
    auto it = piece_to_id.find(piece);
    GRAMRL_CHECK(it != piece_to_id.end(), DataError,
                 "{}: model.vocab: no token for the byte 0x{:02X} (byte-level \"{}\"); byte-level BPE needs all 256",
                 file, b, piece);
    byte_ids_[b] = it->second;
  }
  if (ignore_merges_) {
    whole_words_.reserve(piece_to_id.size());
    for (const auto& [piece, id] : piece_to_id) whole_words_.emplace(id_to_bytes[id], id);
  }

  size_t capacity = 16;
  while (capacity < merges.size() * 2) capacity *= 2;
  slots_.assign(capacity, MergeSlot{kEmptyKey, 0, 0});
  slot_mask_ = capacity - 1;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    auto l = piece_to_id.find(left);
    auto r = piece_to_id.find(right);
    auto m = piece_to_id.find(left + right);
    GRAMRL_CHECK(l != piece_to_id.end() && r != piece_to_id.end(), DataError,
                 "{}: model.merges[{}]: \"{} {}\" names a token that is not in model.vocab", file, rank, left, right);
    GRAMRL_CHECK(m != piece_to_id.end(), DataError,
                 "{}: model.merges[{}]: the merged token \"{}{}\" is not in model.vocab", file, rank, left, right);
    insertMerge(l->second, r->second, static_cast<int32_t>(rank), m->second);
  }
}

const BpeModel::MergeSlot* BpeModel::findMerge(TokenId left, TokenId right) const {
  const uint64_t key = pairKey(left, right);
  for (uint64_t i = mix(key) & slot_mask_;; i = (i + 1) & slot_mask_) {
    const MergeSlot& slot = slots_[i];
    if (slot.key == key) return &slot;
    if (slot.key == kEmptyKey) return nullptr;
  }
}

// A pair listed twice takes its last rank, as in Hugging Face (Rust and JavaScript both build
// the rank table as a map from the merge list, so later entries overwrite earlier ones).
void BpeModel::insertMerge(TokenId left, TokenId right, int32_t rank, TokenId merged) {
  const uint64_t key = pairKey(left, right);
  uint64_t i = mix(key) & slot_mask_;
  while (slots_[i].key != kEmptyKey && slots_[i].key != key) i = (i + 1) & slot_mask_;
  if (slots_[i].key == kEmptyKey) ++merge_count_;
  slots_[i] = MergeSlot{key, rank, merged};
}

void BpeModel::encodeWord(std::string_view bytes, std::vector<TokenId>& out) const {
  if (bytes.empty()) return;
  if (bytes.size() == 1) {
    out.push_back(byte_ids_[static_cast<uint8_t>(bytes[0])]);
    return;
  }
  if (ignore_merges_) {
    auto it = whole_words_.find(std::string(bytes));
    if (it != whole_words_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = bytes.size() < kMaxCachedWordBytes;
  CacheShard& shard = cache_[std::hash<std::string_view>()(bytes) % kCacheShards];
  std::string key;
  if (cacheable) {
    key.assign(bytes);
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.words.find(key);
    if (it != shard.words.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<TokenId> symbols;
  if (bytes.size() <= kShortWordBytes) {
    TokenId buffer[kShortWordBytes];
    for (size_t i = 0; i < bytes.size(); ++i) buffer[i] = byte_ids_[static_cast<uint8_t>(bytes[i])];
    symbols.assign(buffer, buffer + mergeShort(buffer, bytes.size()));
  } else {
    symbols.resize(bytes.size());
    for (size_t i = 0; i < bytes.size(); ++i) symbols[i] = byte_ids_[static_cast<uint8_t>(bytes[i])];
    mergeLong(symbols);
  }
  out.insert(out.end(), symbols.begin(), symbols.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(shard.mutex);
    // Bounded: a full shard starts again and refills with what is common.
    if (shard.words.size() >= kMaxCachedWords / kCacheShards) shard.words.clear();
    shard.words.emplace(std::move(key), std::move(symbols));
  }
}

// pairs[i] is the merge of (symbols[i], symbols[i+1]) or nullptr; after a merge at i only
// pairs[i-1] and pairs[i] change, so each merge costs one scan for the minimum rank and two
// hash probes.
size_t BpeModel::mergeShort(TokenId* symbols, size_t n) const {
  const MergeSlot* pairs[kShortWordBytes];
  auto rankOf = [](const MergeSlot* slot) { return slot ? slot->rank : kNoMerge; };
  for (size_t i = 0; i + 1 < n; ++i) pairs[i] = findMerge(symbols[i], symbols[i + 1]);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (rankOf(pairs[i]) < rankOf(pairs[best])) best = i;  // strict: the leftmost wins a tie
    }
    if (pairs[best] == nullptr) break;
    symbols[best] = pairs[best]->merged;
    std::copy(symbols + best + 2, symbols + n, symbols + best + 1);
    if (best + 2 < n - 1) std::copy(pairs + best + 2, pairs + n - 1, pairs + best + 1);
    --n;
    if (best > 0) pairs[best - 1] = findMerge(symbols[best - 1], symbols[best]);
    if (best + 1 < n) pairs[best] = findMerge(symbols[best], symbols[best + 1]);
  }
  return n;
}

// Symbols form a doubly linked list over their original positions; the heap holds candidate
// pairs (rank, left position, the two ids it was priced for). A popped candidate whose ids no
// longer stand at that position and its successor is stale and skipped.
void BpeModel::mergeLong(std::vector<TokenId>& symbols) const {
  struct Candidate {
    int32_t rank;
    int32_t pos;
    TokenId left, right;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  const auto n = static_cast<int32_t>(symbols.size());
  std::vector<int32_t> next(n), prev(n);
  for (int32_t i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto push = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    const TokenId l = symbols[pos], r = symbols[next[pos]];
    if (const MergeSlot* slot = findMerge(l, r)) heap.push(Candidate{slot->rank, pos, l, r});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    const int32_t right = next[c.pos];
    if (symbols[c.pos] != c.left || right < 0 || symbols[right] != c.right) continue;
    symbols[c.pos] = findMerge(c.left, c.right)->merged;
    symbols[right] = -1;  // removed
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  symbols.erase(std::remove(symbols.begin(), symbols.end(), -1), symbols.end());
}

}  // namespace gramrl::tokenizer
