#include "learner/engine/zero3.h"

#include <cmath>

#include <fmt/format.h>
#include <torch/torch.h>

#include "common/collectives/collective.h"
#include "common/core/errors.h"
#include "common/model/transformer.h"

namespace gramrl {
namespace {

constexpr char kLayerPrefix[] = "model.layers.";

// "model.layers.12.mlp.up_proj.weight" -> 12; -1 for a parameter outside the layers.
int64_t layerOf(const std::string& name) {
  const std::string prefix = kLayerPrefix;
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  return std::stoll(name.substr(prefix.size(), name.find('.', prefix.size()) - prefix.size()));
}

at::TensorOptions flatOptions(const at::Tensor& like) {
  return at::TensorOptions().dtype(like.scalar_type()).device(like.device());
}

}  // namespace

struct ZeroShards::Unit {
  std::vector<std::string> names;
  std::vector<at::Tensor> params;  // the model's own parameter tensors
  std::vector<std::vector<int64_t>> shapes;
  std::vector<int64_t> offsets;  // of each tensor in the flat unit
  int64_t numel = 0;             // before padding
  int64_t part = 0;              // c: elements per rank
  bool decayed = false;
  at::Tensor shard;  // [part], this rank's elements; a leaf that requires grad when trained

  int64_t numelOf(size_t j) const { return offsets[j + 1] - offsets[j]; }
};

ZeroShards::ZeroShards(Transformer& model, Collective& collective, bool trained)
    : collective_(collective), model_(model) {
  torch::NoGradGuard no_grad;
  const int64_t world = collective_.worldSize();
  const int64_t rank = collective_.rank();
  // Builds the decayed and the undecayed unit of `named` (those that are selected).
  auto makeUnits = [&](const std::vector<std::pair<std::string, at::Tensor>>& named) {
    std::vector<Unit> units;
    for (const bool decayed : {true, false}) {
      Unit u;
      u.decayed = decayed;
      u.offsets.push_back(0);
      for (const auto& [name, p] : named) {
        if ((p.dim() >= 2) != decayed || (trained && !p.requires_grad())) continue;
        u.names.push_back(name);
        u.params.push_back(p);
        u.shapes.push_back(p.sizes().vec());
        u.numel += p.numel();
        u.offsets.push_back(u.numel);
      }
      if (u.params.empty()) continue;
      u.part = (u.numel + world - 1) / world;
      at::Tensor flat = at::zeros({world * u.part}, flatOptions(u.params.front()));
      for (size_t j = 0; j < u.params.size(); ++j) {
        flat.narrow(0, u.offsets[j], u.numelOf(j)).copy_(u.params[j].detach().reshape(-1));
      }
      u.shard = flat.narrow(0, rank * u.part, u.part).clone();
      if (trained) u.shard.requires_grad_(true);
      units.push_back(std::move(u));
    }
    return units;
  };

  const int64_t n_layers = model.numLayers();
  layers_.resize(static_cast<size_t>(n_layers));
  trainable_.resize(static_cast<size_t>(n_layers));
  gathered_.assign(static_cast<size_t>(n_layers), 1);  // whole until released below
  for (int64_t i = 0; i < n_layers; ++i) {
    auto& units = layers_[static_cast<size_t>(i)];
    units = makeUnits(model.layerParameters(i));
    if (trained) {
      auto& mine = trainable_[static_cast<size_t>(i)];
      for (const auto& u : units) mine.insert(mine.end(), u.params.begin(), u.params.end());
    }
    release(static_cast<size_t>(i));
  }
  if (trained) {
    std::vector<std::pair<std::string, at::Tensor>> rest;
    for (const auto& item : model.named_parameters(/*recurse=*/true)) {
      if (layerOf(item.key()) < 0) rest.emplace_back(item.key(), item.value());
    }
    rest_ = makeUnits(rest);
  }
}

ZeroShards::~ZeroShards() = default;

void ZeroShards::gatherUnit(Unit& u, bool resident) {
  torch::NoGradGuard no_grad;
  const int64_t world = collective_.worldSize();
  at::Tensor flat = at::empty({world * u.part}, flatOptions(u.shard));
  flat.narrow(0, collective_.rank() * u.part, u.part).copy_(u.shard.detach());
  collective_.allGather(flat);
  for (size_t j = 0; j < u.params.size(); ++j) {
    const at::Tensor whole = flat.narrow(0, u.offsets[j], u.numelOf(j)).view(u.shapes[j]);
    if (resident) {
      u.params[j].detach().copy_(whole);
    } else {
      u.params[j].set_data(whole);
    }
  }
}

void ZeroShards::gather(size_t layer) {
  GRAMRL_ASSERT(layer < layers_.size(), "ZeRO-3: layer {} of {}", layer, layers_.size());
  if (gathered_[layer]++ > 0) return;
  for (auto& u : layers_[layer]) gatherUnit(u, /*resident=*/false);
}

void ZeroShards::release(size_t layer) {
  GRAMRL_ASSERT(layer < layers_.size() && gathered_[layer] > 0, "ZeRO-3: layer {} released more than gathered", layer);
  if (--gathered_[layer] > 0) return;
  torch::NoGradGuard no_grad;
  for (auto& u : layers_[layer]) {
    for (auto& p : u.params) p.set_data(at::empty({0}, flatOptions(p)));
  }
}

const std::vector<at::Tensor>& ZeroShards::trainable(size_t layer) const {
  GRAMRL_ASSERT(layer < trainable_.size(), "ZeRO-3: layer {} of {}", layer, trainable_.size());
  return trainable_[layer];
}

namespace {

// Adds `part` into the shard's gradient (allocating it the first time).
void accumulateGrad(at::Tensor& shard, const at::Tensor& part) {
  if (shard.grad().defined()) {
    shard.mutable_grad().add_(part);
  } else {
    shard.mutable_grad() = part;
  }
}

}  // namespace

void ZeroShards::reduceGradients(size_t layer, const std::vector<at::Tensor>& grads) {
  GRAMRL_ASSERT(layer < layers_.size() && grads.size() == trainable_[layer].size(),
                "ZeRO-3: {} gradients for layer {}'s {} trained tensors", grads.size(), layer,
                trainable_[layer].size());
  torch::NoGradGuard no_grad;
  const int64_t world = collective_.worldSize();
  size_t k = 0;
  for (auto& u : layers_[layer]) {
    at::Tensor flat = at::zeros({world * u.part}, flatOptions(u.shard));
    for (size_t j = 0; j < u.params.size(); ++j, ++k) {
      if (grads[k].defined()) flat.narrow(0, u.offsets[j], u.numelOf(j)).copy_(grads[k].reshape(-1));
    }
    at::Tensor part = at::empty({u.part}, flatOptions(u.shard));
    collective_.reduceScatterSum(flat, part);
    accumulateGrad(u.shard, part);
  }
}

std::vector<at::Tensor> ZeroShards::shards(bool decayed) const {
  std::vector<at::Tensor> out;
  for (const auto& units : layers_) {
    for (const auto& u : units) {
      if (u.decayed == decayed && u.shard.requires_grad()) out.push_back(u.shard);
    }
  }
  for (const auto& u : rest_) {
    if (u.decayed == decayed) out.push_back(u.shard);
  }
  return out;
}

void ZeroShards::reduceResidentGradients() {
  torch::NoGradGuard no_grad;
  const int64_t world = collective_.worldSize();
  for (auto& u : rest_) {
    at::Tensor flat = at::zeros({world * u.part}, flatOptions(u.shard));
    for (size_t j = 0; j < u.params.size(); ++j) {
      if (u.params[j].grad().defined()) {
        flat.narrow(0, u.offsets[j], u.numelOf(j)).copy_(u.params[j].grad().reshape(-1));
      }
      u.params[j].mutable_grad() = at::Tensor();
    }
    at::Tensor part = at::empty({u.part}, flatOptions(u.shard));
    collective_.reduceScatterSum(flat, part);
    accumulateGrad(u.shard, part);
  }
}

double ZeroShards::clipGradNorm(double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (bool decayed : {true, false}) {
    for (auto& shard : shards(decayed)) {
      if (!shard.grad().defined()) shard.mutable_grad() = at::zeros_like(shard);  // as allreduceGradients does
      grads.push_back(shard.grad());
    }
  }
  double local = 0.0;
  for (const auto& g : grads) local += g.to(at::kDouble).pow(2).sum().item<double>();
  const double norm = std::sqrt(collective_.allreduceSum(std::vector<double>{local})[0]);
  if (max_norm > 0 && std::isfinite(max_norm)) {
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
      for (auto& g : grads) g.mul_(coef);
    }
  }
  return norm;
}

