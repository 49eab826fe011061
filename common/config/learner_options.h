// The `learner:` section of the experiment configuration (experiment_config.h): optimisation,
// the algorithms' settings (PPO, the critic-free policy gradients, DPO, GRAM training), reward
// shaping, data and checkpoints. See NOTE [Option structs] in options.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/options.h"

namespace gramrl {

struct PpoOptions {
  double clip = 0.2;
  double value_clip = 0.2;
  double kl_coef = 0.05;
  std::string kl_estimator = "k1";
  double kl_target = 0.0;
  int64_t kl_horizon = 10000;
  double gamma = 1.0;
  double lambda = 0.95;
  int64_t epochs = 1;
  int64_t mini_batches = 1;
  double early_stop_kl = 0.0;
  double entropy_coef = 0.0;
  bool whiten_advantages = true;
  std::string critic_model;
  double critic_lr = 0.0;

  template <class V>
  void visit(V& v) {
    v.field(clip, "clip", "Policy ratio clip range epsilon.", Range::open(0, 1));
    v.field(value_clip, "value_clip", "Value function clip range; 0 disables value clipping.", Range::closed(0, 10));
    v.field(kl_coef, "kl_coef",
            "Weight of the per-token KL penalty to the reference policy, subtracted from the per-token rewards (the "
            "initial value when kl_target > 0).",
            Range::closed(0, 100));
    v.field(kl_estimator, "kl_estimator", "Per-token KL estimator in the reward: k1, k2 or k3 (NOTE [KL estimators]).",
            Choices{{"k1", "k2", "k3"}});
    v.field(kl_target, "kl_target",
            "Adaptive KL controller: keep the summed KL per response near this (Ziegler et al.); 0 keeps kl_coef "
            "fixed.",
            Range::closed(0, 1000));
    v.field(kl_horizon, "kl_horizon", "Adaptive KL controller horizon, in samples.", Range::closed(1, 1LL << 40));
    v.field(gamma, "gamma", "Discount factor.", Range::closed(0, 1));
    v.field(lambda, "lambda", "GAE lambda.", Range::closed(0, 1));
    v.field(epochs, "epochs", "Optimisation passes over each rollout batch.", Range::closed(1, 100));
    v.field(mini_batches, "mini_batches",
            "Updates per epoch: the step's samples are split into this many mini-batches (each an optimiser step).",
            Range::closed(1, 1024));
    v.field(early_stop_kl, "early_stop_kl",
            "Stop the step's remaining mini-batch updates once the mean approximate KL (k3) between the updated "
            "and the sampling policy passes this; 0 never stops early.",
            Range::closed(0, 100));
    v.field(entropy_coef, "entropy_coef", "Weight of the entropy bonus in the policy loss; 0 disables it.",
            Range::closed(0, 10));
    v.field(whiten_advantages, "whiten_advantages",
            "Normalise GAE advantages to mean 0 and standard deviation 1 over the global batch.");
    v.field(critic_model, "critic_model",
            "Checkpoint the critic starts from (a policy or a Bradley-Terry reward model); empty means policy.model. "
            "A checkpoint without a value head gets a fresh one.");
    v.field(critic_lr, "critic_lr", "Peak learning rate of the critic (AdamW, the policy's schedule); 0 means lr.",
            Range::rightOpen(0, 1));
  }
};

struct GrpoOptions {
  double clip = 0.2;
  double kl_coef = 0.05;
  std::string kl_estimator = "k3";
  std::string kl_in = "loss";
  bool scale_by_std = true;
  double importance_cap = 2.0;
  std::string loss_aggregation = "token_mean";
  double entropy_coef = 0.0;

