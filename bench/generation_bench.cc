// Prefill and decode throughput of the transformer with its KV cache, against two references
// measured in the same run:
//   floor    = FLOPs of the work / the matmul rate of this machine (torch::mm, same dtype);
//              ratio = measured time / floor time (1.0 would be matmul-bound perfection)
//   no cache = the same decode tokens computed by re-running the whole sequence each step;
//              speedup = no-cache time / cached time
// FLOPs per token = 2 * (matmul parameters incl. the output head) + 4 * layers * heads * head_dim *
// context (scores and weighted sum); prefill counts the output head once per row (step() computes
// logits only at each row's last token).
// Correctness is checked in the same run: the cached decode's logits must match the recomputed
// ones (max abs difference printed).
//
// Usage: generation_bench [--presets tiny-qwen2,0.5b-qwen2] [--batches 1,8,64] [--prompt 64]
//        [--decode 16] [--no-cache-max-batch 8]   (a --presets entry ending in .json is a config.json path)
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "common/checkpoint/hf_config.h"
#include "common/model/presets.h"
#include "common/model/transformer.h"
#include "rollout/transformer_decoder.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

// Best of three timings of a 1024^3 matmul: this machine's dense rate.
double matmulFlopsPerSecond() {
  const int64_t n = 1024;
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  torch::mm(a, b);  // warm-up
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    auto c = torch::mm(a, b);
    best = std::min(best, seconds(t0, Clock::now()));
  }
  return 2.0 * n * n * n / best;
}

struct Shape {
  double matmul_params = 0;  // per token, without the output head
  double head_params = 0;
  double attn_per_ctx = 0;  // FLOPs per token per context position
};

Shape shapeOf(const gramrl::ModelConfig& c) {
  Shape s;
  const double h = static_cast<double>(c.hidden_size), q = static_cast<double>(c.num_attention_heads * c.head_dim),
               kv = static_cast<double>(c.num_key_value_heads * c.head_dim),
               ff = static_cast<double>(c.intermediate_size);
  s.matmul_params = static_cast<double>(c.num_hidden_layers) * (h * q + 2 * h * kv + q * h + 3 * h * ff);
  s.head_params = h * static_cast<double>(c.vocab_size);
  s.attn_per_ctx = 4.0 * static_cast<double>(c.num_hidden_layers) * q;
  return s;
}

// A preset name, or the path of a Hugging Face config.json (any name ending in ".json"), so that
// the bench runs on the shape of a real checkpoint (bench/peers/ times its peers on one).
gramrl::ModelConfig benchConfig(const std::string& name) {
  const std::string json = ".json";
  const bool is_file = name.size() > json.size() && name.compare(name.size() - json.size(), json.size(), json) == 0;
  return is_file ? gramrl::checkpoint::readHfConfigFile(name) : gramrl::presetConfig(name);
}

}  // namespace

int main(int argc, char** argv) {
  std::string presets = "tiny-qwen2,0.5b-qwen2", batches = "1,8,64";
  int64_t prompt = 64, decode = 16, no_cache_max_batch = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--presets")
      presets = v;
    else if (k == "--batches")
      batches = v;
    else if (k == "--prompt")
      prompt = std::stoll(v);
    else if (k == "--decode")
      decode = std::stoll(v);
    else if (k == "--no-cache-max-batch")
      no_cache_max_batch = std::stoll(v);
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  // LibTorch defaults to one intra-op thread on these VMs; use every core, as the matmul floor does.
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  const double rate = matmulFlopsPerSecond();
  std::printf("generation benchmark: fp32 CPU, %d torch threads; matmul rate %.1f GFLOP/s (1024^3 mm, best of 3)\n",
              at::get_num_threads(), rate / 1e9);
  std::printf(
      "prompt %ld tokens, %ld decode steps; ratio = time / (FLOPs / matmul rate); no-cache speedup = "
      "recompute time / cached time\n\n",
      static_cast<long>(prompt), static_cast<long>(decode));
  std::printf("%-13s %5s | %12s %7s | %12s %7s | %10s %12s\n", "model", "batch", "prefill tok/s", "ratio",
              "decode tok/s", "ratio", "no-cache x", "max |dlogit|");

  for (const std::string& name : splitList(presets)) {
    auto model = std::make_shared<gramrl::Transformer>(benchConfig(name), torch::kFloat, torch::kCPU);
    gramrl::initRandom(*model, 1);
    const Shape shape = shapeOf(model->config());
    const int64_t vocab = model->config().vocab_size;
    for (const std::string& bs : splitList(batches)) {
      const int64_t batch = std::stoll(bs);
      gramrl::TransformerDecoder decoder(model, batch, prompt + decode + 1);
      at::Tensor prompts = torch::randint(vocab, {batch, prompt}, torch::kLong);
      std::vector<int64_t> slots(static_cast<size_t>(batch)), plen(static_cast<size_t>(batch), prompt),
          ones(static_cast<size_t>(batch), 1);
      for (int64_t b = 0; b < batch; ++b) slots[static_cast<size_t>(b)] = b;

      const auto t0 = Clock::now();
      at::Tensor logits = decoder.step(slots, prompts, plen);
      const double prefill_s = seconds(t0, Clock::now());
      double prefill_flops = 0;
      for (int64_t t = 0; t < prompt; ++t) prefill_flops += 2 * shape.matmul_params + shape.attn_per_ctx * (t + 1);
      prefill_flops = prefill_flops * batch + 2 * shape.head_params * batch;

      at::Tensor tokens = prompts;
      double decode_s = 0, decode_flops = 0;
      for (int64_t s = 0; s < decode; ++s) {
        at::Tensor next = logits.argmax(1).reshape({batch, 1});
        tokens = torch::cat({tokens, next}, 1);
        const auto t1 = Clock::now();
        logits = decoder.step(slots, next, ones);
        decode_s += seconds(t1, Clock::now());
        decode_flops +=
            batch * (2 * shape.matmul_params + 2 * shape.head_params + shape.attn_per_ctx * (prompt + s + 1));
      }

      // The same decode without the cache: recompute every sequence in full at each step.
      double no_cache_s = -1, max_diff = -1;
      if (batch <= no_cache_max_batch) {
        no_cache_s = 0;
        at::Tensor last;
        for (int64_t s = 0; s < decode; ++s) {
          at::Tensor seq = tokens.slice(1, 0, prompt + s + 1);
          const auto t2 = Clock::now();
          at::Tensor hidden = model->forward(seq, torch::ones_like(seq));
          last = model->logits(hidden.select(1, seq.size(1) - 1));
          no_cache_s += seconds(t2, Clock::now());
        }
        max_diff = (last.to(torch::kFloat) - logits).abs().max().item<double>();
      }
      const double decode_tok = static_cast<double>(batch * decode);
      std::printf("%-13s %5ld | %12.0f %7.2f | %12.1f %7.2f | ", name.c_str(), static_cast<long>(batch),
                  static_cast<double>(batch * prompt) / prefill_s, prefill_s / (prefill_flops / rate),
                  decode_tok / decode_s, decode_s / (decode_flops / rate));
      if (no_cache_s >= 0) {
        std::printf("%10.1f %12.2e\n", no_cache_s / decode_s, max_diff);
      } else {
        std::printf("%10s %12s\n", "-", "-");
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
