// gramrl's model and checkpoints against Hugging Face transformers itself (the models, logits and
// generate() outputs that scripts/reference/hf/make_models.py writes with transformers' own
// classes): loading save_pretrained checkpoints (one file and sharded), the fp32 forward, greedy
// generation token for token, and saving checkpoints that check_saved.py then loads with
// from_pretrained (the ctest reference.from_pretrained_reads_gramrl_checkpoints).
//
// The reference directory comes from GRAMRL_HF_REFERENCE_DIR (set by tests/reference/CMakeLists.txt);
// without it, or without the Python environment that makes it, the tests skip.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/checkpoint.h"
#include "common/model/pretrained.h"
#include "common/model/sequence_batch.h"
#include "rollout/generation_engine.h"
#include "rollout/transformer_decoder.h"

namespace gramrl {
namespace {

namespace fs = std::filesystem;

const char* const kFamilies[] = {"llama3", "qwen2.5", "qwen3"};
// fp32 against fp32 with different kernels and summation orders: measured ~1e-6 (printed).
constexpr double kLogitTol = 1e-4;

std::string referenceDir() {
  const char* dir = std::getenv("GRAMRL_HF_REFERENCE_DIR");
  return dir != nullptr && fs::exists(fs::path(dir) / "versions.json") ? dir : "";
}

#define GRAMRL_REQUIRE_HF_REFERENCE()                                                                  \
  const std::string ref = referenceDir();                                                              \
  if (ref.empty()) {                                                                                   \
    GTEST_SKIP() << "GRAMRL_HF_REFERENCE_DIR has no references (run scripts/setup_reference.sh, then " \
                    "ctest -R reference)";                                                             \
  }

// max |a - b| over real tokens of [B, T, V] logits.
double maskedMaxDiff(const at::Tensor& a, const at::Tensor& b, const at::Tensor& mask) {
  const at::Tensor diff = (a.to(at::kDouble) - b.to(at::kDouble)).abs().amax(-1);
  return diff.masked_select(mask.ne(0)).max().item<double>();
}

double forwardDiff(const Transformer& model, const checkpoint::StateDict& ref) {
  torch::NoGradGuard no_grad;
  const at::Tensor& mask = ref.at("attention_mask");
  const at::Tensor hidden = model.forward(ref.at("input_ids"), mask);
  return maskedMaxDiff(model.logits(hidden), ref.at("logits"), mask);
}

TEST(HfReference, LoadsSaveSingleAndShardedAndMatchesLogits) {
  GRAMRL_REQUIRE_HF_REFERENCE();
  for (const char* family : kFamilies) {
    SCOPED_TRACE(family);
    const checkpoint::StateDict r = checkpoint::loadSafetensorsFile(ref + "/" + family + "/reference.safetensors");
    for (const char* kind : {"single", "sharded"}) {
      auto model = loadPretrained(ref + "/" + family + "/" + kind, at::kFloat, at::kCPU);
      const double diff = forwardDiff(*model, r);
      std::cout << "[measured] " << family << " " << kind << ": max |gramrl fp32 - transformers fp32| logits " << diff
                << " (max |logit| " << r.at("logits").abs().max().item<double>() << ")\n";
      EXPECT_LT(diff, kLogitTol);
    }
  }
}

TEST(HfReference, GreedyGenerationEqualsGenerate) {
  GRAMRL_REQUIRE_HF_REFERENCE();
  for (const char* family : kFamilies) {
    SCOPED_TRACE(family);
    std::ifstream in(ref + "/" + family + "/generate.json");
    const nlohmann::json g = nlohmann::json::parse(in);
    const auto prompts = g.at("prompts").get<std::vector<std::vector<int64_t>>>();
    const auto expected = g.at("generated").get<std::vector<std::vector<int64_t>>>();
    auto model = loadPretrained(ref + "/" + family + "/single", at::kFloat, at::kCPU);
    GenerationOptions opts;
    opts.sampling.temperature = 0;  // greedy
    opts.max_new_tokens = g.at("max_new_tokens").get<int64_t>();
    opts.stop_token_ids = {g.at("eos_token_id").get<int64_t>()};
    // All prompts in one continuously batched run, fewer slots than prompts.
    TransformerDecoder decoder(model, 2, 64);
    GenerationEngine engine(decoder);
    const std::vector<Completion> got = engine.generate(prompts, opts);
    ASSERT_EQ(got.size(), expected.size());
    size_t equal = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].tokens, expected[i]) << "prompt " << i;
      equal += got[i].tokens == expected[i];
    }
    std::cout << "[measured] " << family << ": " << equal << " of " << got.size() << " greedy generations of "
              << opts.max_new_tokens << " tokens equal generate()'s (min top-2 logit gap in generate() "
              << g.at("min_top2_gap").get<double>() << ")\n";
  }
}

// Writes <family>/gramrl_saved/{single,sharded} for check_saved.py, after checking that gramrl
// reads its own output back to the same logits.
TEST(HfReference, SavesCheckpointsForFromPretrained) {
  GRAMRL_REQUIRE_HF_REFERENCE();
  for (const char* family : kFamilies) {
    SCOPED_TRACE(family);
    const checkpoint::StateDict r = checkpoint::loadSafetensorsFile(ref + "/" + family + "/reference.safetensors");
    auto model = loadPretrained(ref + "/" + family + "/single", at::kFloat, at::kCPU);
    const std::string out = ref + "/" + family + "/gramrl_saved";
    fs::remove_all(out);
    const auto single = savePretrained(*model, out + "/single");
    const auto sharded = savePretrained(*model, out + "/sharded", /*max_shard_bytes=*/200 * 1000);
    EXPECT_GT(sharded.size(), single.size() + 1) << "expected several shards and an index";
    for (const char* kind : {"single", "sharded"}) {
      EXPECT_LT(forwardDiff(*loadPretrained(out + "/" + kind, at::kFloat, at::kCPU), r), kLogitTol) << kind;
    }
  }
}

}  // namespace
}  // namespace gramrl
