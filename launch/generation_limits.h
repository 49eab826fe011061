// The sizes a user gives `gramrl generate` (prompt lengths, --max-new-tokens, -n, --max-batch),
// checked against the model's context and this machine's memory before anything is allocated,
// so that a careless size is a one-line error naming the flag to change instead of an allocator
// backtrace (issue 15). Also the bound on thread counts a user gives (`gram eval --threads`).
// Limits and defaults: docs/input-limits.md.
//
// Threads: plain functions. Throws: ConfigError (a flag to change), DataError (a prompt).
#pragma once

#include <cstdint>
#include <vector>

#include "common/model/model_config.h"

namespace gramrl::cli {

struct GenerationSizes {
  std::vector<int64_t> prompt_tokens;  // the encoded length of each prompt, in input order
  int64_t max_new_tokens = 0;          // --max-new-tokens
  int64_t samples = 1;                 // -n
  int64_t slots = 1;                   // KV-cache slots from --max-batch, -n and the prompt count
  int64_t element_bytes = 4;           // bytes per element of the KV cache and logits
};

// What the KV cache and the logits of one decode step of `sizes` take, in bytes (saturating).
double generationBytes(const ModelConfig& model, const GenerationSizes& sizes);

// Every prompt must leave room in the model's context (max_position_embeddings) for at least one
// new token, the longest prompt plus --max-new-tokens must fit it, and generationBytes must be at
// most half of `available_bytes` (the rest is the model, activations and the OS).
void checkGenerationSizes(const ModelConfig& model, const GenerationSizes& sizes, double available_bytes);

// MemAvailable from /proc/meminfo (physical pages * page size when it cannot be read).
double availableMemoryBytes();

// The most threads a user may ask for: 4 x the cores (at least 4). `flag` names the option.
// Throws ConfigError for a count < 0 or above it.
int64_t checkThreadCount(int64_t threads, const char* flag);

}  // namespace gramrl::cli
