#include "learner/engine/update_step.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include <torch/torch.h>

#include "common/collectives/collective.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/core/partition.h"
#include "common/model/pretrained.h"
#include "common/model/transformer.h"
#include "learner/engine/autocast.h"
#include "learner/engine/zero3.h"

namespace gramrl {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// What LibTorch 1.13's Optimizer::zero_grad() does, over every parameter (a sharded optimiser
// knows only its own), so that stage 0 and stage 1 leave the same gradients behind.
void zeroGradients(const std::vector<at::Tensor>& params) {
  for (const auto& p : params) {
    if (p.grad().defined()) {
      p.grad().detach_();
      p.grad().zero_();
    }
  }
}

// "optimizer.pt" -> ("optimizer", ".pt").
std::pair<std::string, std::string> splitExtension(const std::string& base) {
  const fs::path path(base);
  return {path.stem().string(), path.extension().string()};
}

}  // namespace

std::vector<size_t> partitionParameters(const std::vector<int64_t>& numels, int ranks) {
  const size_t n = numels.size();
  GRAMRL_CHECK(ranks >= 1 && n >= static_cast<size_t>(ranks), ConfigError,
               "learner.zero_stage 1: {} trainable tensors cannot be sharded over {} ranks (each rank needs one); "
               "use fewer ranks or zero_stage 0",
               n, ranks);
  return balancedContiguousPartition(numels, ranks);
}

std::string optimizerShardSideDir(const std::string& checkpoints_dir, int64_t step) {
  return (fs::path(checkpoints_dir) / fmt::format(".staging-shards-step-{:08d}", step)).string();
}

TrainedModule::TrainedModule(std::string name, std::shared_ptr<Transformer> model, TrainedModuleOptions options,
                             int rank, int world_size, Collective* collective)
    : name_(std::move(name)),
      model_(std::move(model)),
      options_(std::move(options)),
      rank_(rank),
      world_size_(world_size) {
  GRAMRL_ASSERT(world_size_ >= 1 && rank_ >= 0 && rank_ < world_size_, "rank {} of {}", rank_, world_size_);
  GRAMRL_CHECK(options_.zero_stage == 0 || options_.zero_stage == 1 || options_.zero_stage == 3, ConfigError,
               "learner.zero_stage: expected 0, 1 or 3, got {}", options_.zero_stage);
  GRAMRL_CHECK(options_.zero_stage != 3 || options_.activation_checkpointing, ConfigError,
               "learner.zero_stage 3 needs learner.activation_checkpointing: true (a sharded layer's weights are "
               "gathered again for its backward instead of being kept)");
  params_ = applyFreeze(*model_, options_.freeze);
  model_->setActivationCheckpointing(options_.activation_checkpointing);
  AdamWSettings settings = options_.adamw;
  settings.lr = options_.schedule.peak_lr;
  if (options_.zero_stage == 3 && world_size_ > 1) {
    GRAMRL_ASSERT(collective != nullptr && collective->worldSize() == world_size_ && collective->rank() == rank_,
                  "{}: ZeRO-3 needs the collective of rank {} of {}", name_, rank_, world_size_);
    int64_t trained = 0;
    for (const auto& t : params_.tensors) trained += t.numel();
    zero_ = std::make_shared<ZeroShards>(*model_, *collective, /*trained=*/true);
    model_->setLayerShards(zero_);
    bounds_ = {0, params_.tensors.size()};
    log::info("{}: ZeRO-3 shard {} of {}: {} of {} trained parameters (weights, gradients and moments)", name_, rank_,
              world_size_, zero_->shardElements(), trained);
    optimizer_ = makeAdamW(zero_->shards(true), zero_->shards(false), settings);
  } else if (isSharded()) {
    std::vector<int64_t> numels;
    for (const auto& t : params_.tensors) numels.push_back(t.numel());
    bounds_ = partitionParameters(numels, world_size_);
    NamedParameters mine;
    for (size_t i = bounds_[rank_]; i < bounds_[rank_ + 1]; ++i) {
      mine.names.push_back(params_.names[i]);
      mine.tensors.push_back(params_.tensors[i]);
    }
    int64_t count = 0;
    for (const auto& t : mine.tensors) count += t.numel();
    log::info("{}: ZeRO-1 shard {} of {}: {} tensors ({} to {}), {} parameters", name_, rank_, world_size_,
              mine.tensors.size(), mine.names.front(), mine.names.back(), count);
    optimizer_ = makeAdamW(mine, settings);
  } else {
    bounds_ = {0, params_.tensors.size()};
    optimizer_ = makeAdamW(params_, settings);
  }
}

TrainedModule::~TrainedModule() {
  if (zero_) model_->setLayerShards(nullptr);
}

std::vector<std::pair<std::string, at::Tensor>> TrainedModule::wholeParameters(bool keep) const {
  if (zero_) return zero_->wholeParameters(keep);
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : model_->named_parameters(/*recurse=*/true)) {
    out.emplace_back(item.key(), keep ? item.value().detach() : at::Tensor());
  }
  return out;
}

