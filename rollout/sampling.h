// Token sampling from next-token logits: greedy, temperature, top-k, top-p, with the
// log-probability of each chosen token.
//
// NOTE [Per-sequence randomness]
// Every random draw is a pure function of (seed, sequence id, step): a counter-based hash
// (splitmix64) turned into a uniform in [0, 1), used to invert the CDF of the row's sampling
// distribution. No generator state is shared between rows, so a sequence samples the same tokens
// whether it runs alone, in a static batch, or in a continuously refilled batch, and a run is
// reproducible from its seed.
//
// NOTE [Which log-prob]
// `logprob` is the log-probability of the token under the distribution it was actually drawn
// from (after temperature, top-k and top-p renormalisation; 0 for greedy). `policy_logprob` is
// log_softmax(logits / temperature) at the token, without truncation, which is what a learner
// recomputes from the same logits (temperature 0 counts as 1 there). PPO's behaviour log-probs
// should be policy_logprob so that the importance ratio starts at exactly 1 on-policy.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/Tensor.h>

namespace gramrl {

struct SamplingParams {
  double temperature = 1.0;  // 0 = greedy
  int64_t top_k = 0;         // 0 = off
  double top_p = 1.0;        // 1 = off; in (0, 1]
};

// One uniform in [0, 1) for (seed, sequence, step); see NOTE [Per-sequence randomness].
double sampleUniform(uint64_t seed, uint64_t sequence_id, uint64_t step);

struct SampledTokens {
  std::vector<int64_t> tokens;
  std::vector<float> logprobs;         // under the sampling distribution
  std::vector<float> policy_logprobs;  // log_softmax(logits / T) at the token
};

// Samples one token per row of `logits` [B, V] (any float dtype, any device; computed in
// float32). `params` and `uniforms` have B entries (uniforms from sampleUniform). Throws
// ConfigError for out-of-range params.
SampledTokens sampleTokens(const at::Tensor& logits, const std::vector<SamplingParams>& params,
                           const std::vector<double>& uniforms);

}  // namespace gramrl