void ZeroShards::zeroGradients() {
  for (bool decayed : {true, false}) {
    for (auto& shard : shards(decayed)) {
      if (shard.grad().defined()) {
        shard.mutable_grad().detach_();
        shard.mutable_grad().zero_();
      }
    }
  }
}

void ZeroShards::gatherResident() {
  for (auto& u : rest_) gatherUnit(u, /*resident=*/true);
}

std::vector<std::pair<std::string, at::Tensor>> ZeroShards::wholeParameters(bool copy) const {
  torch::NoGradGuard no_grad;
  auto* self = const_cast<ZeroShards*>(this);  // gathering changes no logical state
  std::vector<std::pair<std::string, at::Tensor>> out;
  int64_t held = -1;  // the layer gathered now
  for (const auto& item : model_.named_parameters(/*recurse=*/true)) {
    const int64_t layer = layerOf(item.key());
    if (layer != held) {
      if (held >= 0) self->release(static_cast<size_t>(held));
      if (layer >= 0) self->gather(static_cast<size_t>(layer));
      held = layer;
    }
    at::Tensor value;
    if (copy)
      value = layer >= 0 ? item.value().detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true)
                         : item.value().detach();
    out.emplace_back(item.key(), value);
  }
  if (held >= 0) self->release(static_cast<size_t>(held));
  return out;
}

