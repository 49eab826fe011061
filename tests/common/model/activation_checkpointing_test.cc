// Activation recomputation per decoder layer (NOTE [Activation recomputation] in
// common/model/layer_recompute.h): the same loss and the same gradient of every parameter as the
// plain forward, bit for bit on the CPU, in every family, with left padding, a value head, frozen
// parameters, and under CPU bf16 autocast.
#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/model/parameter_layout.h"
#include "common/model/presets.h"
#include "common/model/transformer.h"
#include "tests/common/model/model_test_util.h"

namespace gramrl {
namespace {

using testing::kFamilies;
using testing::makeModel;
using testing::randomTokens;
using testing::smallConfig;

// CPU bf16 autocast on for its lifetime (the API moved in LibTorch 2.4).
class CpuAutocast {
 public:
  explicit CpuAutocast(bool on) : on_(on) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCPU, true);
#else
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
#endif
    at::autocast::increment_nesting();
  }
  ~CpuAutocast() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCPU, false);
#else
    at::autocast::set_cpu_enabled(false);
#endif
  }

 private:
  bool on_;
};

struct GradientRun {
  double loss = 0.0;
  std::map<std::string, at::Tensor> grads;  // undefined for parameters that got none
};

// A loss that reaches every parameter: token log-probs of a left-padded batch through the output
// head, plus the value head's outputs when there is one. Backward runs outside autocast, as the
// trainer's does.
GradientRun lossAndGradients(Transformer& model, bool recompute, bool autocast) {
  model.setActivationCheckpointing(recompute);
  for (auto& p : model.parameters()) {
    if (p.grad().defined()) p.mutable_grad() = at::Tensor();
  }
  const int64_t batch = 3, len = 12;
  const at::Tensor ids = randomTokens(batch, len, model.config().vocab_size, 5);
  at::Tensor mask = at::ones({batch, len}, at::kLong);
  mask[1].narrow(0, 0, 4).zero_();  // left padding
  mask[2].narrow(0, 0, 1).zero_();
  at::Tensor loss;
  {
    CpuAutocast scope(autocast);
    const at::Tensor hidden = model.forward(ids, mask);
    const at::Tensor h = hidden.narrow(1, 0, len - 1);
    const at::Tensor targets = ids.narrow(1, 1, len - 1);
    const at::Tensor target_mask = mask.narrow(1, 1, len - 1).to(at::kFloat);
    loss = -(model.tokenLogProbs(h, targets, target_mask) * target_mask).sum();
    if (model.hasValueHead()) loss = loss + (model.values(hidden) * mask.to(at::kFloat)).pow(2).sum();
  }
  loss.backward();
  GradientRun run;
  run.loss = loss.item<double>();
  for (const auto& item : model.named_parameters()) {
    run.grads[item.key()] = item.value().grad().defined() ? item.value().grad().clone() : at::Tensor();
  }
  model.setActivationCheckpointing(false);
  return run;
}

void expectSameGradients(const GradientRun& plain, const GradientRun& recomputed) {
  EXPECT_EQ(plain.loss, recomputed.loss);
  ASSERT_EQ(plain.grads.size(), recomputed.grads.size());
  int64_t compared = 0;
  for (const auto& [name, g] : plain.grads) {
    const at::Tensor& r = recomputed.grads.at(name);
    ASSERT_EQ(g.defined(), r.defined()) << name;
    if (!g.defined()) continue;
    ASSERT_TRUE(g.abs().sum().item<double>() > 0) << name << ": a gradient of zero checks nothing";
    EXPECT_TRUE(at::equal(g, r)) << name << ": max |diff| " << (g - r).abs().max().item<double>();
    ++compared;
  }
  std::cout << "[measured] " << compared << " parameter gradients equal bit for bit, loss " << plain.loss << "\n";
}

TEST(ActivationCheckpointing, GradientsEqualPlainForward) {
  for (const char* family : kFamilies) {
    SCOPED_TRACE(family);
    auto model = makeModel(smallConfig(family, /*value_head=*/std::string(family) == "llama"), 21);
    expectSameGradients(lossAndGradients(*model, false, false), lossAndGradients(*model, true, false));
  }
}

TEST(ActivationCheckpointing, FrozenParametersGetNoGradient) {
  auto model = makeModel(smallConfig("qwen2"), 22);
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    if (name.rfind("model.embed_tokens.", 0) == 0 || name.rfind("model.layers.0.self_attn.", 0) == 0) {
      item.value().set_requires_grad(false);
    }
  }
  const GradientRun plain = lossAndGradients(*model, false, false);
  const GradientRun recomputed = lossAndGradients(*model, true, false);
  EXPECT_FALSE(recomputed.grads.at("model.layers.0.self_attn.q_proj.weight").defined());
  EXPECT_TRUE(recomputed.grads.at("model.layers.0.mlp.up_proj.weight").defined());
  expectSameGradients(plain, recomputed);
}

