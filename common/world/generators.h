// Generators of the world's data sets: prompts, SFT demonstrations, unlabeled and labeled
// preference pairs, and a noise-free test set, as JSON rows in the formats gramrl's JSONL readers
// accept. See NOTE [World determinism] in rng.h: row i is a pure function of (seed, kind, i) and
// the set of selected families.
//
// Threads: every function may be called from any thread. Nothing here blocks or does I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/world/rng.h"
#include "common/world/tasks.h"

namespace gramrl::world {

struct WorldOptions {
  // Families to draw from; empty = all six. Any order, duplicates allowed: rows cycle through the
  // selected families in familyNames() order (row i has family i mod k of that list).
  std::vector<std::string> families;
  // Probability that a response is the correct answer; otherwise it is one corruption of it.
  double correct_prob = 0.4;
  // Probability that a wrong response gets a second corruption on top of the first.
  double second_corruption_prob = 0.3;
  // Probability that a labeled pair's preference is flipped (training label noise).
  double label_noise = 0.1;
  // Probability that an SFT demonstration is correct: below 1 so that a policy trained on the
  // demonstrations produces realistic, imperfect candidates.
  double demo_correct_prob = 0.7;
  uint64_t seed = 0;
};

// The kinds generate() knows, with their row fields:
//   prompts    {"prompt", "reference", "family"}
//   sft        {"prompt", "response", "family"}
//   unlabeled  {"prompt", "response_a", "response_b", "family"}
//   labeled    {"prompt", "chosen", "rejected", "family", "chosen_score", "rejected_score", "flipped"}
//   test       {"prompt", "chosen", "rejected", "family", "chosen_score", "rejected_score", "contains_correct"}
// The two responses of a pair are drawn independently and redrawn together until their gold
// scores differ. "chosen" has the higher gold score, except in labeled rows with "flipped": true.
const std::vector<std::string>& generatorKinds();

// The selected families in familyNames() order without duplicates; all six for an empty list.
// Throws ConfigError naming an unknown family.
std::vector<std::string> resolveFamilies(const std::vector<std::string>& families);

struct Response {
  std::string text;
  int corruptions = 0;  // 0 = the correct answer, else 1 or 2
};

// Correct with probability correct_prob; otherwise one corruption of the answer and, with
// probability second_corruption_prob, a second one on top. A wrong response never equals the
// answer (a second corruption that undoes the first is redrawn).
Response sampleResponse(const Task& task, CounterRng& rng, double correct_prob, double second_corruption_prob);

// Row `index` of a data set, as generate() would return it. Throws ConfigError for an unknown
// kind or family, probabilities outside [0, 1], or correct_prob = 1 for a pair kind (every pair
// would tie).
nlohmann::json generateRow(const std::string& kind, int64_t index, const WorldOptions& options);

// Rows 0 to n-1. Throws ConfigError as generateRow does, or for n < 0.
std::vector<nlohmann::json> generate(const std::string& kind, int64_t n, const WorldOptions& options);

}  // namespace gramrl::world