void TrainedModule::loadWeights(const checkpoint::StateDict& tensors, const std::string& source) {
  if (zero_) {
    zero_->load(tensors, source);
  } else {
    loadStateDict(*model_, tensors, source);
  }
}

void shardFrozenModel(Transformer& model, int64_t zero_stage, Collective& collective) {
  if (zero_stage != 3 || collective.worldSize() == 1) return;
  model.setLayerShards(std::make_shared<ZeroShards>(model, collective, /*trained=*/false));
}

std::string TrainedModule::optimizerFileName(const std::string& base, int rank) const {
  if (!isSharded()) return base;
  const auto [stem, ext] = splitExtension(base);
  return fmt::format("{}.rank-{:05d}-of-{:05d}{}", stem, rank, world_size_, ext);
}

void TrainedModule::saveOptimizer(const std::string& dir, const std::string& base) const {
  std::error_code ec;
  fs::create_directories(dir, ec);
  GRAMRL_CHECK(!ec, SystemError, "cannot create {}: {}", dir, ec.message());
  saveOptimizerState(*optimizer_, (fs::path(dir) / optimizerFileName(base, rank_)).string());
}

void TrainedModule::adoptOptimizerShards(const std::string& side_dir, const std::string& dir,
                                         const std::string& base) const {
  if (!isSharded()) return;
  for (int r = 1; r < world_size_; ++r) {
    const fs::path from = fs::path(side_dir) / optimizerFileName(base, r);
    std::error_code ec;
    fs::rename(from, fs::path(dir) / optimizerFileName(base, r), ec);
    GRAMRL_CHECK(!ec, SystemError, "cannot move rank {}'s optimizer shard {} into {}: {}", r, from.string(), dir,
                 ec.message());
  }
}

void TrainedModule::loadOptimizer(const std::string& dir, const std::string& base) {
  const std::string wanted = optimizerFileName(base, rank_);
  const fs::path path = fs::path(dir) / wanted;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    // Say what the checkpoint was written with: an unsharded file, or shards for W ranks.
    const auto [stem, ext] = splitExtension(base);
    const std::string prefix = stem + ".rank-";
    int64_t shards = 0;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string file = entry.path().filename().string();  // <stem>.rank-RRRRR-of-WWWWW<ext>
      const size_t middle = prefix.size() + 14;
      if (file.size() == middle + ext.size() && file.compare(0, prefix.size(), prefix) == 0 &&
          file.compare(middle, ext.size(), ext) == 0 && file.compare(prefix.size() + 5, 4, "-of-") == 0) {
        shards = std::strtoll(file.substr(prefix.size() + 9, 5).c_str(), nullptr, 10);
      }
    }
    const std::string running =
        fmt::format("this run has {} ranks and learner.zero_stage {}", world_size_, options_.zero_stage);
    GRAMRL_CHECK(shards == 0, ConfigError,
                 "cannot resume {}'s optimizer from {}: it holds ZeRO-1 shards for {} ranks ({}.rank-*-of-{:05d}{}), "
                 "{}; resume with learner.ranks={} and learner.zero_stage=1 (NOTE [ZeRO-1 checkpoints])",
                 name_, dir, shards, stem, shards, ext, running, shards);
    GRAMRL_CHECK(!fs::exists(fs::path(dir) / base, ec), ConfigError,
                 "cannot resume {}'s optimizer from {}: it holds one unsharded {} (zero_stage 0 or one rank), {}; "
                 "resume with learner.zero_stage=0 (NOTE [ZeRO-1 checkpoints])",
                 name_, dir, base, running);
    GRAMRL_CHECK(false, DataError, "cannot resume {}'s optimizer: {} has no {}", name_, dir, wanted);
  }
  loadOptimizerState(*optimizer_, path.string());
}

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
  ZeroShards* zero = module.zeroShards();
  if (zero != nullptr) {
    zero->reduceResidentGradients();  // the layers' were reduced in their backward
  } else if (collective.worldSize() > 1) {
    allreduceGradients(collective, params);
  }
  result.allreduce_s = secondsSince(t_ar);

  const auto t_opt = Clock::now();
  const double max_norm = module.options().max_grad_norm;
  const double clip = max_norm > 0 ? max_norm : std::numeric_limits<double>::infinity();
  if (zero != nullptr) {  // NOTE [ZeRO-3 parameter sharding]
    result.grad_norm = zero->clipGradNorm(clip);
    module.optimizer().step();
    zero->zeroGradients();
    zero->gatherResident();
  } else {
    result.grad_norm = torch::nn::utils::clip_grad_norm_(params, clip);
    module.optimizer().step();  // this rank's shard only when sharded
    zeroGradients(params);
  }
  if (module.isSharded() && zero == nullptr) {  // NOTE [ZeRO-1 optimizer sharding]: every shard from its owner
    torch::NoGradGuard no_grad;
    const auto& bounds = module.shardBounds();
    for (int r = 0; r < module.worldSize(); ++r) {
      std::vector<at::Tensor> shard;
      for (size_t i = bounds[r]; i < bounds[r + 1]; ++i) shard.push_back(params[i].detach());
      collective.broadcast(shard, r);
    }
  }
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
