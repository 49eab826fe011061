#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/core/errors.h"
#include "rollout/sampling.h"

namespace gramrl {
namespace {

at::Tensor row(const std::vector<float>& v) { return torch::tensor(v).reshape({1, static_cast<int64_t>(v.size())}); }

// Logits whose softmax is exactly `probs` (log of the probabilities).
at::Tensor logitsFor(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return row(l);
}

std::map<int64_t, int> histogram(const at::Tensor& logits, const SamplingParams& p, int draws, uint64_t seed) {
  std::map<int64_t, int> counts;
  for (int i = 0; i < draws; ++i) {
    auto s = sampleTokens(logits, {p}, {sampleUniform(seed, 0, static_cast<uint64_t>(i))});
    ++counts[s.tokens[0]];
  }
  return counts;
}

TEST(SampleUniform, IsDeterministicInRangeAndVaries) {
  EXPECT_EQ(sampleUniform(1, 2, 3), sampleUniform(1, 2, 3));
  EXPECT_NE(sampleUniform(1, 2, 3), sampleUniform(1, 2, 4));
  EXPECT_NE(sampleUniform(1, 2, 3), sampleUniform(1, 3, 3));
  EXPECT_NE(sampleUniform(1, 2, 3), sampleUniform(2, 2, 3));
  double sum = 0, sum_sq = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double u = sampleUniform(42, 7, static_cast<uint64_t>(i));
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum_sq += u * u;
  }
  // Uniform(0,1): mean 1/2, variance 1/12; 5-sigma bounds on the sample mean and variance.
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(sum_sq / n - (sum / n) * (sum / n), 1.0 / 12, 0.002);
}

TEST(SampleTokens, GreedyTakesTheArgmaxWithPolicyLogprob) {
  at::Tensor l = torch::tensor({{0.5f, 2.0f, -1.0f, 2.0f}, {3.0f, 0.0f, 0.0f, 0.0f}});
  auto s = sampleTokens(l, {{0.0, 0, 1.0}, {0.0, 0, 1.0}}, {0.9, 0.1});
  EXPECT_EQ(s.tokens, (std::vector<int64_t>{1, 0}));  // the first of tied maxima
  EXPECT_FLOAT_EQ(s.logprobs[0], 0.0f);
  // log_softmax by hand: 2 - log(e^0.5 + 2 e^2 + e^-1)
  const double z = std::exp(0.5) + 2 * std::exp(2.0) + std::exp(-1.0);
  EXPECT_NEAR(s.policy_logprobs[0], 2.0 - std::log(z), 1e-6);
}

// Issue 15: a temperature just above 0 overflowed the scaled logits (a lone end token, NaN
// log-probs, exit 0), and NaN logits sampled garbage; both are now errors that say why.
TEST(SampleTokens, TinyTemperaturesAndNonFiniteLogitsAreErrors) {
  const at::Tensor l = logitsFor({0.1, 0.2, 0.3, 0.4});
  for (double t : {1e-300, 3e-39, 1e-9}) {
    EXPECT_THROW(sampleTokens(l, {{t, 0, 1.0}}, {0.5}), ConfigError) << t;
  }
  EXPECT_NO_THROW(sampleTokens(l, {{1e-6, 0, 1.0}}, {0.5}));
  at::Tensor bad = torch::tensor({{0.5f, 1.0f, 2.0f}, {0.5f, std::nanf(""), 1.0f}});
  try {
    sampleTokens(bad, {{1.0, 0, 1.0}, {0.0, 0, 1.0}}, {0.5, 0.5});
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("logits for sequence 1 hold NaN or infinite values"), std::string::npos)
        << e.what();
  }
}

TEST(SampleTokens, InverseCdfPicksTheTokenWhoseIntervalHoldsU) {
  at::Tensor l = logitsFor({0.1, 0.2, 0.3, 0.4});
  const SamplingParams p{1.0, 0, 1.0};
  EXPECT_EQ(sampleTokens(l, {p}, {0.05}).tokens[0], 0);
  EXPECT_EQ(sampleTokens(l, {p}, {0.15}).tokens[0], 1);
  EXPECT_EQ(sampleTokens(l, {p}, {0.55}).tokens[0], 2);
  EXPECT_EQ(sampleTokens(l, {p}, {0.65}).tokens[0], 3);
  auto s = sampleTokens(l, {p}, {0.65});
  EXPECT_NEAR(s.logprobs[0], std::log(0.4), 1e-6);
  EXPECT_NEAR(s.policy_logprobs[0], std::log(0.4), 1e-6);
}

TEST(SampleTokens, TopPKeepsTheSmallestPrefixReachingP) {
  // Sorted mass: 0.5, 0.8, 0.95, 1.0. top_p = 0.8 keeps {0, 1}; token 0 has p = 0.5 / 0.8.
  at::Tensor l = logitsFor({0.5, 0.3, 0.15, 0.05});
  const SamplingParams p{1.0, 0, 0.8};
  auto counts = histogram(l, p, 4000, 3);
  EXPECT_EQ(counts.count(2) + counts.count(3), 0u);
  EXPECT_NEAR(counts[0] / 4000.0, 0.5 / 0.8, 0.03);
  auto s = sampleTokens(l, {p}, {0.0});
  EXPECT_EQ(s.tokens[0], 0);
  EXPECT_NEAR(s.logprobs[0], std::log(0.5 / 0.8), 1e-6);
  EXPECT_NEAR(s.policy_logprobs[0], std::log(0.5), 1e-6);
  // A tiny top_p always keeps the most likely token.
  EXPECT_EQ(histogram(l, {1.0, 0, 0.01}, 200, 4).size(), 1u);
}

