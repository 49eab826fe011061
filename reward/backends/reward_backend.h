// The reward backend interface: what the reward server (and anything else that scores samples)
// calls, whatever model or rule is behind it. Torch-free: the server, its client and the HTTP
// endpoint build without LibTorch; only the model backends' .cc files include it.
//
// NOTE [Reward backends]
// A backend answers three kinds of requests (schemas/reward.capnp ScoreRequest):
//   pointwise: one score per item, higher is better. GRAM scores the response against the
//              item's reference response (reward.transform of the debiased P(response beats
//              reference)); scalar backends (bradley_terry, rule) score the response alone.
//   pairwise:  P(response_a better than response_b) per item. GRAM: its debiased judge; scalar
//              backends: sigmoid(r(a) - r(b)) (the Bradley-Terry reading of two scores).
//   bestOfN:   the winner of each group and a score per candidate (for GRAM see reward.best_of_n).
// Every backend is made by makeRewardBackend (backend_registry.h) from the `reward:` section of
// the YAML. Adding a backend is one class deriving from RewardBackend and one registration line
// in backend_registry.cc.
//
// Threads: one thread at a time per backend object (the server gives each device worker its own
// backend). Blocking: every call computes before returning. Throws DataError for items the
// backend cannot score (invalid UTF-8, a question too long for reward.max_tokens, a rule that
// needs a label the item lacks), Unsupported-style requests as DataError naming the backend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gramrl::reward {

struct PointwiseItem {
  std::string prompt;  // the user question, before any chat template
  std::string response;
  std::string reference;  // the response to compare against (GRAM); ignored by scalar backends
  std::string label;      // ground truth for rule backends (exact_match, contains_label); may be empty
  // A reference was given, even if it is the empty response (a policy's greedy answer can be
  // empty); a non-empty reference counts as given either way.
  bool has_reference = false;
};

struct PairItem {
  std::string prompt;
  std::string response_a;
  std::string response_b;
};

struct CandidateGroup {
  std::string prompt;
  std::vector<std::string> candidates;
};

struct BestOfNResult {
  std::vector<double> scores;  // one per candidate, groups concatenated in request order
  std::vector<uint32_t> best;  // index of the winner within each group
};

class RewardBackend {
 public:
  virtual ~RewardBackend() = default;
  // The name put in ScoreReply.modelName and in logs, e.g. "gram(runs/toy/gram)" or "rule:length".
  virtual std::string name() const = 0;
  virtual std::vector<double> pointwise(const std::vector<PointwiseItem>& items) = 0;
  virtual std::vector<double> pairwise(const std::vector<PairItem>& items) = 0;
  virtual BestOfNResult bestOfN(const std::vector<CandidateGroup>& groups) = 0;
};

}  // namespace gramrl::reward
