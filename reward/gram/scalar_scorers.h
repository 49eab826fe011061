// Scalar reward models for the baselines GRAM is compared with: a Bradley-Terry reward model (an
// LM with a value head) and a label-free likelihood judge.
//
// NOTE [Likelihood judge]
// The label-free control scores a response y to question x by how likely the stage-1 model
// (gram-paper.md section 2) finds y written in slot A: the sum of log p(token) over the tokens of
// answer_a(y) = a_prefix + y + a_suffix, given the stage-1 prompt question(x) in the chat template
// (JudgeEncoder::stage1(x, "", "").prompt, which does not depend on the responses). answer_a(y)
// is encoded on its own, as NOTE [Response tokens] in common/tokenizer/chat_encoder.h encodes
// responses: for the byte-level tokenizers here the end of a_suffix ("\n\n") is a pre-token
// boundary, so these are the ids the stage-1 target starts with. It is a sum, not a mean, so it
// favours short responses; it is a control, not a reward model. When prompt + answer_a(y) exceed
// max_tokens, y is cut as NOTE [Fitting the judge input] cuts responses.
//
// Threads: one thread at a time per scorer (each runs its model under no-grad); the model may
// serve other no-grad forward() calls meanwhile. Ownership: scorers share the model and refer to
// a tokenizer the caller keeps alive. Blocking: scores() runs the forward passes before returning.
// Throws ConfigError (a model without a value head for BradleyTerryScorer, batch_size < 1),
// DataError (text that is not valid UTF-8, a question too long for max_tokens).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/model/sequence_batch.h"
#include "reward/gram/judge_encoder.h"

namespace gramrl {
class Transformer;
}

namespace gramrl::gram {

struct ScalarQuery {
  std::optional<std::string> system;
  std::string prompt;
  std::string response;
};

// r(x, y) for each query; higher is better.
class ScalarScorer {
 public:
  virtual ~ScalarScorer() = default;
  virtual std::vector<double> scores(const std::vector<ScalarQuery>& queries) = 0;
};

// r(x, y) = value_head(h) at the last token of the chat rendering of user=x, assistant=y (prompt
// and response ids from tokenizer::ChatEncoder, so the response ends with the end-of-turn token unless it
// was cut at max_response_tokens).
class BradleyTerryScorer : public ScalarScorer {
 public:
  BradleyTerryScorer(std::shared_ptr<Transformer> model, tokenizer::ChatEncoder encoder, int64_t batch_size);
  std::vector<double> scores(const std::vector<ScalarQuery>& queries) override;

 private:
  std::shared_ptr<Transformer> model_;
  tokenizer::ChatEncoder encoder_;
  int64_t batch_size_;
};

// NOTE [Likelihood judge].
class LikelihoodJudge : public ScalarScorer {
 public:
  LikelihoodJudge(std::shared_ptr<Transformer> model, const tokenizer::Tokenizer& tokenizer, JudgeEncoder encoder,
                  int64_t batch_size);
  std::vector<double> scores(const std::vector<ScalarQuery>& queries) override;

  // The (prompt, answer_a(y)) ids the score of one query sums over. Exposed for tests.
  tokenizer::PromptResponse encode(const ScalarQuery& query) const;

 private:
  std::shared_ptr<Transformer> model_;
  const tokenizer::Tokenizer& tokenizer_;
  JudgeEncoder encoder_;
  int64_t batch_size_;
};

}  // namespace gramrl::gram