void ZeroShards::load(const checkpoint::StateDict& tensors, const std::string& source) {
  torch::NoGradGuard no_grad;
  auto find = [&](const std::string& name, at::IntArrayRef shape) -> const at::Tensor& {
    const auto it = tensors.find(name);
    GRAMRL_CHECK(it != tensors.end(), DataError, "{}: no tensor {}", source, name);
    GRAMRL_CHECK(it->second.sizes() == shape, DataError, "{}: {} has shape [{}], the model needs [{}]", source, name,
                 fmt::join(it->second.sizes(), ", "), fmt::join(shape, ", "));
    return it->second;
  };
  const int64_t world = collective_.worldSize();
  auto loadUnit = [&](Unit& u, bool resident) {
    at::Tensor flat = at::zeros({world * u.part}, flatOptions(u.shard));
    for (size_t j = 0; j < u.params.size(); ++j) {
      const at::Tensor& t = find(u.names[j], u.shapes[j]);
      flat.narrow(0, u.offsets[j], u.numelOf(j)).copy_(t.reshape(-1));
      if (resident) u.params[j].detach().copy_(t);
    }
    u.shard.detach().copy_(flat.narrow(0, collective_.rank() * u.part, u.part));
  };
  for (auto& units : layers_) {
    for (auto& u : units) loadUnit(u, /*resident=*/false);
  }
  for (auto& u : rest_) loadUnit(u, /*resident=*/true);
  // Whatever no unit holds (frozen parameters of a trained model, the rest of a frozen one) is
  // whole: copied in place.
  std::vector<const at::Tensor*> in_units;
  for (const auto& units : layers_) {
    for (const auto& u : units) {
      for (const auto& p : u.params) in_units.push_back(&p);
    }
  }
  for (const auto& u : rest_) {
    for (const auto& p : u.params) in_units.push_back(&p);
  }
  for (const auto& item : model_.named_parameters(/*recurse=*/true)) {
    bool sharded = false;
    for (const at::Tensor* p : in_units) sharded = sharded || p->is_same(item.value());
    if (sharded) continue;
    at::Tensor p = item.value();
    p.detach().copy_(find(item.key(), p.sizes()));
  }
}

int64_t ZeroShards::shardElements() const {
  int64_t n = 0;
  for (const auto& units : layers_) {
    for (const auto& u : units) n += u.part;
  }
  for (const auto& u : rest_) n += u.part;
  return n;
}

}  // namespace gramrl
