// Issue 15: sizes a user gives are checked against the model and memory before anything is
// allocated, with the flag to change; thread counts are bounded.
#include "launch/generation_limits.h"

#include <string>

#include <gtest/gtest.h>

#include "common/core/errors.h"

namespace gramrl::cli {
namespace {

ModelConfig smallModel() {
  ModelConfig c;
  c.vocab_size = 1000;
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.max_position_embeddings = 300;
  return c;
}

template <typename E>
std::string errorOf(const GenerationSizes& s, double memory) {
  try {
    checkGenerationSizes(smallModel(), s, memory);
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an error";
  return "";
}

TEST(GenerationLimits, KvCacheBytesByHand) {
  GenerationSizes s;
  s.prompt_tokens = {10, 40};
  s.max_new_tokens = 60;
  s.slots = 3;
  // KV: 2 (k, v) * 2 layers * 3 slots * 100 positions * 2 heads * 16 dims = 38400 elements;
  // logits: (40 + 3) * 1000 = 43000 elements; 4 bytes each.
  EXPECT_DOUBLE_EQ(generationBytes(smallModel(), s), (38400.0 + 43000.0) * 4);
}

TEST(GenerationLimits, LengthsAreCheckedAgainstTheContext) {
  GenerationSizes s;
  s.prompt_tokens = {5, 300, 7};
  s.max_new_tokens = 1;
  EXPECT_EQ(errorOf<DataError>(s, 1e12),
            "generate: prompt 1 is 300 tokens, and the model's context (max_position_embeddings) is 300: shorten it "
            "to fewer than 300 tokens");
  s.prompt_tokens = {5, 120};
  s.max_new_tokens = 181;
  EXPECT_EQ(errorOf<ConfigError>(s, 1e12),
            "generate: --max-new-tokens 181 plus the longest prompt (120 tokens) passes the model's context of 300 "
            "tokens (max_position_embeddings): use --max-new-tokens 180 or less");
  s.max_new_tokens = 180;
  EXPECT_NO_THROW(checkGenerationSizes(smallModel(), s, 1e12));
}

TEST(GenerationLimits, MemoryIsCheckedBeforeAllocating) {
  GenerationSizes s;
  s.prompt_tokens = {100};
  s.max_new_tokens = 200;
  s.slots = 4096;
  const std::string e = errorOf<ConfigError>(s, 64.0 * (1 << 20));  // 64 MiB "available"
  EXPECT_NE(e.find("4096 sequences at once (--max-batch, -n) of up to 300 tokens"), std::string::npos) << e;
  EXPECT_NE(e.find("lower --max-batch, -n or --max-new-tokens"), std::string::npos) << e;
  s.slots = 4;
  EXPECT_NO_THROW(checkGenerationSizes(smallModel(), s, 64.0 * (1 << 20)));
}

TEST(GenerationLimits, ThreadCountsAreBounded) {
  EXPECT_EQ(checkThreadCount(0, "--threads"), 0);
  EXPECT_EQ(checkThreadCount(2, "--threads"), 2);
  for (int64_t bad : {int64_t{-1}, int64_t{100000}, int64_t{1} << 40}) {
    try {
      checkThreadCount(bad, "gram eval: --threads");
      ADD_FAILURE() << bad;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("gram eval: --threads: expected 0 (every core) to ", 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace gramrl::cli