TEST(SampleTokens, TopKNeverEmitsExcludedTokens) {
  torch::manual_seed(0);
  at::Tensor l = torch::randn({1, 50});
  const SamplingParams p{1.5, 5, 1.0};
  auto top = std::get<1>(torch::topk(l, 5, 1));
  std::set<int64_t> allowed;
  for (int i = 0; i < 5; ++i) allowed.insert(top[0][i].item<int64_t>());
  auto counts = histogram(l, p, 3000, 9);
  for (const auto& [token, n] : counts) EXPECT_TRUE(allowed.count(token)) << token;
  EXPECT_EQ(counts.size(), 5u);
}

TEST(SampleTokens, TemperatureMatchesSoftmaxFrequencies) {
  at::Tensor l = row({1.0f, 0.0f, -1.0f});
  const double t = 0.5;
  auto counts = histogram(l, {t, 0, 1.0}, 20000, 11);
  const double z = std::exp(2.0) + 1 + std::exp(-2.0);
  EXPECT_NEAR(counts[0] / 20000.0, std::exp(2.0) / z, 0.01);
  EXPECT_NEAR(counts[2] / 20000.0, std::exp(-2.0) / z, 0.01);
}

TEST(SampleTokens, RowsAreIndependentOfTheirBatch) {
  torch::manual_seed(1);
  at::Tensor l = torch::randn({4, 100});
  std::vector<SamplingParams> ps(4, SamplingParams{0.9, 20, 0.9});
  std::vector<double> us{0.1, 0.5, 0.7, 0.99};
  auto batch = sampleTokens(l, ps, us);
  for (int64_t b = 0; b < 4; ++b) {
    auto one = sampleTokens(l.slice(0, b, b + 1), {ps[b]}, {us[b]});
    EXPECT_EQ(one.tokens[0], batch.tokens[b]);
    EXPECT_FLOAT_EQ(one.logprobs[0], batch.logprobs[b]);
  }
}

// NOTE [Greedy rows skip the probabilities]: greedy and sampling rows in one batch take two paths;
// each row gets what it gets alone, and the greedy rows' log-probs are log_softmax's.
TEST(SampleTokens, GreedyAndSampledRowsInOneBatchMatchEachRowAlone) {
  torch::manual_seed(2);
  at::Tensor l = torch::randn({5, 300}) * 3;
  std::vector<SamplingParams> ps{{0.0, 0, 1.0}, {0.8, 0, 1.0}, {0.0, 0, 1.0}, {1.2, 50, 0.95}, {0.0, 0, 1.0}};
  std::vector<double> us{0.3, 0.6, 0.2, 0.9, 0.4};
  auto batch = sampleTokens(l, ps, us);
  const at::Tensor reference = torch::log_softmax(l.to(torch::kDouble), 1);
  for (int64_t b = 0; b < 5; ++b) {
    auto one = sampleTokens(l.slice(0, b, b + 1), {ps[b]}, {us[b]});
    EXPECT_EQ(one.tokens[0], batch.tokens[b]) << b;
    EXPECT_FLOAT_EQ(one.logprobs[0], batch.logprobs[b]) << b;
    EXPECT_FLOAT_EQ(one.policy_logprobs[0], batch.policy_logprobs[b]) << b;
    if (ps[b].temperature == 0) {
      EXPECT_EQ(batch.tokens[b], l[b].argmax().item<int64_t>()) << b;
      EXPECT_NEAR(batch.policy_logprobs[b], reference[b][batch.tokens[b]].item<double>(), 1e-5) << b;
    }
  }
}

// The finiteness check first sums the logits; finite logits whose sum overflows are not an error.
TEST(SampleTokens, FiniteLogitsWhoseSumOverflowsAreNotAnError) {
  at::Tensor l = torch::tensor({{3e38f, 3e38f, 0.0f, 2e38f}});
  ASSERT_FALSE(std::isfinite(l.sum().item<float>()));
  auto s = sampleTokens(l, {{0.0, 0, 1.0}}, {0.5});
  EXPECT_EQ(s.tokens[0], 0);  // the first of the tied maxima
  EXPECT_TRUE(std::isfinite(s.policy_logprobs[0]));
  at::Tensor inf = torch::tensor({{1.0f, -std::numeric_limits<float>::infinity(), 0.0f}});
  EXPECT_THROW(sampleTokens(inf, {{0.0, 0, 1.0}}, {0.5}), DataError);
}

TEST(SampleTokens, RejectsBadParams) {
  at::Tensor l = row({0.0f, 1.0f});
  EXPECT_THROW(sampleTokens(l, {{-1.0, 0, 1.0}}, {0.5}), ConfigError);
  EXPECT_THROW(sampleTokens(l, {{1.0, -2, 1.0}}, {0.5}), ConfigError);
  EXPECT_THROW(sampleTokens(l, {{1.0, 0, 0.0}}, {0.5}), ConfigError);
  EXPECT_THROW(sampleTokens(l, {{1.0, 0, 1.5}}, {0.5}), ConfigError);
}

}  // namespace
}  // namespace gramrl
