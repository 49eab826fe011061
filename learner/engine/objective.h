// The algorithm-specific half of a training step. The Trainer (trainer.h) owns the loop: data
// order, data parallelism, micro-batching, optimisation, checkpoints and metrics; an Objective
// turns a micro-batch of example indices into a loss and metrics. DPO, GRAM stage 1 and 2, the
// Bradley-Terry trainer and SFT are Objectives.
//
// NOTE [Loss normalisation]
// A step's loss is the mean of a per-unit loss over the whole global batch, where the unit is
// what the objective says (a pair for DPO, a target token for language-model losses). The
// trainer first sums normaliser() over the step's micro-batches on all ranks (one small
// allreduce), then back-propagates loss_sum / global_normaliser for each micro-batch and sums
// the gradients over ranks. The result does not depend on how the batch is split into ranks and
// micro-batches: a token in a short sequence weighs as much as one in a long sequence, which a
// mean of per-micro-batch means would not give.
//
// Threads: the trainer calls an Objective from its one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/Tensor.h>

namespace gramrl {

class Collective;

// A metric as a sum and a count, so it can be summed over micro-batches and ranks before the
// division (the reported value is sum / count).
struct MetricSum {
  std::string name;
  double sum = 0.0;
  double count = 0.0;
};

struct ObjectiveOutput {
  at::Tensor loss_sum;             // scalar float32: the sum of the per-unit losses of the micro-batch, with autograd
  std::vector<MetricSum> metrics;  // the same names, in the same order, on every call and rank
  int64_t tokens = 0;              // tokens run through the model (throughput)
};

class Objective {
 public:
  virtual ~Objective() = default;
  virtual std::string name() const = 0;
  // Examples in the training set; indices passed to normaliser() and forward() are in [0, size()).
  virtual int64_t size() const = 0;
  // Once, before the first step (after a resume too), on every rank: e.g. precomputing
  // reference log-probs over the data set, sharded with `collective`.
  virtual void prepare(Collective& collective) {}
  // Called before each step with the number of updates done so far, on every rank. Randomness
  // that must survive a resume (e.g. GRAM's A/B slot assignment) is a function of (seed, step,
  // example), never of hidden state.
  virtual void startStep(int64_t step) {}
  // The number of loss units in these examples (NOTE [Loss normalisation]).
  virtual double normaliser(const std::vector<int64_t>& indices) = 0;
  virtual ObjectiveOutput forward(const std::vector<int64_t>& indices) = 0;
  // Held-out metrics over this rank's share of the evaluation set (sums and counts, summed over
  // ranks by the trainer). Empty when the objective has no evaluation set. Runs without autograd.
  virtual std::vector<MetricSum> evaluate(int rank, int world_size) { return {}; }
};

}  // namespace gramrl
