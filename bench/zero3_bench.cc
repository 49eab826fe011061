// zero3_bench: what ZeRO-3 (NOTE [ZeRO-3 parameter sharding] in learner/engine/zero3.h) costs per
// optimiser update against stage 0, measured in the same run on the same model and batches.
//
// Two Gloo ranks on threads of this process (a c10d HashStore, loopback TCP). Each rank trains a
// built-in model (default "small") with activation recomputation on a next-token loss over random
// tokens, `micro` micro-batches of `rows` x `tokens` per update, for `iters` updates after one
// warm-up update, once with learner.zero_stage 0 and once with 3. Reported per stage: ms per
// update (median over iterations, rank 0), its forward+backward / reduce / optimiser parts, the
// collective calls per update, and the memory the rank keeps for the trained model (weights,
// gradients and AdamW moments: 16 bytes per parameter at stage 0, 16 per shard element plus 8 per
// whole parameter at stage 3). The last line is the time ratio stage 3 / stage 0 (the peer) and
// the memory ratio, and the check: the largest difference between the two stages' final
// parameters (the order of float sums differs; more than 1e-4 fails the run).
// ZeRO-3 issues per micro-batch and layer two all-gathers and one reduce-scatter (an allreduce on
// Gloo) where stage 0 issues one bucketed allreduce per update; on two CPU ranks sharing 2 cores
// that traffic is not hidden behind compute, so the ratio is an upper bound for a GPU node.
//
// Usage: zero3_bench [iters] [preset] [micro] [rows] [tokens]   (default 5 small 2 4 64)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include "common/collectives/collective.h"
#include "common/collectives/process_group.h"
#include "common/model/pretrained.h"
#include "common/model/transformer.h"
#include "learner/engine/objective.h"
#include "learner/engine/update_step.h"
#include "learner/engine/zero3.h"

namespace {

using Clock = std::chrono::steady_clock;

// Next-token NLL over fixed random token rows (example i is row i).
class RandomTokensObjective final : public gramrl::Objective {
 public:
  RandomTokensObjective(std::shared_ptr<gramrl::Transformer> model, at::Tensor tokens)
      : model_(std::move(model)), tokens_(std::move(tokens)) {}
  std::string name() const override { return "random_tokens"; }
  int64_t size() const override { return tokens_.size(0); }
  double normaliser(const std::vector<int64_t>& indices) override {
    return static_cast<double>(indices.size() * (tokens_.size(1) - 1));
  }
  gramrl::ObjectiveOutput forward(const std::vector<int64_t>& indices) override {
    const at::Tensor ids = tokens_.index_select(0, at::tensor(indices, at::kLong));
    const at::Tensor mask = at::ones_like(ids);
    const at::Tensor hidden = model_->forward(ids, mask);
    const int64_t t = ids.size(1);
    const at::Tensor targets = ids.narrow(1, 1, t - 1);
    const at::Tensor logp = model_->tokenLogProbs(hidden.narrow(1, 0, t - 1), targets, mask.narrow(1, 1, t - 1));
    gramrl::ObjectiveOutput out;
    out.loss_sum = -logp.sum();
    out.tokens = ids.numel();
    return out;
  }