  template <class V>
  void visit(V& v) {
    v.field(clip, "clip", "Policy ratio clip range epsilon of the surrogate.", Range::open(0, 1));
    v.field(kl_coef, "kl_coef", "Weight of the KL penalty to the reference (initial) policy; 0 disables it.",
            Range::closed(0, 100));
    v.field(kl_estimator, "kl_estimator",
            "Per-token KL estimator: k1 (log ratio), k2 (half its square) or k3 (exp(-d) - 1 + d, unbiased and "
            ">= 0). See NOTE [KL estimators] in learner/rlhf/policy_loss.h.",
            Choices{{"k1", "k2", "k3"}});
    v.field(kl_in, "kl_in",
            "Where the KL penalty goes: loss (added to each token's loss) or reward (subtracted from the "
            "sequence's reward before advantages).",
            Choices{{"loss", "reward"}});
    v.field(scale_by_std, "scale_by_std",
            "Divide group-centred rewards by the group's standard deviation (GRPO); false is the unbiased variant.");
    v.field(importance_cap, "importance_cap",
            "Truncation of the importance weight of stale samples (rollout.max_staleness > 0).",
            Range::closed(1, 1000));
    v.field(loss_aggregation, "loss_aggregation",
            "How per-token losses become the step's loss: token_mean (every token weighs the same), sequence_mean "
            "(every response weighs the same; the GRPO paper) or sequence_sum_norm (token sums divided by "
            "policy.max_new_tokens; Dr. GRPO). NOTE [Loss aggregation] in learner/rlhf/policy_loss.h.",
            Choices{{"token_mean", "sequence_mean", "sequence_sum_norm"}});
    v.field(entropy_coef, "entropy_coef", "Weight of the entropy bonus in the policy loss; 0 disables it.",
            Range::closed(0, 10));
  }
};

struct RewardShapingOptions {
  double clip = 0.0;
  bool normalize = false;

  template <class V>
  void visit(V& v) {
    v.field(clip, "clip", "Clip every reward to [-clip, clip] before advantages; 0 disables it.",
            Range::closed(0, 1e6));
    v.field(normalize, "normalize",
            "Normalise rewards by the running mean and standard deviation of every reward seen (saved in "
            "checkpoints).");
  }
};

struct DpoOptions {
  std::string loss = "sigmoid";
  double beta = 0.1;
  double label_smoothing = 0.0;
  std::string reference = "precompute";
  std::string reference_model;

  template <class V>
  void visit(V& v) {
    v.field(loss, "loss", "sigmoid (DPO; with label_smoothing > 0, conservative DPO) or ipo.",
            Choices{{"sigmoid", "ipo"}});
    v.field(beta, "beta", "Inverse temperature of the implicit reward.", Range::greaterThan(0));
    v.field(label_smoothing, "label_smoothing", "Conservative DPO: assumed label-flip probability.",
            Range::rightOpen(0, 0.5));
    v.field(reference, "reference",
            "Reference log-probs: precompute (one pass before training, then the reference model is freed) or "
            "per_batch (computed with every micro-batch; keeps a second model in memory).",
            Choices{{"precompute", "per_batch"}});
    v.field(reference_model, "reference_model", "Reference model checkpoint; empty means policy.model.");
    v.require(loss != "ipo" || label_smoothing == 0.0, "label_smoothing",
              "label smoothing applies to the sigmoid loss only; set it to 0 with loss: ipo");
  }
};

struct GramTrainOptions {
  double label_smoothing = 0.05;
  bool randomize_order = true;

  template <class V>
  void visit(V& v) {
    v.field(label_smoothing, "label_smoothing",
            "Stage 2 epsilon in the paper's convention: loss -(1-eps) log p(winner) - eps log p(loser) = "
            "-log sigmoid(D) + eps*D. PyTorch's CrossEntropyLoss(label_smoothing=s) is eps = s/2.",
            Range::rightOpen(0, 0.5));
    v.field(randomize_order, "randomize_order",
            "Stage 2: put the preferred response in slot A or B at random (seeded) for every example and epoch.");
  }
};

struct LearnerDataOptions {
  std::string train;
  std::string eval;
  double eval_holdout = 0.0;
  bool skip_bad_lines = false;

  template <class V>
  void visit(V& v) {
    v.field(train, "train",
            "JSONL training data (preference pairs for dpo; the shapes are NOTE [Accepted JSONL shapes] in "
            "common/data/jsonl_data.h, converters in docs/data.md).");
    v.field(eval, "eval", "JSONL held-out data in the same format; empty means none (or eval_holdout).");
    v.field(eval_holdout, "eval_holdout",
            "Without an eval file: this fraction of the training data is held out for evaluation.",
            Range::rightOpen(0, 1));
    v.field(skip_bad_lines, "skip_bad_lines",
            "Skip and count malformed JSONL lines instead of stopping at the first (each named in the log).");
  }
};

struct CheckpointOptions {
  int64_t every_steps = 100;
  int64_t keep_last = 3;

