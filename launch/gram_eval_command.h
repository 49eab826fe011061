// gramrl gram eval: pairwise accuracy of a reward model (a GRAM judge, a Bradley-Terry reward
// model, or the label-free likelihood judge) on JSONL preference-pair files, as a markdown table
// on stdout and, optionally, the same numbers as JSON (reward/gram/pair_eval.h, NOTE [Pair
// accuracy views]).
//
// Runs on the first CUDA device in bfloat16 when LibTorch sees one, else on the CPU in float32.
// Blocks until every pair is scored, logging progress about every 10 s. Throws ConfigError for
// bad arguments, DataError for unreadable data, models or tokenizers, SystemError when the JSON
// cannot be written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gramrl::cli {

struct GramEvalArgs {
  std::string model;                        // a checkpoint directory, or builtin:<preset>
  std::string tokenizer;                    // default: resolveTokenizerSpec(model) (tokenizer_source.h)
  std::string chat_template = "auto";       // "auto": the tokenizer's own
  std::string judge_template = "official";  // official | compact (gram and likelihood)
  std::string kind = "gram";                // gram | bradley_terry | likelihood
  std::vector<std::string> data;            // JSONL preference-pair files
  int64_t batch_size = 32;                  // sequences per forward pass
  int64_t max_tokens = 2048;                // judge prompt / sequence limit
  int64_t threads = 0;                      // CPU threads for LibTorch; 0: all cores
  std::string out_json;                     // optional: write the report here (atomically)
};

int runGramEval(const GramEvalArgs& args);

}  // namespace gramrl::cli
