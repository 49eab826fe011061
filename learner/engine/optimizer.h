// AdamW over a model's trainable parameters, with HF's grouping (no weight decay on biases and
// norm weights), parameter freezing by name pattern, and state save/load for checkpoints.
//
// Threads: one at a time (the trainer's thread). Throws ConfigError (a freeze pattern that
// matches nothing, everything frozen), DataError (an optimizer file that does not fit).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/optim/adamw.h>

namespace gramrl {

class Transformer;

struct NamedParameters {
  std::vector<std::string> names;
  std::vector<at::Tensor> tensors;
};

// Marks parameters whose HF name matches one of `patterns` (fnmatch: "model.embed_tokens.*",
// "model.layers.[0-3].*") as frozen (requires_grad false) and returns the trainable ones in
// the model's order. Every pattern must match at least one parameter.
NamedParameters applyFreeze(Transformer& model, const std::vector<std::string>& patterns);

struct AdamWSettings {
  double lr = 1e-6;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

// Two parameter groups: tensors of rank >= 2 with weight decay, the rest (biases, RMSNorm
// weights) without, as transformers' Trainer does.
std::unique_ptr<torch::optim::AdamW> makeAdamW(const NamedParameters& params, const AdamWSettings& settings);
// The same two groups, given explicitly (ZeRO-3's flat shards are 1-d whatever they hold).
std::unique_ptr<torch::optim::AdamW> makeAdamW(const std::vector<at::Tensor>& decay,
                                               const std::vector<at::Tensor>& no_decay, const AdamWSettings& settings);

void setLearningRate(torch::optim::Optimizer& optimizer, double lr);

// The optimiser's state and the torch CPU generator state, to one file (torch's archive format)
// and back. Loading requires the same parameters in the same order (the same model and freeze).
void saveOptimizerState(const torch::optim::Optimizer& optimizer, const std::string& path);
void loadOptimizerState(torch::optim::Optimizer& optimizer, const std::string& path);

}  // namespace gramrl