  template <class V>
  void visit(V& v) {
    v.field(every_steps, "every_steps", "Save a checkpoint every this many steps; 0 saves only at the end.",
            Range::atLeast(0));
    v.field(keep_last, "keep_last", "Checkpoints kept on disk (older ones are deleted).", Range::atLeast(1));
  }
};

// learner.algorithm values that train online through gramrl rlhf (learner/rlhf/online_algorithm.h).
inline bool isOnlineAlgorithm(const std::string& algorithm) {
  return algorithm == "ppo" || algorithm == "grpo" || algorithm == "rloo" || algorithm == "remax" ||
         algorithm == "reinforce_pp" || algorithm == "online_dpo";
}
// The actors also score each prompt's greedy response: its reward is ReMax's baseline.
inline bool needsGreedyBaseline(const std::string& algorithm) { return algorithm == "remax"; }

struct LearnerOptions {
  std::string algorithm = "ppo";
  int64_t ranks = 1;
  std::string device = "auto";
  int64_t threads = 0;
  int64_t total_steps = 100;
  int64_t global_batch_size = 32;
  int64_t micro_batch_size = 4;
  double lr = 1e-6;
  double min_lr_ratio = 0.0;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  std::string schedule = "cosine";
  double warmup_ratio = 0.03;
  double max_grad_norm = 1.0;
  std::string precision = "auto";
  std::vector<std::string> freeze;
  bool activation_checkpointing = false;
  int64_t zero_stage = 0;
  std::string resume = "auto";
  int64_t eval_every = 0;
  int64_t eval_batch_size = 16;
  int64_t log_every = 1;
  bool tensorboard = true;
  int64_t collective_timeout_s = 300;
  int64_t allreduce_bucket_mb = 25;
  LearnerDataOptions data;
  GramTrainOptions gram;
  PpoOptions ppo;
  GrpoOptions grpo;
  DpoOptions dpo;
  RewardShapingOptions reward_shaping;
  CheckpointOptions checkpoint;

