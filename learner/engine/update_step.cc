#include "learner/engine/update_step.h"

#include <chrono>
#include <limits>

#include <torch/torch.h>

#include "common/collectives/collective.h"
#include "common/core/errors.h"
#include "common/model/transformer.h"
#include "learner/engine/autocast.h"

namespace gramrl {
namespace {

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

TrainedModule::TrainedModule(std::string name, std::shared_ptr<Transformer> model, TrainedModuleOptions options)
    : name_(std::move(name)), model_(std::move(model)), options_(std::move(options)) {
  params_ = applyFreeze(*model_, options_.freeze);
  AdamWSettings settings = options_.adamw;
  settings.lr = options_.schedule.peak_lr;
  optimizer_ = makeAdamW(params_, settings);
}

TrainedModule::~TrainedModule() = default;

UpdateResult runUpdate(TrainedModule& module, Objective& objective, Collective& collective,
                       const std::vector<std::vector<int64_t>>& micro_batches, int64_t step) {
  UpdateResult result;
  result.lr = learningRate(module.options().schedule, step);
  setLearningRate(module.optimizer(), result.lr);

  double local_units = 0.0;
  for (const auto& mb : micro_batches) local_units += objective.normaliser(mb);
  result.global_units = collective.allreduceSum(std::vector<double>{local_units})[0];
  GRAMRL_CHECK(result.global_units > 0, DataError,
               "step {}: the global batch has no loss units (e.g. every response truncated away); check "
               "policy.max_prompt_tokens and max_new_tokens against the data",
               step);

  const auto t_fb = Clock::now();
  const bool autocast = module.options().precision == "bf16" && module.model().device().is_cuda();
  double loss_sum = 0.0;
  double tokens = 0.0;
  std::vector<MetricSum> sums;
  for (const auto& mb : micro_batches) {
    ObjectiveOutput out;
    {
      AutocastScope scope(autocast);
      out = objective.forward(mb);
    }
    (out.loss_sum / result.global_units).backward();
    loss_sum += out.loss_sum.item<double>();
    tokens += static_cast<double>(out.tokens);
    if (sums.empty()) {
      sums = out.metrics;
    } else {
      GRAMRL_ASSERT(sums.size() == out.metrics.size(), "objective metrics changed between micro-batches");
      for (size_t i = 0; i < sums.size(); ++i) {
        sums[i].sum += out.metrics[i].sum;
        sums[i].count += out.metrics[i].count;
      }
    }
  }
  result.forward_backward_s = secondsSince(t_fb);

  const auto t_ar = Clock::now();
  const auto& params = module.parameters().tensors;
  if (collective.worldSize() > 1) allreduceGradients(collective, params);
  result.allreduce_s = secondsSince(t_ar);

  const auto t_opt = Clock::now();
  const double max_norm = module.options().max_grad_norm;
  const double clip = max_norm > 0 ? max_norm : std::numeric_limits<double>::infinity();
  result.grad_norm = torch::nn::utils::clip_grad_norm_(params, clip);
  module.optimizer().step();
  module.optimizer().zero_grad();
  result.optimizer_s = secondsSince(t_opt);

  std::vector<double> reduce{loss_sum, tokens};
  for (const auto& m : sums) {
    reduce.push_back(m.sum);
    reduce.push_back(m.count);
  }
  reduce = collective.allreduceSum(std::move(reduce));
  result.loss = reduce[0] / result.global_units;
  result.tokens = reduce[1];
  for (size_t i = 0; i < sums.size(); ++i) {
    const double count = reduce[3 + 2 * i];
    result.metrics.emplace_back(sums[i].name,
                                count > 0 ? reduce[2 + 2 * i] / count : std::numeric_limits<double>::quiet_NaN());
  }
  return result;
}

}  // namespace gramrl
