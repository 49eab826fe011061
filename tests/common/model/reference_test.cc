// Our float32 forward against an independent float64 implementation
// (scripts/reference/model/reference_forward.py) on the committed fixtures of tests/data/model:
// a Llama-3 with llama3 rope scaling and untied embeddings, a Qwen2.5 with biases and tied
// embeddings, a Qwen3 with q/k norm, head_dim != hidden / heads and a value head; each on a batch
// with an unpadded, a left-padded and a right-padded row (the reference computes every row
// unpadded). See tests/data/model/README.md for how the fixtures were made.
#include <iostream>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/checkpoint/checkpoint.h"
#include "common/model/pretrained.h"
#include "tests/common/model/model_test_util.h"

namespace gramrl {
namespace {

using testing::dataDir;
using testing::kFamilies;

// Measured max |ours - reference| on these fixtures is ~1e-6 (logits up to ~4); printed below.
constexpr double kTol = 1e-4;

struct Fixture {
  std::shared_ptr<Transformer> model;
  at::Tensor ids, mask;
  at::Tensor ref_logits;  // [B, T, V] float64, 0 at padding
  at::Tensor ref_values;  // [B, T] float64, or undefined
};

Fixture loadFixture(const std::string& family) {
  const std::string dir = dataDir() + "/" + family;
  Fixture f;
  f.model = loadPretrained(dir, at::kFloat, at::kCPU);
  const checkpoint::StateDict inputs = checkpoint::loadSafetensorsFile(dir + "/inputs.safetensors");
  const checkpoint::StateDict ref = checkpoint::loadSafetensorsFile(dir + "/reference.safetensors");
  f.ids = inputs.at("input_ids");
  f.mask = inputs.at("attention_mask");
  f.ref_logits = ref.at("logits");
  if (ref.count("values") != 0) f.ref_values = ref.at("values");
  return f;
}

// max |a - b| over the real tokens; a and b are [B, T, ...].
double maskedMaxDiff(const at::Tensor& a, const at::Tensor& b, const at::Tensor& mask) {
  at::Tensor diff = (a.to(at::kDouble) - b.to(at::kDouble)).abs();
  while (diff.dim() > 2) diff = diff.amax(-1);
  return diff.masked_select(mask.ne(0)).max().item<double>();
}

TEST(ReferenceFixtures, ForwardMatchesFloat64Reference) {
  torch::NoGradGuard no_grad;
  for (const char* family : kFamilies) {
    SCOPED_TRACE(family);
    const Fixture f = loadFixture(family);
    const at::Tensor hidden = f.model->forward(f.ids, f.mask);
    const double diff = maskedMaxDiff(f.model->logits(hidden), f.ref_logits, f.mask);
    std::cout << "[measured] " << family << " fp32 forward vs float64 reference: max |diff| " << diff
              << " (max |logit| " << f.ref_logits.abs().max().item<double>() << ")\n";
    EXPECT_LT(diff, kTol);
    EXPECT_EQ(f.model->hasValueHead(), f.ref_values.defined());
    if (f.ref_values.defined()) {
      const double value_diff = maskedMaxDiff(f.model->values(hidden), f.ref_values, f.mask);
      std::cout << "[measured] " << family << " values vs reference: max |diff| " << value_diff << "\n";
      EXPECT_LT(value_diff, kTol);
    }
  }
}

TEST(ReferenceFixtures, CachedPrefillAndHeadsMatchReference) {
  torch::NoGradGuard no_grad;
  for (const char* family : kFamilies) {
    SCOPED_TRACE(family);
    const Fixture f = loadFixture(family);
    const int64_t batch = f.ids.size(0), len = f.ids.size(1);
    // Prefill each row's real tokens (left-aligned, as step() wants) into slots 2, 0, 1.
    at::Tensor packed = at::zeros_like(f.ids);
    std::vector<int64_t> lengths;
    for (int64_t b = 0; b < batch; ++b) {
      const at::Tensor real = f.ids[b].masked_select(f.mask[b].ne(0));
      packed[b].narrow(0, 0, real.size(0)).copy_(real);
      lengths.push_back(real.size(0));
    }
    KvCache cache(f.model->config(), 3, len, at::kFloat, at::kCPU);
    const StepOutput out = f.model->step(cache, {2, 0, 1}, packed, lengths);
    const at::Tensor last = lastTokenPositions(f.mask);
    const at::Tensor ref_last = f.ref_logits.index({at::arange(batch), last});  // [B, V]
    const double step_diff = testing::maxAbsDiff(out.logits, ref_last);
    // Token log-probs of the next real token, and the "A"/"B" logits at the last token.
    const at::Tensor hidden = f.model->forward(f.ids, f.mask);
    const at::Tensor targets = f.ids.narrow(1, 1, len - 1);
    const at::Tensor pair_mask = f.mask.narrow(1, 0, len - 1) * f.mask.narrow(1, 1, len - 1);
    const at::Tensor lp = f.model->tokenLogProbs(hidden.narrow(1, 0, len - 1), targets, pair_mask);
    const at::Tensor ref_lp =
        at::log_softmax(f.ref_logits.narrow(1, 0, len - 1), -1).gather(2, targets.unsqueeze(2)).squeeze(2);
    const double lp_diff = maskedMaxDiff(lp, ref_lp, pair_mask);
    const at::Tensor ab = torch::tensor({65, 66}, at::kLong);
    const double ab_diff = testing::maxAbsDiff(f.model->selectedLogits(hidden, last, ab), ref_last.index_select(1, ab));
    std::cout << "[measured] " << family << " vs reference: step " << step_diff << ", token log-probs " << lp_diff
              << ", A/B logits " << ab_diff << "\n";
    EXPECT_LT(step_diff, kTol);
    EXPECT_LT(lp_diff, kTol);
    EXPECT_LT(ab_diff, kTol);
  }
}

}  // namespace
}  // namespace gramrl
