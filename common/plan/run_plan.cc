#include "common/plan/run_plan.h"

#include <algorithm>
#include <sstream>

#include <fmt/core.h>

#include "common/core/errors.h"
#include "common/core/partition.h"
#include "common/model/parameter_layout.h"

namespace gramrl::plan {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kProcessOverhead = 1 * kGiB;  // CUDA context and allocator slack

double gib(double bytes) { return bytes / kGiB; }

bool trainsRewardModel(const std::string& algorithm) {
  return algorithm == "gram_pretrain" || algorithm == "gram_finetune" || algorithm == "bradley_terry";
}

ModelConfig loadShape(const std::string& model, const std::function<ModelConfig(const std::string&)>& model_config,
                      const char* key) {
  GRAMRL_CHECK(model.rfind("builtin:", 0) != 0, ConfigError,
               "plan: {} is {}, a built-in tiny model; plan sizes runs of Hugging Face checkpoints", key, model);
  return model_config(model);
}

// Activations kept for the backward pass of one micro-batch (NOTE [Run plan]).
MemoryItem trainingActivations(const ModelConfig& m, int64_t sequences, int64_t s, double e, bool full_logits,
                               bool recompute) {
  const double h = static_cast<double>(m.hidden_size);
  const double nh = static_cast<double>(m.num_attention_heads);
  const double nkv = static_cast<double>(m.num_key_value_heads);
  const double d = static_cast<double>(m.head_dim);
  const double inter = static_cast<double>(m.intermediate_size);
  const double tokens = static_cast<double>(sequences) * static_cast<double>(s);
  const double per_token = 8 * h + e * (h + (nh + 2 * nkv) * d + nh * d + h + 4 * inter);
  const double scores = static_cast<double>(sequences) * nh * static_cast<double>(s) * static_cast<double>(s) * (4 + e);
  double bytes = 0;
  std::string formula;
  if (recompute) {  // NOTE [Activation recomputation]: layer inputs, then one layer rebuilt at a time
    bytes = static_cast<double>(m.num_hidden_layers) * tokens * 4 * h + tokens * per_token + scores;
    formula = fmt::format(
        "{} layers x {} tokens x {} (fp32 layer inputs) + one layer: {} tokens x {} + {} attention "
        "bytes",
        m.num_hidden_layers, tokens, 4 * h, tokens, per_token, scores);
  } else {
    bytes = static_cast<double>(m.num_hidden_layers) * (tokens * per_token + scores);
    formula = fmt::format("{} layers x ({} tokens x {} + {} attention bytes)", m.num_hidden_layers, tokens, per_token,
                          scores);
  }
  if (full_logits) {
    bytes += tokens * static_cast<double>(m.vocab_size) * (e + 8);
    formula += fmt::format(" + {} tokens x {} vocab x {}", tokens, m.vocab_size, e + 8);
  }
  return {fmt::format("activations ({} x {} tokens{})", sequences, s, recompute ? ", recomputed per layer" : ""), bytes,
          formula, recompute ? "learner.micro_batch_size" : "learner.activation_checkpointing"};
}

bool zeroThree(const LearnerOptions& learner) { return learner.zero_stage == 3 && learner.ranks > 1; }

// ZeRO-3's cut of a model (NOTE [ZeRO-3 parameter sharding]): the elements one rank keeps of its
// units (each layer's matrices, each layer's vectors, and with `rest` the rest's matrices and
// vectors), each unit padded to a multiple of the ranks; the rest's elements; the largest layer.
struct ZeroThreeCut {
  int64_t shard = 0;
  int64_t rest = 0;
  int64_t largest_layer = 0;
};

// The trained tensors of a model: all, or all but a frozen lm_head (the PPO critic's).
std::vector<ParameterSlot> trainedSlots(const ModelConfig& m, bool frozen_lm_head) {
  std::vector<ParameterSlot> out;
  for (const ParameterSlot& slot : parameterSlots(m)) {
    if (!(frozen_lm_head && slot.lm_head)) out.push_back(slot);
  }
  return out;
}

ZeroThreeCut zeroThreeCut(const ModelConfig& m, int64_t ranks, bool rest, bool frozen_lm_head = false) {
  std::vector<int64_t> layer_units(static_cast<size_t>(2 * m.num_hidden_layers), 0);
  int64_t rest_units[2] = {0, 0};
  ZeroThreeCut cut;
  for (const ParameterSlot& slot : trainedSlots(m, frozen_lm_head)) {
    if (slot.layer >= 0) {
      layer_units[static_cast<size_t>(2 * slot.layer + (slot.matrix ? 0 : 1))] += slot.numel;
    } else {
      rest_units[slot.matrix ? 0 : 1] += slot.numel;
      cut.rest += slot.numel;
    }
  }
  auto part = [&](int64_t n) { return (n + ranks - 1) / ranks; };
  for (size_t i = 0; i < layer_units.size(); i += 2) {
    cut.shard += part(layer_units[i]) + part(layer_units[i + 1]);
    cut.largest_layer = std::max(cut.largest_layer, layer_units[i] + layer_units[i + 1]);
  }
  if (rest) cut.shard += part(rest_units[0]) + part(rest_units[1]);
  return cut;
}

// The trained model's fp32 state on one rank: weights and gradients whole, AdamW's two moments
// whole or, with ZeRO-1, the largest rank's shard (the partition the trainer uses); with ZeRO-3
// the layers' and the rest's shards of all three, and the rest's weights and gradients whole.
// With `frozen_lm_head` (the PPO critic) the lm_head is held in fp32 without gradients or moments.
void addTrainedState(ProcessPlan& rank, const ModelConfig& m, const LearnerOptions& learner, const std::string& who,
                     bool frozen_lm_head = false) {
  const std::vector<ParameterSlot> slots = trainedSlots(m, frozen_lm_head);
  double p = 0;
  for (const ParameterSlot& slot : slots) p += static_cast<double>(slot.numel);
  const double frozen = static_cast<double>(parameterCount(m)) - p;
  if (frozen > 0) {
    rank.items.push_back({who + "frozen lm_head (fp32, unused by the value head)", 4 * frozen,
                          fmt::format("4 x {} parameters", frozen), ""});
  }
  if (zeroThree(learner)) {
    const ZeroThreeCut cut = zeroThreeCut(m, learner.ranks, /*rest=*/true, frozen_lm_head);
    const double rest = static_cast<double>(cut.rest);
    const double shard = static_cast<double>(cut.shard);
    rank.items.push_back({who + "weights + gradients of the embeddings and heads (fp32, whole)", 8 * rest,
                          fmt::format("8 x {} parameters", rest), ""});
    rank.items.push_back({who + "ZeRO-3 shards of weights, gradients and AdamW moments (fp32)", 16 * shard,
                          fmt::format("16 x {} elements (units padded to {} ranks; P / ranks = {:.0f})", shard,
                                      learner.ranks, p / static_cast<double>(learner.ranks)),
                          "learner.ranks"});
    return;
  }
  rank.items.push_back({who + "weights + gradients (fp32)", 8 * p, fmt::format("8 x {} parameters", p), ""});
  std::vector<int64_t> numels;
  for (const ParameterSlot& slot : slots) numels.push_back(slot.numel);
  if (learner.zero_stage >= 1 && learner.ranks > 1 && static_cast<size_t>(learner.ranks) <= numels.size()) {
    const int ranks = static_cast<int>(learner.ranks);
    const std::vector<size_t> bounds = balancedContiguousPartition(numels, ranks);
    int64_t largest = 0;
    for (int r = 0; r < ranks; ++r) {
      int64_t shard = 0;
      for (size_t i = bounds[r]; i < bounds[r + 1]; ++i) shard += numels[i];
      largest = std::max(largest, shard);
    }
    rank.items.push_back(
        {fmt::format("{}AdamW moments (fp32), ZeRO-1 shard", who), 8 * static_cast<double>(largest),
         fmt::format("8 x {} parameters (the largest of {} shards; P / ranks = {:.0f})", largest, ranks, p / ranks),
         "learner.ranks"});
  } else {
    rank.items.push_back(
        {who + "AdamW moments (fp32)", 8 * p, fmt::format("8 x {} parameters", p), "learner.zero_stage"});
  }
}

// One layer's forward activations of an inference batch (reward scoring).
double forwardPeak(const ModelConfig& m, int64_t sequences, int64_t s) {
  const double h = static_cast<double>(m.hidden_size);
  const double nh = static_cast<double>(m.num_attention_heads);
  const double tokens = static_cast<double>(sequences) * static_cast<double>(s);
  const double per_token =
      2 * (2 * h + (nh + 2 * static_cast<double>(m.num_key_value_heads)) * static_cast<double>(m.head_dim) +
           2 * static_cast<double>(m.intermediate_size));
  return tokens * per_token + static_cast<double>(sequences) * nh * static_cast<double>(s) * static_cast<double>(s) * 6;
}

void check(RunPlan& plan, const ProcessPlan& process, bool zero_one, bool online) {
  if (process.total() <= plan.gpu_bytes) return;
  plan.fits = false;
  const MemoryItem& largest =
      *std::max_element(process.items.begin(), process.items.end(),
                        [](const MemoryItem& a, const MemoryItem& b) { return a.bytes < b.bytes; });
  std::string advice =
      fmt::format("{}: needs {:.1f} GiB of {:.1f} GiB; the largest part is {} ({:.1f} GiB)", process.role,
                  gib(process.total()), gib(plan.gpu_bytes), largest.what, gib(largest.bytes));
  if (largest.key == "learner.micro_batch_size") {
    advice += ": lower learner.micro_batch_size (the global batch stays; more accumulation) or the sequence length";
  } else if (largest.key == "learner.activation_checkpointing") {
    advice +=
        ": set learner.activation_checkpointing=true (only layer inputs are kept) or lower "
        "learner.micro_batch_size";
  } else if (largest.key == "learner.zero_stage") {
    advice += ": set learner.zero_stage=1 (AdamW moments sharded over learner.ranks)";
  } else if (largest.key == "learner.ranks") {
    advice += ": more learner.ranks (smaller shards)";
  } else if (largest.key.empty() && zero_one && online) {
    advice +=
        ": it does not depend on a batch size, and learner.zero_stage 1 shards only the AdamW moments; set "
        "learner.zero_stage=3 (weights, gradients and moments sharded over learner.ranks; needs "
        "learner.activation_checkpointing=true)";
  } else if (largest.key.empty() && zero_one) {
    advice +=
        ": it does not depend on a batch size, and learner.zero_stage 1 already shards the AdamW moments "
        "(weights and gradients stay whole on every rank; ZeRO-3 is for gramrl rlhf only); use a smaller model "
        "or freeze parameters (learner.freeze)";
  } else if (largest.key.empty()) {
    advice +=
        ": it does not depend on a batch size; use a smaller model, more ranks with learner.zero_stage=1 "
        "(it shards only the AdamW moments: weights and gradients stay whole on every rank) or freeze "
        "parameters (learner.freeze)";
  } else {
    advice += fmt::format(": lower {}", largest.key);
  }
  plan.advice.push_back(std::move(advice));
}

}  // namespace

