// Byte-level BPE merges over one pre-token (internal to HfTokenizer).
//
// NOTE [Rank-based BPE]
// Hugging Face's BPE starts from one symbol per byte and repeatedly merges the adjacent pair
// whose merge comes first in model.merges (the lowest rank), the leftmost such pair on a tie,
// until no adjacent pair has a merge. We work on ids, not strings: merges_ maps the pair
// (left id, right id) to (rank, merged id), so one hash probe prices a pair. Short words (the
// vast majority) rescan a small array of pair ranks after each merge, updating only the two
// neighbours of the merged symbol; long words (whitespace runs, long numbers, base64) use a
// min-heap of (rank, position) with lazy invalidation, O(n log n). With ignore_merges (Llama-3)
// a pre-token that is itself in the vocabulary is emitted as that one id before any merging,
// as tiktoken does. Results for words shorter than kMaxCachedWordBytes are memoised
// (NOTE [Tokenizer thread safety] in tokenizer.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/tokenizer/tokenizer.h"

namespace gramrl::tokenizer {

class BpeModel {
 public:
  static constexpr size_t kMaxCachedWordBytes = 256;
  static constexpr size_t kMaxCachedWords = 1 << 16;  // in all shards together
  // Words up to this many bytes use the rescanning merge loop on the stack, longer ones the heap.
  static constexpr size_t kShortWordBytes = 48;

  // piece_to_id: the model vocabulary (byte-level strings); id_to_bytes[id]: the raw bytes of
  // each model id ("" for ids that are not in the model vocabulary). merges: in rank order.
  // Throws DataError naming `file` and the merge (model.merges[i]) whose tokens, or whose
  // concatenation, are not in the vocabulary, or when a byte has no single-byte token.
  BpeModel(const std::unordered_map<std::string, TokenId>& piece_to_id, const std::vector<std::string>& id_to_bytes,
           const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges, const std::string& file);

  // Appends the ids of one pre-token, given as raw bytes (not byte-level text).
  void encodeWord(std::string_view bytes, std::vector<TokenId>& out) const;

  size_t mergeCount() const { return merge_count_; }

 private:
  struct MergeSlot {
    uint64_t key;  // kEmptyKey when free
    int32_t rank;
    TokenId merged;
  };
  static constexpr uint64_t kEmptyKey = ~uint64_t{0};
  static uint64_t pairKey(TokenId left, TokenId right) {
    return (uint64_t{static_cast<uint32_t>(left)} << 32) | static_cast<uint32_t>(right);
  }

  // The slot of the pair's merge, or nullptr when the pair never merges.
  const MergeSlot* findMerge(TokenId left, TokenId right) const;
  void insertMerge(TokenId left, TokenId right, int32_t rank, TokenId merged);
  // Merge `symbols` in place; return the new count.
  size_t mergeShort(TokenId* symbols, size_t n) const;
  void mergeLong(std::vector<TokenId>& symbols) const;

  TokenId byte_ids_[256];
  bool ignore_merges_;
  std::unordered_map<std::string, TokenId> whole_words_;  // raw bytes -> id, for ignore_merges
  std::vector<MergeSlot> slots_;                          // open addressing, power-of-two size
  uint64_t slot_mask_ = 0;
  size_t merge_count_ = 0;

  // The word cache, split in shards by hash so that threads rarely wait for each other.
  struct CacheShard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<TokenId>> words;  // guarded by mutex
  };
  static constexpr size_t kCacheShards = 16;
  mutable CacheShard cache_[kCacheShards];
};

}  // namespace gramrl::tokenizer
