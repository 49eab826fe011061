// A DPO set-up on the built-in tiny model and the synthetic world, for in-process trainer tests.
#pragma once

#include <memory>
#include <string>

#include <torch/torch.h>

#include "common/data/jsonl_data.h"
#include "common/model/pretrained.h"
#include "common/tokenizer/tokenizer.h"
#include "common/world/generators.h"
#include "learner/dpo/dpo_objective.h"
#include "learner/engine/training_data.h"

namespace gramrl::testing {

struct DpoFixture {
  std::shared_ptr<Transformer> policy;
  std::unique_ptr<DpoObjective> objective;
};

inline std::vector<TokenizedPair> worldPairs(const std::string& kind, int64_t n, uint64_t seed,
                                             const tokenizer::ChatEncoder& encoder) {
  world::WorldOptions options;
  options.seed = seed;
  std::vector<data::PreferencePair> pairs;
  int64_t i = 0;
  for (const auto& row : world::generate(kind, n, options)) {
    pairs.push_back(data::parsePreferencePair(row, kind + ":" + std::to_string(i++)));
  }
  return encodePreferencePairs(pairs, encoder);
}

inline DpoFixture makeDpoFixture(int64_t n_train, int64_t n_eval, DpoObjectiveOptions options = {},
                                 uint64_t model_seed = 5) {
  auto tok = tokenizer::loadTokenizer("builtin:bytes");
  const tokenizer::ChatEncoder encoder(*tok, "plain", 64, 32);
  DpoFixture f;
  f.policy = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{model_seed, false});
  auto reference = loadPretrained("builtin:tiny", torch::kFloat, torch::kCPU, PretrainedOptions{model_seed, false});
  options.pad_id = 256;
  f.objective = std::make_unique<DpoObjective>(f.policy, reference, worldPairs("labeled", n_train, 11, encoder),
                                               worldPairs("test", n_eval, 12, encoder), options);
  return f;
}

}  // namespace gramrl::testing
