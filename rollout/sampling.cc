#include "rollout/sampling.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Below this the logits divided by the temperature overflow float32 (and a temperature under
// float's smallest normal becomes 0 or a denormal): the softmax turns to NaN (issue 15).
constexpr double kMinTemperature = 1e-6;

void checkParams(const SamplingParams& p) {
  GRAMRL_CHECK(std::isfinite(p.temperature) && p.temperature >= 0, ConfigError,
               "sampling temperature must be >= 0, got {}", p.temperature);
  GRAMRL_CHECK(p.temperature == 0 || p.temperature >= kMinTemperature, ConfigError,
               "sampling temperature {} is below {}, where the scaled logits overflow; use 0 for greedy decoding",
               p.temperature, kMinTemperature);
  GRAMRL_CHECK(p.top_k >= 0, ConfigError, "sampling top_k must be >= 0, got {}", p.top_k);
  GRAMRL_CHECK(p.top_p > 0 && p.top_p <= 1, ConfigError, "sampling top_p must be in (0, 1], got {}", p.top_p);
}

// Samples one row: `probs` are the untruncated probabilities at temperature T (float32, CPU,
// contiguous). Returns (token, log-prob under the truncated distribution).
std::pair<int64_t, float> sampleRow(const float* probs, int64_t vocab, const SamplingParams& p, double u) {
  // Candidates in descending probability when truncating; in index order otherwise (the order
  // does not matter for an untruncated inverse CDF, and skipping the sort saves O(V log V)).
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) order[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  int64_t keep = vocab;
  const bool truncate = (p.top_k > 0 && p.top_k < vocab) || p.top_p < 1.0;
  if (truncate) {
    const int64_t k = (p.top_k > 0 && p.top_k < vocab) ? p.top_k : vocab;
    // Ties broken by the lower token id, so the kept set is well defined.
    auto by_prob = [probs](int32_t a, int32_t b) { return probs[a] > probs[b] || (probs[a] == probs[b] && a < b); };
    std::partial_sort(order.begin(), order.begin() + k, order.end(), by_prob);
    keep = k;
    if (p.top_p < 1.0) {
      // Smallest prefix whose mass reaches top_p (the first token is always kept).
      double total = 0;
      for (int64_t i = 0; i < k; ++i) total += probs[order[static_cast<size_t>(i)]];
      double mass = 0;
      int64_t n = 0;
      while (n < k) {
        mass += probs[order[static_cast<size_t>(n)]];
        ++n;
        if (mass >= p.top_p * total) break;
      }
      keep = n;
    }
  }
  double total = 0;
  for (int64_t i = 0; i < keep; ++i) total += probs[order[static_cast<size_t>(i)]];
  const double target = u * total;
  double acc = 0;
  int64_t chosen = order[static_cast<size_t>(keep - 1)];
  for (int64_t i = 0; i < keep; ++i) {
    acc += probs[order[static_cast<size_t>(i)]];
    if (target < acc) {
      chosen = order[static_cast<size_t>(i)];
      break;
    }
  }
  return {chosen, static_cast<float>(std::log(static_cast<double>(probs[chosen]) / total))};
}

}  // namespace

double sampleUniform(uint64_t seed, uint64_t sequence_id, uint64_t step) {
  const uint64_t h = splitmix64(splitmix64(splitmix64(seed) ^ sequence_id) ^ step);
  return static_cast<double>(h >> 11) * 0x1.0p-53;  // 53 random bits in [0, 1)
}

