// GRAM scoring with a causal LM judge (gram-paper.md sections 1.3 and 4.3): margins z_A - z_B,
// debiased preference probabilities, pointwise rewards against a reference response, and a
// best-of-n comparator.
//
// NOTE [Judge batches]
// A call encodes every judge prompt (JudgeEncoder, so NOTE [Fitting the judge input] applies),
// sorts them by length (longest first) so rows of similar length share a batch, and runs
// right-padded batches of at most batch_size rows under no-grad, each through labelLogits
// (label_logits.h, NOTE [One label-logit function]: the stage-2 objective trains on the same
// function). Debiased scoring puts both orders of a pair into the same call,
// so they share batches. Margins are returned in double from the float32 logits.
//
// Threads: one thread at a time per GramJudge (it runs the model); nothing in it is shared with
// other threads except the model, which may serve other no-grad forward() calls concurrently
// (transformer.h). Ownership: shares the model; the encoder refers to a tokenizer the caller keeps
// alive. Blocking: every call runs the forward passes it needs before returning. Throws
// DataError (a question too long for max_tokens, invalid UTF-8), ConfigError (unknown transform,
// batch_size < 1).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reward/gram/best_of_n.h"
#include "reward/gram/gram_math.h"
#include "reward/gram/judge_encoder.h"

namespace gramrl {
class Transformer;
}

namespace gramrl::gram {

struct JudgeQuery {
  std::optional<std::string> system;  // the judge conversation's system message, usually none
  std::string question;
  std::string response_a;
  std::string response_b;
};

// A response scored against a reference (the RLHF use: the reference is the policy's greedy
// response to the same question).
struct PointwiseQuery {
  std::optional<std::string> system;
  std::string question;
  std::string response;
  std::string reference;
};

class GramJudge {
 public:
  GramJudge(std::shared_ptr<Transformer> model, JudgeEncoder encoder, int64_t batch_size);

  // z_A - z_B of each query in the given order (NOTE [Judge batches]).
  std::vector<double> margins(const std::vector<JudgeQuery>& queries);
  // The same for judge prompts already encoded (each ends with the generation prompt).
  std::vector<double> marginsOfPrompts(const std::vector<std::vector<int64_t>>& prompts);

  // P(response_a better than response_b): debiased, (sigmoid(a1 - b1) + sigmoid(b2 - a2)) / 2
  // over both orders (combineOrders); otherwise sigmoid(a1 - b1) of the given order only.
  std::vector<double> preferenceProbabilities(const std::vector<JudgeQuery>& queries, bool debias);

  // transformReward(P(response better than reference), transform) for each query; transform is
  // "probability", "centered" or "log_odds" (gram_math.h).
  std::vector<double> pointwiseRewards(const std::vector<PointwiseQuery>& queries, const std::string& transform,
                                       bool debias);

  const JudgeEncoder& encoder() const { return encoder_; }
  int64_t batchSize() const { return batch_size_; }

 private:
  std::shared_ptr<Transformer> model_;
  JudgeEncoder encoder_;
  int64_t batch_size_;
};

// A best_of_n.h comparator over `candidates` answering `question`: P(candidate i better than j)
// for each pair of a round, all pairs (and with debias, both orders) in one GramJudge call. The
// judge and the strings are referenced, not copied: they must outlive the comparator.
PairwiseComparator makeComparator(GramJudge& judge, const std::optional<std::string>& system,
                                  const std::string& question, const std::vector<std::string>& candidates, bool debias);

}  // namespace gramrl::gram