int64_t parameterCount(const ModelConfig& m) {
  const int64_t h = m.hidden_size, d = m.head_dim, nh = m.num_attention_heads, nkv = m.num_key_value_heads;
  const int64_t inter = m.intermediate_size;
  int64_t layer = h * nh * d + 2 * h * nkv * d + nh * d * h + 3 * h * inter + 2 * h;
  if (m.qkv_bias) layer += nh * d + 2 * nkv * d;
  if (m.o_bias) layer += h;
  if (m.mlp_bias) layer += 2 * inter + h;
  if (m.qk_norm) layer += 2 * d;
  int64_t total = m.vocab_size * h + m.num_hidden_layers * layer + h;
  if (!m.tie_word_embeddings) total += m.vocab_size * h;
  if (m.value_head) total += h + 1;
  return total;
}

double ProcessPlan::total() const {
  double sum = 0;
  for (const MemoryItem& item : items) sum += item.bytes;
  return sum;
}

RunPlan planRun(const ExperimentConfig& config, const std::function<ModelConfig(const std::string&)>& model_config,
                const PlanOptions& options) {
  GRAMRL_CHECK(options.gpu_memory_gib > 0 && options.gpu_memory_gib <= 1 << 20, ConfigError,
               "plan: --gpu-memory-gb must be in (0, 2^20], got {}", options.gpu_memory_gib);
  GRAMRL_CHECK(options.gpu_tflops > 0 && options.mfu > 0 && options.mfu <= 1, ConfigError,
               "plan: --gpu-tflops must be > 0 and --mfu in (0, 1]");
  const LearnerOptions& learner = config.learner;
  const std::string& algorithm = learner.algorithm;
  RunPlan plan;
  plan.gpu_bytes = options.gpu_memory_gib * kGiB;
  const bool reward_trained = trainsRewardModel(algorithm);
  const std::string& trained_path = reward_trained ? config.reward.model : config.policy.model;
  const ModelConfig trained = loadShape(trained_path, model_config, reward_trained ? "reward.model" : "policy.model");
  const double p = static_cast<double>(parameterCount(trained));
  const double e = learner.precision == "fp32" ? 4 : 2;  // auto is bf16 on CUDA
  const int64_t s =
      reward_trained ? config.reward.max_tokens : config.policy.max_prompt_tokens + config.policy.max_new_tokens;

  ProcessPlan rank{"learner rank", learner.ranks, trained_path, {}};
  addTrainedState(rank, trained, learner, "");
  const bool full_logits = !(algorithm == "gram_finetune" || algorithm == "bradley_terry");
  const int64_t sequences = learner.micro_batch_size * (algorithm == "dpo" ? 2 : 1);
  const bool recompute = learner.activation_checkpointing;
  rank.items.push_back(trainingActivations(trained, sequences, s, e, full_logits, recompute));
  if (algorithm == "dpo" && learner.dpo.reference == "per_batch") {
    rank.items.push_back({"DPO reference model (fp32)", 4 * p, fmt::format("4 x {}", p), "learner.dpo.reference"});
  }
  const double kl = algorithm == "ppo" ? learner.ppo.kl_coef : learner.grpo.kl_coef;
  if (algorithm == "online_dpo") {
    rank.items.push_back(
        {"DPO reference model (fp32)", 4 * p, fmt::format("4 x {}", p), "learner.dpo.reference_model"});
  } else if (isOnlineAlgorithm(algorithm) && kl > 0 && zeroThree(learner)) {
    const ZeroThreeCut cut = zeroThreeCut(trained, learner.ranks, /*rest=*/false);
    const double kept = static_cast<double>(cut.shard + cut.rest);
    rank.items.push_back({"KL reference model (fp32, ZeRO-3: layer shards, whole embeddings and heads)", 4 * kept,
                          fmt::format("4 x ({} + {})", cut.shard, cut.rest), "learner.ranks"});
  } else if (isOnlineAlgorithm(algorithm) && kl > 0) {
    rank.items.push_back({"KL reference model (fp32)", 4 * p, fmt::format("4 x {}", p), ""});
  }
  if (algorithm == "ppo") {
    // The critic starts from a policy-sized model (learner.ppo.critic_model empty) with a value head.
    ModelConfig critic = trained;
    critic.value_head = true;
    addTrainedState(rank, critic, learner, "PPO critic: ", /*frozen_lm_head=*/true);
    MemoryItem critic_activations = trainingActivations(trained, learner.micro_batch_size, s, e, false, recompute);
    critic_activations.what = "PPO critic " + critic_activations.what;
    rank.items.push_back(critic_activations);
  }
  if (zeroThree(learner)) {
    // One layer gathered at a time: its weights, its gradients from the recomputation, and the
    // flat buffer they are reduced from.
    const double layer = static_cast<double>(zeroThreeCut(trained, learner.ranks, false).largest_layer);
    rank.items.push_back({"ZeRO-3 gathered layer: weights, gradients, reduce buffer (fp32)", 12 * layer,
                          fmt::format("12 x {} parameters", layer), ""});
  }
  rank.items.push_back({"CUDA context and slack", kProcessOverhead, "1 GiB", ""});
  plan.processes.push_back(rank);

  if (isOnlineAlgorithm(algorithm)) {
    const RolloutOptions& rollout = config.rollout;
    const double tokens = static_cast<double>(rollout.batch_size * rollout.samples_per_prompt) * static_cast<double>(s);
    const double kv_per_token =
        2.0 * static_cast<double>(trained.num_hidden_layers * trained.num_key_value_heads * trained.head_dim) * 2;
    ProcessPlan actor{"rollout actor", rollout.actors, config.policy.model, {}};
    actor.items.push_back({"policy weights (bf16)", 2 * p, fmt::format("2 x {}", p), ""});
    actor.items.push_back({"KV cache", tokens * kv_per_token, fmt::format("{} tokens x {} bytes", tokens, kv_per_token),
                           "rollout.batch_size"});
    actor.items.push_back({"CUDA context and slack", kProcessOverhead, "1 GiB", ""});
    plan.processes.push_back(actor);
    if (config.reward.backend == "gram" || config.reward.backend == "bradley_terry" ||
        config.reward.backend == "likelihood") {
      const ModelConfig judge = loadShape(config.reward.model, model_config, "reward.model");
      const double pr = static_cast<double>(parameterCount(judge));
      const int64_t rows = config.reward.batch_size * (config.reward.backend == "gram" && config.reward.debias ? 2 : 1);
      ProcessPlan replica{"reward replica", config.reward.replicas, config.reward.model, {}};
      replica.items.push_back({"reward model weights (bf16)", 2 * pr, fmt::format("2 x {}", pr), ""});
      replica.items.push_back({fmt::format("forward activations ({} x {} tokens)", rows, config.reward.max_tokens),
                               forwardPeak(judge, rows, config.reward.max_tokens), "one layer", "reward.batch_size"});
      replica.items.push_back({"CUDA context and slack", kProcessOverhead, "1 GiB", ""});
      plan.processes.push_back(replica);
    }
  }
  for (const ProcessPlan& process : plan.processes) {
    check(plan, process, learner.zero_stage == 1 && learner.ranks > 1, isOnlineAlgorithm(algorithm));
    plan.gpus += process.count;
  }
  const double tokens = static_cast<double>(learner.total_steps) * static_cast<double>(learner.global_batch_size) *
                        static_cast<double>(s);
  // A recomputed layer runs its forward twice: 8 P instead of 6 P FLOPs per token.
  plan.flops_per_parameter_token = learner.activation_checkpointing ? 8 : 6;
  plan.train_flops = plan.flops_per_parameter_token * p * tokens;
  plan.train_seconds =
      plan.train_flops / (static_cast<double>(learner.ranks) * options.gpu_tflops * 1e12 * options.mfu);
  return plan;
}