SampledTokens sampleTokens(const at::Tensor& logits, const std::vector<SamplingParams>& params,
                           const std::vector<double>& uniforms) {
  GRAMRL_ASSERT(logits.dim() == 2, "logits must be [B, V], got {} dims", logits.dim());
  const int64_t rows = logits.size(0);
  const int64_t vocab = logits.size(1);
  GRAMRL_ASSERT(static_cast<int64_t>(params.size()) == rows && static_cast<int64_t>(uniforms.size()) == rows,
                "{} rows, {} params, {} uniforms", rows, params.size(), uniforms.size());
  for (const auto& p : params) checkParams(p);

  at::Tensor x = logits.detach().to(torch::kCPU, torch::kFloat);
  // NaN or infinite logits (non-finite weights, an overflow) would sample garbage with NaN
  // log-probs and exit 0; stop with the row instead. The sum is a cheap first test (one pass, no
  // tensor written): a NaN or an infinity anywhere makes it non-finite. Only then is every element
  // checked, which also clears sums of finite logits that overflowed.
  if (!std::isfinite(x.sum().item<float>()) && !torch::isfinite(x).all().item<bool>()) {
    const int64_t row = torch::isfinite(x).all(1).logical_not().nonzero().min().item<int64_t>();
    throw DataError(
        fmt::format("the model's next-token logits for sequence {} hold NaN or infinite values; are its "
                    "weights finite?",
                    row));
  }
  SampledTokens out;
  out.tokens.resize(static_cast<size_t>(rows));
  out.logprobs.resize(static_cast<size_t>(rows));
  out.policy_logprobs.resize(static_cast<size_t>(rows));
  // NOTE [Greedy rows skip the probabilities]
  // A greedy row needs only its first maximum and that token's log-probability at temperature 1,
  // x[t] - logsumexp(x): one pass over the row without writing anything back. Only rows that
  // sample need every probability (the inverse CDF), so only they go through log_softmax and exp,
  // which write two float rows of the vocabulary's size each. The peers benchmark had found the
  // full path at 74 ms per decode step for 64 greedy rows of Llama-3's 128,256 logits
  // (docs/benchmarks.md, "Peers"); bench/op_bench times both paths on the same logits.
  std::vector<int64_t> greedy_rows, sampled_rows;
  for (int64_t b = 0; b < rows; ++b) {
    (params[static_cast<size_t>(b)].temperature == 0 ? greedy_rows : sampled_rows).push_back(b);
  }
  // The rows of x listed in `which` (x itself when that is every row).
  auto rowsOf = [&x, rows](const std::vector<int64_t>& which) {
    if (static_cast<int64_t>(which.size()) == rows) return x.contiguous();
    return x.index_select(0, torch::tensor(which, torch::kLong)).contiguous();
  };
  if (!greedy_rows.empty()) {
    const at::Tensor g = rowsOf(greedy_rows);
    const at::Tensor lse = torch::logsumexp(g, 1).contiguous();
    const float* gp = g.data_ptr<float>();
    const float* lp = lse.data_ptr<float>();
    for (size_t i = 0; i < greedy_rows.size(); ++i) {
      const float* row = gp + static_cast<int64_t>(i) * vocab;
      const int64_t token = std::max_element(row, row + vocab) - row;  // first maximum
      const auto b = static_cast<size_t>(greedy_rows[i]);
      out.tokens[b] = token;
      out.logprobs[b] = 0;
      out.policy_logprobs[b] = row[token] - lp[i];
    }
  }
  if (!sampled_rows.empty()) {
    std::vector<float> temps;
    for (int64_t b : sampled_rows) temps.push_back(static_cast<float>(params[static_cast<size_t>(b)].temperature));
    const at::Tensor scaled =
        rowsOf(sampled_rows) / torch::from_blob(temps.data(), {static_cast<int64_t>(temps.size()), 1}, torch::kFloat);
    const at::Tensor log_probs = torch::log_softmax(scaled, 1).contiguous();
    const at::Tensor probs = log_probs.exp().contiguous();
    const float* lp = log_probs.data_ptr<float>();
    const float* pr = probs.data_ptr<float>();
    for (size_t i = 0; i < sampled_rows.size(); ++i) {
      const auto b = static_cast<size_t>(sampled_rows[i]);
      const int64_t offset = static_cast<int64_t>(i) * vocab;
      const auto [token, logprob] = sampleRow(pr + offset, vocab, params[b], uniforms[b]);
      out.tokens[b] = token;
      out.logprobs[b] = logprob;
      out.policy_logprobs[b] = lp[offset + token];
    }
  }
  return out;
}

}  // namespace gramrl
