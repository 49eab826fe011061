#include "learner/engine/optimizer.h"

#include <fnmatch.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize/archive.h>

#include "common/core/errors.h"
#include "common/model/transformer.h"

namespace gramrl {

NamedParameters applyFreeze(Transformer& model, const std::vector<std::string>& patterns) {
  std::vector<int64_t> hits(patterns.size(), 0);
  NamedParameters out;
  std::string example;
  for (auto& item : model.named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    if (example.empty()) example = name;
    bool frozen = false;
    for (size_t i = 0; i < patterns.size(); ++i) {
      if (::fnmatch(patterns[i].c_str(), name.c_str(), 0) == 0) {
        frozen = true;
        ++hits[i];
      }
    }
    item.value().set_requires_grad(!frozen);
    if (!frozen) {
      out.names.push_back(name);
      out.tensors.push_back(item.value());
    }
  }
  for (size_t i = 0; i < patterns.size(); ++i) {
    GRAMRL_CHECK(hits[i] > 0, ConfigError,
                 "learner.freeze: pattern '{}' matches no parameter (names look like '{}'; patterns use "
                 "shell wildcards: model.layers.[0-3].*)",
                 patterns[i], example);
  }
  GRAMRL_CHECK(!out.tensors.empty(), ConfigError, "learner.freeze: every parameter is frozen; nothing to train");
  return out;
}

std::unique_ptr<torch::optim::AdamW> makeAdamW(const NamedParameters& params, const AdamWSettings& s) {
  std::vector<at::Tensor> decay;
  std::vector<at::Tensor> no_decay;
  for (const auto& t : params.tensors) (t.dim() >= 2 ? decay : no_decay).push_back(t);
  return makeAdamW(decay, no_decay, s);
}

std::unique_ptr<torch::optim::AdamW> makeAdamW(const std::vector<at::Tensor>& decay,
                                               const std::vector<at::Tensor>& no_decay, const AdamWSettings& s) {
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(s.lr).betas(std::make_tuple(s.beta1, s.beta2)).eps(s.eps).weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decay.empty()) groups.emplace_back(decay, options(s.weight_decay));
  if (!no_decay.empty()) groups.emplace_back(no_decay, options(0.0));
  return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(s.lr));
}

void setLearningRate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

namespace {
constexpr char kRngKey[] = "gramrl_cpu_generator_state";
}

void saveOptimizerState(const torch::optim::Optimizer& optimizer, const std::string& path) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  archive.write(kRngKey, at::detail::getDefaultCPUGenerator().get_state());
  try {
    archive.save_to(path);
  } catch (const c10::Error& e) {
    GRAMRL_CHECK(false, SystemError, "cannot write optimizer state {}: {}", path, e.what_without_backtrace());
  }
}

void loadOptimizerState(torch::optim::Optimizer& optimizer, const std::string& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    optimizer.load(archive);
    at::Tensor rng;
    if (archive.try_read(kRngKey, rng)) {
      at::Generator generator = at::detail::getDefaultCPUGenerator();
      generator.set_state(rng);
    }
  } catch (const c10::Error& e) {
    GRAMRL_CHECK(false, DataError, "cannot load optimizer state {} (written for another model or freeze list?): {}",
                 path, e.what_without_backtrace());
  }
}

}  // namespace gramrl
