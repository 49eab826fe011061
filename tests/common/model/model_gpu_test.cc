// The model on a CUDA device: float32 there agrees with float32 on the CPU, bfloat16 (the GPU
// dtype) tracks it, and the cached step works with a device-resident KV cache. Skipped without
// CUDA.
#include <iostream>

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "common/model/kv_cache.h"
#include "common/model/transformer.h"
#include "tests/common/model/model_test_util.h"

namespace gramrl {
namespace {

using testing::makeModel;
using testing::maxAbsDiff;
using testing::randomTokens;
using testing::smallConfig;

TEST(ModelGpu, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  const at::Device cuda(at::kCUDA, 0);
  for (const char* family : testing::kFamilies) {
    SCOPED_TRACE(family);
    const ModelConfig config = smallConfig(family);
    auto cpu = makeModel(config, 41);
    auto gpu32 = makeModel(config, 41, at::kFloat, cuda);
    auto gpu16 = makeModel(config, 41, at::kBFloat16, cuda);
    const at::Tensor ids = randomTokens(3, 12, config.vocab_size, 2);
    at::Tensor mask = at::ones_like(ids);
    mask[1].narrow(0, 0, 4).zero_();
    const at::Tensor ref = cpu->logits(cpu->forward(ids, mask));
    const at::Tensor got32 = gpu32->logits(gpu32->forward(ids, mask));
    const at::Tensor got16 = gpu16->logits(gpu16->forward(ids, mask));
    EXPECT_TRUE(got16.is_cuda());
    // Real positions only (row 1's first four are padding).
    const at::Tensor real = mask.ne(0).unsqueeze(2).to(cuda);
    const double diff32 = maxAbsDiff(got32 * real, ref.to(cuda) * real);
    const double diff16 = maxAbsDiff(got16 * real, ref.to(cuda) * real);
    KvCache cache(config, 4, 32, at::kBFloat16, cuda);
    const StepOutput step = gpu16->step(cache, {3, 1, 0}, ids, {12, 12, 12});
    // Rows 0 and 2 are unpadded, so their step logits equal the forward's last position.
    const double unpadded_step_diff =
        std::max(maxAbsDiff(step.logits[0], got16[0][11]), maxAbsDiff(step.logits[2], got16[2][11]));
    const double scale = ref.abs().max().item<double>();
    std::cout << "[measured] " << family << " cuda fp32 vs cpu fp32: " << diff32
              << "; cuda bf16 vs cpu fp32: " << diff16 << "; bf16 step vs bf16 forward: " << unpadded_step_diff
              << " (max |logit| " << scale << ")\n";
    EXPECT_LT(diff32, 1e-3);  // TF32 may be enabled for matmuls
    EXPECT_LT(diff16, 0.05 * scale);
    EXPECT_LT(unpadded_step_diff, 0.05 * scale);
  }
}

}  // namespace
}  // namespace gramrl
