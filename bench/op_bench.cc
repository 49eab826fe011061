// The operations that decoding spends its time in, one at a time, on a checkpoint's shapes: what
// bench/peers/ uses to say why gramrl's generation is slower than a peer's. bench/peers/op_peer.py
// times the same operations in PyTorch 2.x from PyPI, so the two LibTorch builds are compared op
// by op on this machine (their BLAS and kernels, not gramrl's code):
//   mm 1024^3                         the dense rate (the floor of the other benches)
//   linear B x hidden . vocab x hidden^T   the output head (tied embedding), B = 1 and 64
//   linear B x hidden . 3*ff x hidden^T    one layer's MLP weights read (gate, up and down together)
//   sampling B x vocab                isfinite().all(), / temperature, log_softmax, exp, argmax
//                                     (what rollout/sampling.cc did for greedy rows until NOTE
//                                     [Greedy rows skip the probabilities])
//   sampleTokens greedy B x vocab     gramrl::sampleTokens itself on the same logits, every row
//                                     greedy (isfinite().all(), logsumexp, argmax)
// Each: median of 20 timings after 3 warm-ups, in ms. Correctness: every result is finite.
//
// Usage: op_bench CONFIG_JSON [--threads 2]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "rollout/sampling.h"

#include "common/checkpoint/hf_config.h"

namespace {

using Clock = std::chrono::steady_clock;

double medianMs(const std::function<at::Tensor()>& op) {
  for (int i = 0; i < 3; ++i) op();
  std::vector<double> ms;
  for (int i = 0; i < 20; ++i) {
    const auto t0 = Clock::now();
    const at::Tensor out = op();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!torch::isfinite(out).all().item<bool>()) throw std::runtime_error("op_bench: a result is not finite");
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: op_bench CONFIG_JSON [--threads 2]\n");
    return 2;
  }
  const int threads = argc >= 4 && std::string(argv[2]) == "--threads" ? std::stoi(argv[3]) : 2;
  at::set_num_threads(threads);
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const gramrl::ModelConfig c = gramrl::checkpoint::readHfConfigFile(argv[1]);
  const int64_t h = c.hidden_size, v = c.vocab_size, ff = c.intermediate_size;
  std::printf("op_bench: LibTorch %s, %d threads; hidden %ld, vocab %ld, intermediate %ld\n", TORCH_VERSION,
              at::get_num_threads(), static_cast<long>(h), static_cast<long>(v), static_cast<long>(ff));
  const at::Tensor a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
  const double mm = medianMs([&] { return torch::mm(a, b); });
  std::printf("%-28s %10.3f ms  (%.1f GFLOP/s)\n", "mm 1024^3", mm, 2.0 * 1024 * 1024 * 1024 / mm / 1e6);
  const at::Tensor head = torch::randn({v, h}) * 0.1, up = torch::randn({2 * ff, h}) * 0.1,
                   down = torch::randn({h, ff}) * 0.1;
  for (int64_t rows : {int64_t{1}, int64_t{64}}) {
    const at::Tensor x = torch::randn({rows, h});
    std::printf("%-28s %10.3f ms\n", ("head linear B=" + std::to_string(rows)).c_str(),
                medianMs([&] { return at::linear(x, head); }));
    std::printf("%-28s %10.3f ms\n", ("mlp linears B=" + std::to_string(rows)).c_str(), medianMs([&] {
                  const at::Tensor gu = at::linear(x, up);
                  return at::linear(gu.narrow(1, 0, ff), down);
                }));
    const at::Tensor logits = torch::randn({rows, v}) * 3;
    const at::Tensor temps = torch::ones({rows, 1});
    std::printf("%-28s %10.3f ms\n", ("sampling B=" + std::to_string(rows)).c_str(), medianMs([&] {
                  if (!torch::isfinite(logits).all().item<bool>()) throw std::runtime_error("not finite");
                  const at::Tensor lp = torch::log_softmax(logits / temps, 1).contiguous();
                  const at::Tensor p = lp.exp().contiguous();
                  return lp.argmax(1).to(torch::kFloat) + p.select(1, 0);
                }));
    const std::vector<gramrl::SamplingParams> greedy(static_cast<size_t>(rows), gramrl::SamplingParams{0.0, 0, 1.0});
    const std::vector<double> uniforms(static_cast<size_t>(rows), 0.5);
    std::printf("%-28s %10.3f ms\n", ("sampleTokens greedy B=" + std::to_string(rows)).c_str(), medianMs([&] {
                  const gramrl::SampledTokens s = gramrl::sampleTokens(logits, greedy, uniforms);
                  return torch::tensor(s.policy_logprobs);
                }));
  }
  return 0;
}