std::string planMarkdown(const RunPlan& plan, const PlanOptions& options) {
  std::ostringstream out;
  for (const ProcessPlan& process : plan.processes) {
    out << fmt::format("## {} x {} ({})\n\n| memory | GiB | formula (bytes) |\n| --- | ---: | --- |\n", process.role,
                       process.count, process.model);
    for (const MemoryItem& item : process.items) {
      out << fmt::format("| {} | {:.2f} | {} |\n", item.what, gib(item.bytes), item.formula);
    }
    out << fmt::format("| **total per GPU** | **{:.2f}** | of {:.1f} GiB: {} |\n\n", gib(process.total()),
                       gib(plan.gpu_bytes), process.total() <= plan.gpu_bytes ? "fits" : "DOES NOT FIT");
  }
  out << fmt::format(
      "GPUs: {} (one per process). Training: {:.3g} FLOPs = {:.1f} h on {} GPUs at {:.0f} TFLOP/s and "
      "MFU {:.2f} ({} x parameters x tokens, padded{}; a rough lower bound).\n",
      plan.gpus, plan.train_flops, plan.train_seconds / 3600, plan.processes.front().count, options.gpu_tflops,
      options.mfu, plan.flops_per_parameter_token,
      plan.flops_per_parameter_token > 6 ? ", with every layer's forward recomputed" : "");
  out << (plan.fits ? "\nThe run fits.\n" : "\nThe run does not fit:\n");
  for (const std::string& advice : plan.advice) out << "- " << advice << "\n";
  return out.str();
}

}  // namespace gramrl::plan
