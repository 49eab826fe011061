// Reward-service test inputs: world prompts paired with responses of known gold score.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/world/generators.h"

namespace gramrl::testing {

struct Item {
  std::string prompt, response;
};

// `n` world prompts (world::generate "prompts" with `seed`) with responses that are the reference,
// a corruption of it, or junk, chosen by a generator seeded with `seed`: the same arguments give
// the same items. Does not block; throws what world::generate throws.
inline std::vector<Item> worldItems(size_t n, uint64_t seed) {
  world::WorldOptions options;
  options.seed = seed;
  std::mt19937_64 rng(seed);
  std::vector<Item> items;
  for (const auto& row : world::generate("prompts", static_cast<int64_t>(n), options)) {
    std::string response = row["reference"].get<std::string>();
    switch (rng() % 3) {
      case 0: break;
      case 1: response[rng() % response.size()] = 'x'; break;
      default: response = "zz" + response.substr(0, response.size() / 2); break;
    }
    items.push_back({row["prompt"].get<std::string>(), response});
  }
  return items;
}

}  // namespace gramrl::testing
