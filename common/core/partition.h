// A balanced contiguous partition of a list of sizes: ZeRO-1 shards of parameter tensors
// (learner/engine/update_step.h, NOTE [ZeRO-1 optimizer sharding]), and `gramrl plan`'s estimate
// of the largest shard (common/plan), which must cut the same way.
//
// Header-only and torch-free: both sides include it. Threads: a pure function.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/core/errors.h"

namespace gramrl {

// `parts` + 1 boundaries into `sizes` (the first 0, the last sizes.size()), each part non-empty.
// Boundary r sits at the tensor edge nearest to where the running total reaches r / parts of the
// whole (the earlier edge on a tie), moved only as far as needed to leave every part at least one
// element of `sizes`. Requires 1 <= parts <= sizes.size() (callers check; an assertion here).
inline std::vector<size_t> balancedContiguousPartition(const std::vector<int64_t>& sizes, int parts) {
  const size_t n = sizes.size();
  GRAMRL_ASSERT(parts >= 1 && n >= static_cast<size_t>(parts), "cannot cut {} items into {} non-empty parts", n, parts);
  std::vector<int64_t> prefix(n + 1, 0);
  for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + sizes[i];
  const double total = static_cast<double>(prefix[n]);
  std::vector<size_t> bounds(static_cast<size_t>(parts) + 1, 0);
  bounds.back() = n;
  for (int r = 1; r < parts; ++r) {
    const double target = total * r / parts;
    size_t i = bounds[r - 1] + 1;  // the smallest boundary that leaves part r - 1 non-empty
    while (i < n && static_cast<double>(prefix[i]) < target) ++i;
    if (i > bounds[r - 1] + 1 &&
        target - static_cast<double>(prefix[i - 1]) <= static_cast<double>(prefix[i]) - target) {
      --i;  // the nearer edge
    }
    bounds[r] = std::min(i, n - static_cast<size_t>(parts - r));  // one item left for each later part
  }
  return bounds;
}

}  // namespace gramrl
