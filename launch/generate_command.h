// gramrl generate: sample from a checkpoint or a built-in model, as a person would try a model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gramrl::cli {

struct GenerateArgs {
  std::string model = "builtin:tiny";  // a Hugging Face checkpoint directory, or builtin:<preset>
  std::string tokenizer;               // default: resolveTokenizerSpec(model) (tokenizer_source.h): builtin:bytes
                                       // for builtins, else the checkpoint's tokenizer.json or the spec its
                                       // gramrl_tokenizer.json records
  std::string chat_template;           // "": prompts are raw text; a name or "auto": a user turn
  std::string system;                  // system message with chat_template
  // Longer prompts lose tokens from the left, as the trainers truncate (policy.max_prompt_tokens,
  // whose default this is; common/tokenizer/chat_encoder.h).
  int64_t max_prompt_tokens = 512;
  std::vector<std::string> prompts;  // from the command line
  std::string prompts_file;          // JSONL with a "prompt" string per line
  double temperature = 1.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  int64_t max_new_tokens = 64;
  int64_t samples = 1;
  uint64_t seed = 0;
  int64_t max_batch = 16;  // KV-cache slots: sequences generated at once
  bool jsonl = false;      // one JSON object per completion
  bool stream = false;     // print tokens as they come (a single prompt with one sample)
};

int runGenerate(const GenerateArgs& args);

}  // namespace gramrl::cli