TEST(ActivationCheckpointing, GradientsEqualUnderCpuAutocast) {
  for (const char* family : kFamilies) {
    SCOPED_TRACE(family);
    auto model = makeModel(smallConfig(family), 23);
    const GradientRun plain = lossAndGradients(*model, false, true);
    const GradientRun recomputed = lossAndGradients(*model, true, true);
    // Autocast really ran in bf16: the loss differs from the float32 one.
    EXPECT_NE(plain.loss, lossAndGradients(*model, false, false).loss);
    expectSameGradients(plain, recomputed);
  }
}

// Names of the autograd graph's nodes reachable from `t`.
std::map<std::string, int> graphNodes(const at::Tensor& t) {
  std::map<std::string, int> names;
  std::vector<torch::autograd::Node*> stack{t.grad_fn().get()};
  std::set<torch::autograd::Node*> seen;
  while (!stack.empty()) {
    torch::autograd::Node* node = stack.back();
    stack.pop_back();
    if (node == nullptr || !seen.insert(node).second) continue;
    ++names[node->name()];
    for (const auto& edge : node->next_edges()) stack.push_back(edge.function.get());
  }
  return names;
}

int countContaining(const std::map<std::string, int>& names, const std::string& part) {
  int n = 0;
  for (const auto& [name, count] : names) n += name.find(part) != std::string::npos ? count : 0;
  return n;
}

TEST(ActivationCheckpointing, OnlyTheTrainingForwardRecomputes) {
  auto model = makeModel(smallConfig("llama"), 24);
  const at::Tensor ids = randomTokens(2, 6, model->config().vocab_size, 6);
  const at::Tensor mask = at::ones_like(ids);
  const at::Tensor plain = model->forward(ids, mask);
  model->setActivationCheckpointing(true);
  at::Tensor no_grad_hidden;
  {
    torch::NoGradGuard no_grad;
    no_grad_hidden = model->forward(ids, mask);
  }
  EXPECT_FALSE(no_grad_hidden.requires_grad());
  const at::Tensor hidden = model->forward(ids, mask);
  ASSERT_TRUE(hidden.requires_grad());
  EXPECT_TRUE(at::equal(hidden.detach(), plain.detach()));
  EXPECT_TRUE(at::equal(no_grad_hidden, plain.detach()));
  // The plain graph holds every layer's attention softmax; the recomputing one holds one node
  // per layer and nothing inside the layers.
  const auto plain_nodes = graphNodes(plain), nodes = graphNodes(hidden);
  EXPECT_EQ(countContaining(plain_nodes, "Softmax"), model->config().num_hidden_layers);
  EXPECT_EQ(countContaining(plain_nodes, "LayerRecomputeFunction"), 0);
  EXPECT_EQ(countContaining(nodes, "Softmax"), 0);
  EXPECT_EQ(countContaining(nodes, "LayerRecomputeFunction"), model->config().num_hidden_layers);
  int total = 0, plain_total = 0;
  for (const auto& [name, count] : nodes) total += count;
  for (const auto& [name, count] : plain_nodes) plain_total += count;
  std::cout << "[measured] autograd nodes: " << plain_total << " plain, " << total << " recomputing\n";
}

// parameter_layout.h (ZeRO-1's shard order, `gramrl plan`'s shard sizes) against built models.
TEST(ParameterLayout, MatchesTheModel) {
  for (const std::string& preset : presetNames()) {
    if (preset.rfind("0.5b", 0) == 0) continue;  // large; the small ones cover every family flag
    for (bool value_head : {false, true}) {
      ModelConfig config = presetConfig(preset);
      config.value_head = value_head;
      config.qkv_bias = config.qkv_bias || value_head;  // every bias kind once
      config.o_bias = value_head;
      config.mlp_bias = value_head;
      const Transformer model(config, at::kFloat, at::kCPU);
      std::vector<int64_t> numels;
      for (const auto& p : model.parameters()) numels.push_back(p.numel());
      EXPECT_EQ(parameterNumels(config), numels) << preset << (value_head ? " with value head and biases" : "");
      // Each tensor's layer and rank, as ZeRO-3 groups them (learner/engine/zero3.cc).
      const std::vector<ParameterSlot> slots = parameterSlots(config);
      size_t i = 0;
      for (const auto& item : model.named_parameters()) {
        ASSERT_LT(i, slots.size());
        const std::string& name = item.key();
        const int64_t layer =
            name.rfind("model.layers.", 0) == 0 ? std::stoll(name.substr(13, name.find('.', 13) - 13)) : -1;
        EXPECT_EQ(slots[i].layer, layer) << name;
        EXPECT_EQ(slots[i].matrix, item.value().dim() >= 2) << name;
        ++i;
      }
    }
  }
}

}  // namespace
}  // namespace gramrl
