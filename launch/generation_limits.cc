#include "launch/generation_limits.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <fmt/core.h>

#include "common/core/errors.h"

namespace gramrl::cli {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

}  // namespace

double generationBytes(const ModelConfig& model, const GenerationSizes& sizes) {
  int64_t longest = 0;
  for (int64_t n : sizes.prompt_tokens) longest = std::max(longest, n);
  const double length = static_cast<double>(longest) + static_cast<double>(sizes.max_new_tokens);
  const double head_dim = static_cast<double>(
      model.head_dim > 0 ? model.head_dim : model.hidden_size / std::max<int64_t>(1, model.num_attention_heads));
  const double kv_heads =
      static_cast<double>(model.num_key_value_heads > 0 ? model.num_key_value_heads : model.num_attention_heads);
  // Keys and values for every layer, slot and position: what TransformerDecoder allocates.
  const double kv = 2.0 * static_cast<double>(model.num_hidden_layers) * static_cast<double>(sizes.slots) * length *
                    kv_heads * head_dim;
  // The logits of a prefill of the longest prompt and of one decode step over every slot.
  const double logits =
      (static_cast<double>(longest) + static_cast<double>(sizes.slots)) * static_cast<double>(model.vocab_size);
  return (kv + logits) * static_cast<double>(sizes.element_bytes);
}

void checkGenerationSizes(const ModelConfig& model, const GenerationSizes& sizes, double available_bytes) {
  const int64_t context = model.max_position_embeddings;
  int64_t longest = 0;
  for (size_t i = 0; i < sizes.prompt_tokens.size(); ++i) {
    const int64_t n = sizes.prompt_tokens[i];
    GRAMRL_CHECK(n < context, DataError,
                 "generate: prompt {} is {} tokens, and the model's context (max_position_embeddings) is {}: shorten "
                 "it to fewer than {} tokens",
                 i, n, context, context);
    longest = std::max(longest, n);
  }
  GRAMRL_CHECK(sizes.max_new_tokens <= context - longest, ConfigError,
               "generate: --max-new-tokens {} plus the longest prompt ({} tokens) passes the model's context of {} "
               "tokens (max_position_embeddings): use --max-new-tokens {} or less",
               sizes.max_new_tokens, longest, context, context - longest);
  const double need = generationBytes(model, sizes);
  GRAMRL_CHECK(need <= available_bytes / 2, ConfigError,
               "generate: {} sequences at once (--max-batch, -n) of up to {} tokens need about {:.1f} GiB for the KV "
               "cache and logits, more than half of the {:.1f} GiB of memory available: lower --max-batch, -n or "
               "--max-new-tokens",
               sizes.slots, longest + sizes.max_new_tokens, need / kGiB, available_bytes / kGiB);
}

double availableMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) == 0) {
      std::istringstream fields(line.substr(13));
      double kib = 0;
      if (fields >> kib) return kib * 1024.0;
    }
  }
  const long pages = ::sysconf(_SC_AVPHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 1e18;
}

int64_t checkThreadCount(int64_t threads, const char* flag) {
  const int64_t cores = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
  const int64_t most = std::max<int64_t>(4, 4 * cores);
  GRAMRL_CHECK(threads >= 0 && threads <= most, ConfigError,
               "{}: expected 0 (every core) to {} (4 x the {} cores here), got {}", flag, most, cores, threads);
  return threads;
}

}  // namespace gramrl::cli