 private:
  std::shared_ptr<gramrl::Transformer> model_;
  at::Tensor tokens_;
};

struct StageResult {
  double ms = 0, fb_ms = 0, reduce_ms = 0, opt_ms = 0;
  int64_t calls = 0;
  double state_bytes = 0;
  std::vector<std::pair<std::string, at::Tensor>> params;  // rank 0's whole parameters at the end
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

StageResult run(int64_t stage, int iters, const std::string& preset, int micro, int rows, int tokens) {
  constexpr int kWorld = 2;
  gramrl::StoreHandle store{c10::make_intrusive<c10d::HashStore>(), "in-process HashStore", true};
  StageResult result;
  std::vector<std::thread> threads;
  for (int rank = 0; rank < kWorld; ++rank) {
    threads.emplace_back([&, rank] {
      at::set_num_threads(1);
      gramrl::CollectiveOptions options;
      options.group_name = "stage" + std::to_string(stage);
      options.timeout = std::chrono::seconds(600);
      auto c = gramrl::makeProcessGroupCollective(store, rank, kWorld, at::Device(at::kCPU), options);
      auto model =
          gramrl::loadPretrained("builtin:" + preset, at::kFloat, at::kCPU, gramrl::PretrainedOptions{1, false});
      int64_t params = 0;
      for (const auto& p : model->parameters()) params += p.numel();
      at::manual_seed(42);
      const int64_t examples = static_cast<int64_t>(kWorld) * micro * rows * (iters + 1);
      const at::Tensor data = at::randint(0, model->config().vocab_size, {examples, tokens}, at::kLong);
      RandomTokensObjective objective(model, data);
      gramrl::TrainedModuleOptions o;
      o.schedule = gramrl::LrScheduleOptions{1e-4, "constant", 0.0, 0.0, iters + 1};
      o.adamw = gramrl::AdamWSettings{1e-4, 0.9, 0.999, 1e-8, 0.0};
      o.activation_checkpointing = true;
      o.zero_stage = stage;
      gramrl::TrainedModule module("policy", model, o, rank, kWorld, c.get());
      std::vector<double> ms, fb, reduce, opt;
      int64_t calls = 0;
      for (int it = 0; it < iters + 1; ++it) {
        std::vector<std::vector<int64_t>> batches;
        for (int m = 0; m < micro; ++m) {
          std::vector<int64_t> b;
          for (int r = 0; r < rows; ++r) b.push_back(((it * kWorld + rank) * micro + m) * rows + r);
          batches.push_back(b);
        }
        c->barrier();
        const int64_t calls_before = c->callCount();
        const auto start = Clock::now();
        const gramrl::UpdateResult u = gramrl::runUpdate(module, objective, *c, batches, it);
        if (it == 0) continue;  // warm-up
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        fb.push_back(u.forward_backward_s * 1e3);
        reduce.push_back(u.allreduce_s * 1e3);
        opt.push_back(u.optimizer_s * 1e3);
        calls = c->callCount() - calls_before;
      }
      auto whole = module.wholeParameters(rank == 0);  // a collective with ZeRO-3
      if (rank != 0) return;
      for (auto& [name, t] : whole) result.params.emplace_back(name, t.clone());
      result.ms = median(ms);
      result.fb_ms = median(fb);
      result.reduce_ms = median(reduce);
      result.opt_ms = median(opt);
      result.calls = calls;
      if (const auto* zero = module.zeroShards()) {
        int64_t whole = 0;
        for (const auto& p : model->parameters()) whole += p.numel();  // released layers count 0
        result.state_bytes = 16.0 * static_cast<double>(zero->shardElements()) + 8.0 * static_cast<double>(whole);
      } else {
        result.state_bytes = 16.0 * static_cast<double>(params);
      }
    });
  }
  for (auto& t : threads) t.join();
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::atoi(argv[1]) : 5;
  const std::string preset = argc > 2 ? argv[2] : "small";
  const int micro = argc > 3 ? std::atoi(argv[3]) : 2;
  const int rows = argc > 4 ? std::atoi(argv[4]) : 4;
  const int tokens = argc > 5 ? std::atoi(argv[5]) : 64;
  if (iters < 1 || micro < 1 || rows < 1 || tokens < 2) {
    std::fprintf(stderr, "usage: zero3_bench [iters>=1] [preset] [micro>=1] [rows>=1] [tokens>=2]\n");
    return 2;
  }
  std::printf("zero3_bench: builtin:%s, 2 Gloo ranks, %d micro-batches of %d x %d tokens, median of %d updates\n",
              preset.c_str(), micro, rows, tokens, iters);
  std::printf(
      "| stage | ms / update | forward+backward | reduce | optimiser | collectives / update | model state MiB |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  StageResult r[2];
  const int64_t stages[2] = {0, 3};
  for (int i = 0; i < 2; ++i) {
    r[i] = run(stages[i], iters, preset, micro, rows, tokens);
    std::printf("| %lld | %.1f | %.1f | %.1f | %.1f | %lld | %.1f |\n", static_cast<long long>(stages[i]), r[i].ms,
                r[i].fb_ms, r[i].reduce_ms, r[i].opt_ms, static_cast<long long>(r[i].calls),
                r[i].state_bytes / (1 << 20));
  }
  // The check: both stages trained the same parameters (up to the order of float sums).
  double worst = 0.0;
  for (size_t i = 0; i < r[0].params.size() && i < r[1].params.size(); ++i) {
    worst = std::max(worst, (r[0].params[i].second - r[1].params[i].second).abs().max().item<double>());
  }
  std::printf("stage 3 / stage 0: time %.2fx, model state %.2fx; parameters differ by up to %.3g\n", r[1].ms / r[0].ms,
              r[1].state_bytes / r[0].state_bytes, worst);
  if (r[0].params.size() != r[1].params.size() || !(worst < 1e-4)) {
    std::fprintf(stderr, "zero3_bench: the two stages trained different parameters\n");
    return 1;
  }
  return 0;
}
