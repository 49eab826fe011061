// The memory (and a rough time) estimate of a run before it starts: `gramrl plan CONFIG`.
//
// NOTE [Run plan]
// Every process of the run gets one GPU (launch.devices); the plan adds up what each holds at its
// peak and compares it with the GPU's memory. With P the parameters of a model (from its
// config.json: embeddings, per layer q/k/v/o, the SwiGLU MLP, norms, biases, and the LM head
// unless tied), s the sequence length and b the micro-batch:
//   learner rank, trained model  8 P: fp32 weights and fp32 gradients, whole on every rank
//                                (learner/engine keeps them in fp32 and autocasts the forward to
//                                bf16), plus AdamW's two fp32 moments: 8 P with learner.zero_stage
//                                0, or with zero_stage 1 8 x the largest rank's shard, cut as the
//                                trainer cuts it (parameter_layout.h, partition.h; about P / ranks,
//                                NOTE [ZeRO-1 optimizer sharding]). With zero_stage 3 (gramrl
//                                rlhf) 16 bytes per element of the rank's shards (weights,
//                                gradients, two moments; each layer's matrices and vectors, and
//                                the rest's, one unit each, padded to a multiple of the ranks),
//                                plus 8 bytes per parameter of the rest (embeddings, final norm,
//                                heads: whole on every rank), plus one gathered layer, 12 bytes
//                                per parameter of the largest (weights, gradients, reduce
//                                buffer; NOTE [ZeRO-3 parameter sharding])
//   frozen copies on a rank      4 P each (fp32): the DPO reference with dpo.reference=per_batch,
//                                the KL reference of ppo/grpo with kl_coef > 0 (with zero_stage 3
//                                4 bytes per element of its layers' shards plus its whole rest)
//   PPO critic                   a second trained model (the policy's shape plus a value head)
//                                counted as the policy: weights, gradients, moments, activations
//                                without logits; its lm_head (unused, frozen) 4 bytes per
//                                parameter
//   activations                  per layer and token, kept for the backward pass: 8h bytes of
//                                fp32 residual-stream inputs to the two norms + e (h + (n_h +
//                                2 n_kv) d + n_h d + h + 4 I) bytes of projections and MLP
//                                intermediates, e = 2 (bf16) or 4 (fp32); per layer and sequence
//                                b n_h s^2 (4 + e) bytes of attention probabilities (materialised:
//                                fp32 softmax output and its cast); times L layers. With
//                                learner.activation_checkpointing (NOTE [Activation
//                                recomputation]) instead L x 4h bytes per token of fp32 layer
//                                inputs plus one layer's activations as above (the layer being
//                                recomputed). Either way plus b s V (e + 8) bytes of
//                                full-vocabulary logits for next-token losses (sft, dpo,
//                                gram_pretrain, ppo, grpo; not GRAM stage 2, which reads two
//                                rows, or a value head). DPO runs chosen and rejected together:
//                                2b sequences.
//   rollout actor                the policy in bf16 (2 P) + its KV cache, 2 L n_kv d 2 bytes per
//                                token for rollout.batch_size x samples_per_prompt sequences of
//                                max_prompt_tokens + max_new_tokens
//   reward replica               the reward model in bf16 (2 P) + one layer's forward activations
//                                for reward.batch_size sequences of reward.max_tokens (twice the
//                                rows with GRAM's debiasing)
//   every process                1 GiB of CUDA context and allocator slack
// Sequence length: reward.max_tokens for GRAM and Bradley-Terry training, max_prompt_tokens +
// max_new_tokens of the policy otherwise. The time is 6 P FLOPs per trained token (8 P with
// activation recomputation, which runs every layer's forward twice; tokens = global_batch_size x s
// per step, padded) at `mfu` of the GPUs' peak: a rough lower bound.
//
// Threads: pure functions (planRun calls `model_config` on the calling thread).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/config/experiment_config.h"
#include "common/model/model_config.h"

namespace gramrl::plan {

// Parameters of a model of this shape (including a value head).
int64_t parameterCount(const ModelConfig& config);

struct MemoryItem {
  std::string what;  // "weights + gradients + AdamW (fp32)"
  double bytes = 0;
  std::string formula;  // "16 x 8030261248"
  std::string key;      // the config key that changes it most ("learner.micro_batch_size"), or ""
};

struct ProcessPlan {
  std::string role;  // "learner rank", "rollout actor", "reward replica"
  int64_t count = 0;
  std::string model;
  std::vector<MemoryItem> items;
  double total() const;
};

struct PlanOptions {
  double gpu_memory_gib = 80;  // H100 SXM 80 GB
  double gpu_tflops = 989;     // H100 SXM dense bf16
  double mfu = 0.4;            // model FLOPs utilisation assumed for the time
};

struct RunPlan {
  std::vector<ProcessPlan> processes;
  double gpu_bytes = 0;
  bool fits = true;
  std::vector<std::string> advice;       // one line per process that does not fit
  double flops_per_parameter_token = 6;  // 8 with activation recomputation
  double train_flops = 0;
  double train_seconds = 0;
  int64_t gpus = 0;
};

// `model_config(path)` reads a model's config.json (a test passes configs in). Throws
// ConfigError for a builtin:<preset> model (nothing to plan: the presets are tiny) and for
// options out of range; what model_config throws.
RunPlan planRun(const ExperimentConfig& config, const std::function<ModelConfig(const std::string&)>& model_config,
                const PlanOptions& options = {});

// Markdown: per process its items (GiB), the total against the GPU, the verdict and the advice.
std::string planMarkdown(const RunPlan& plan, const PlanOptions& options = {});

}  // namespace gramrl::plan