  template <class V>
  void visit(V& v) {
    v.field(algorithm, "algorithm",
            "What the learner trains: the policy online through gramrl rlhf (ppo with a critic; grpo, rloo, remax, "
            "reinforce_pp: critic-free policy gradients; online_dpo: DPO on the best and worst of each prompt's "
            "samples; NOTE [Advantage estimators] in learner/rlhf/advantages.h), offline (dpo; sft: supervised "
            "fine-tuning on demonstrations) or the "
            "reward model (gram_pretrain: GRAM stage 1, gram_finetune: stage 2, bradley_terry: a scalar-head reward "
            "model). Set by the gramrl train / gramrl gram subcommands.",
            Choices{{"ppo", "grpo", "rloo", "remax", "reinforce_pp", "online_dpo", "dpo", "sft", "gram_pretrain",
                     "gram_finetune", "bradley_terry"}});
    v.field(ranks, "ranks", "Data-parallel learner processes.", Range::closed(1, 65536));
    v.field(device, "device", "auto (CUDA when present, one GPU per rank), cpu or cuda.",
            Choices{{"auto", "cpu", "cuda"}});
    v.field(threads, "threads",
            "Intra-op CPU threads per rank; 0 keeps LibTorch's default. Small models train fastest with 1 "
            "thread per rank.",
            Range::closed(0, 1024));
    v.field(total_steps, "total_steps", "Optimiser steps in the run.", Range::atLeast(1));
    v.field(global_batch_size, "global_batch_size", "Sequences per optimiser step, over all ranks.", Range::atLeast(1));
    v.field(micro_batch_size, "micro_batch_size", "Sequences per forward/backward on one rank.", Range::atLeast(1));
    v.field(lr, "lr", "Peak learning rate (AdamW).", Range::leftOpen(0, 1));
    v.field(min_lr_ratio, "min_lr_ratio", "Final learning rate of the decay, as a fraction of lr.",
            Range::closed(0, 1));
    v.field(weight_decay, "weight_decay", "AdamW decoupled weight decay (not applied to biases and norms).",
            Range::closed(0, 1));
    v.field(adam_beta1, "adam_beta1", "AdamW beta1.", Range::rightOpen(0, 1));
    v.field(adam_beta2, "adam_beta2", "AdamW beta2.", Range::rightOpen(0, 1));
    v.field(adam_eps, "adam_eps", "AdamW epsilon.", Range::greaterThan(0));
    v.field(schedule, "schedule", "Learning-rate decay after warmup.", Choices{{"cosine", "linear", "constant"}});
    v.field(warmup_ratio, "warmup_ratio", "Fraction of total_steps spent warming up linearly.", Range::closed(0, 1));
    v.field(max_grad_norm, "max_grad_norm", "Clip the global gradient norm to this; 0 disables clipping.",
            Range::atLeast(0));
    v.field(precision, "precision", "auto (bf16 autocast on CUDA, fp32 on CPU), fp32, or bf16 (autocast; CUDA only).",
            Choices{{"auto", "fp32", "bf16"}});
    v.field(freeze, "freeze",
            "Parameters kept fixed, as shell patterns of their Hugging Face names (model.embed_tokens.*).");
    v.field(activation_checkpointing, "activation_checkpointing",
            "Keep only each decoder layer's input for the backward pass and recompute the layer there (about a "
            "third more compute, a fraction of the activation memory; the gradients are the same). Applies to the "
            "trained models (the policy and the PPO critic); NOTE [Activation recomputation].");
    v.field(zero_stage, "zero_stage",
            "0: every rank keeps the whole AdamW state; 1: ZeRO-1, each rank keeps the AdamW moments of its shard "
            "of the parameters only, steps that shard and broadcasts it (8 bytes per parameter divided by ranks "
            "instead of 8); 3: ZeRO-3 (gramrl rlhf only), the weights, gradients and moments of the trained models "
            "and the layers of the KL reference are sharded, and each layer is gathered while it runs (16 bytes "
            "per trained parameter divided by ranks; needs activation_checkpointing). Checkpoints then hold one "
            "optimizer file per rank and resume on the same number of ranks; NOTE [ZeRO-1 optimizer sharding], "
            "NOTE [ZeRO-3 parameter sharding].",
            Range::closed(0, 3));
    v.field(resume, "resume",
            "auto: continue from the newest checkpoint of this run if there is one; never: refuse to start over "
            "existing checkpoints; or a checkpoint directory.");
    v.field(eval_every, "eval_every", "Evaluate every this many steps; 0 evaluates only at the end.",
            Range::atLeast(0));
    v.field(eval_batch_size, "eval_batch_size", "Examples per forward pass when evaluating or precomputing.",
            Range::closed(1, 1 << 20));
    v.field(log_every, "log_every", "Write metrics every this many steps (the progress line updates every step).",
            Range::atLeast(1));
    v.field(tensorboard, "tensorboard", "Also write TensorBoard event files to <run>/tensorboard.");
    v.field(collective_timeout_s, "collective_timeout_s",
            "A rank that waits this long for its peers in a collective stops with an error (a peer died or hung).",
            Range::closed(1, 86400));
    v.field(allreduce_bucket_mb, "allreduce_bucket_mb", "Gradients are summed over ranks in buckets of this size.",
            Range::closed(1, 4096));
    v.section(data, "data", "Training and evaluation data.");
    v.section(gram, "gram", "GRAM stage 2 and Bradley-Terry training settings.");
    v.section(ppo, "ppo", "PPO settings (algorithm: ppo).");
    v.section(grpo, "grpo",
              "Policy-loss settings of the critic-free algorithms (grpo, rloo, remax, reinforce_pp; gramrl rlhf).");
    v.section(dpo, "dpo", "DPO, IPO and cDPO settings (algorithm: dpo and online_dpo).");
    v.section(reward_shaping, "reward_shaping",
              "Reward clipping and running normalisation before advantages (online algorithms; NOTE [Reward "
              "shaping]).");
    v.section(checkpoint, "checkpoint", "Checkpoint cadence and retention.");
    v.require(zero_stage != 2, "zero_stage", "expected 0, 1 or 3 (ZeRO-2 is not offered), got 2");
    v.require(zero_stage != 3 || activation_checkpointing, "zero_stage",
              "3 needs learner.activation_checkpointing: true (a sharded layer's weights are gathered again for its "
              "backward instead of being kept)");
    v.require(micro_batch_size * ranks <= global_batch_size && global_batch_size % (micro_batch_size * ranks) == 0,
              "global_batch_size",
              "expected a multiple of micro_batch_size * ranks (" + std::to_string(micro_batch_size) + " * " +
                  std::to_string(ranks) + "), got " + std::to_string(global_batch_size));
  }
};

}  // namespace gramrl
