// Training throughput of the transformer (forward + backward + AdamW: what one learner rank does
// per micro-batch) against the FLOP floor measured in the same run:
//   floor = training FLOPs / this machine's matmul rate (torch::mm, fp32, same threads)
//   ratio = measured step time / floor time (1.0 would be matmul-bound perfection)
// Training FLOPs per token = 3 * forward, forward = 2 * (matmul parameters + output head) +
// 2 * layers * heads * head_dim * T (causal scores and weighted sum, averaged over positions).
// The loss is next-token cross-entropy over every token (chunked token log-probs, as the
// trainers use). Correctness in the same run: the loss is finite and falls over the timed steps
// (the same batch is repeated, so a working step must fit it).
//
// Usage: train_bench [--presets tiny-qwen2,0.5b-qwen2] [--shapes 8x128,1x512] [--steps 5]
//                    [--threads N]   (a --presets entry ending in .json is a config.json path)
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

namespace {

using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

std::vector<std::string> splitList(const std::string& s, char sep = ',') {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

double matmulFlopsPerSecond() {
  const int64_t n = 1024;
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  torch::mm(a, b);
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    auto c = torch::mm(a, b);
    best = std::min(best, seconds(t0, Clock::now()));
  }
  return 2.0 * n * n * n / best;
}

double forwardFlopsPerToken(const gramrl::ModelConfig& c, int64_t t) {
  const double h = static_cast<double>(c.hidden_size), q = static_cast<double>(c.num_attention_heads * c.head_dim),
               kv = static_cast<double>(c.num_key_value_heads * c.head_dim),
               ff = static_cast<double>(c.intermediate_size), layers = static_cast<double>(c.num_hidden_layers);
  const double matmul = layers * (h * q + 2 * h * kv + q * h + 3 * h * ff) + h * static_cast<double>(c.vocab_size);
  return 2.0 * matmul + 2.0 * layers * q * static_cast<double>(t);
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
  std::string presets = "tiny-qwen2,0.5b-qwen2", shapes = "8x128,1x512";
  int64_t steps = 5, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--presets") {
      presets = v;
    } else if (k == "--shapes") {
      shapes = v;
    } else if (k == "--steps") {
      steps = std::stoll(v);
    } else if (k == "--threads") {
      threads = std::stoll(v);
    } else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  torch::manual_seed(0);
  at::set_num_threads(threads > 0 ? static_cast<int>(threads)
                                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  const double rate = matmulFlopsPerSecond();
  std::printf("training benchmark: fp32 CPU, %d torch threads; matmul rate %.1f GFLOP/s (1024^3 mm, best of 3)\n",
              at::get_num_threads(), rate / 1e9);
  std::printf("step = forward + backward + AdamW on B x T tokens; ratio = step time / (3 * forward FLOPs / rate)\n\n");
  std::printf("%-13s %9s | %10s %10s %8s | %9s %9s\n", "model", "B x T", "step s", "tokens/s", "ratio", "loss 1st",
              "loss last");
  int failures = 0;
  for (const std::string& name : splitList(presets)) {
    auto model = std::make_shared<gramrl::Transformer>(benchConfig(name), torch::kFloat, torch::kCPU);
    gramrl::initRandom(*model, 1);
    const gramrl::ModelConfig& config = model->config();
    for (const std::string& shape : splitList(shapes)) {
      const auto parts = splitList(shape, 'x');
      const int64_t b = std::stoll(parts.at(0)), t = std::stoll(parts.at(1));
      torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));
      const at::Tensor ids = torch::randint(std::min<int64_t>(config.vocab_size, 256), {b, t}, torch::kLong);
      const at::Tensor mask = torch::ones({b, t}, torch::kLong);
      const at::Tensor targets_mask = torch::ones({b, t - 1}, torch::kBool);
      auto step = [&]() {
        const at::Tensor hidden = model->forward(ids, mask);
        const at::Tensor logps =
            model->tokenLogProbs(hidden.narrow(1, 0, t - 1), ids.narrow(1, 1, t - 1), targets_mask);
        const at::Tensor loss = -logps.sum() / static_cast<double>(b * (t - 1));
        loss.backward();
        optimizer.step();
        optimizer.zero_grad();
        return loss.item<double>();
      };
      const double first = step();  // warm-up (allocations, AdamW state)
      double last = first;
      std::vector<double> times;
      for (int64_t s = 0; s < steps; ++s) {
        const auto t0 = Clock::now();
        last = step();
        times.push_back(seconds(t0, Clock::now()));
      }
      std::sort(times.begin(), times.end());
      const double median = times[times.size() / 2];
      const double tokens = static_cast<double>(b * t);
      const double floor = 3.0 * forwardFlopsPerToken(config, t) * tokens / rate;
      const bool ok = std::isfinite(last) && last < first;
      failures += ok ? 0 : 1;
      std::printf("%-13s %4ldx%-4ld | %10.3f %10.0f %8.2f | %9.4f %9.4f%s\n", name.c_str(), static_cast<long>(b),
                  static_cast<long>(t), median, tokens / median, median / floor, first, last,
                  ok ? "" : "  <- loss did not fall");
      std::fflush(stdout);
    }
  }
  return failures == 0 ? 0 : 1;
}
