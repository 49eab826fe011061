#include "learner/rlhf/advantages.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "common/core/errors.h"

namespace gramrl::rlhf {

std::vector<double> groupAdvantages(const std::vector<double>& rewards, int64_t group_size, bool scale_by_std,
                                    double eps) {
  GRAMRL_ASSERT(group_size >= 1 && rewards.size() % static_cast<size_t>(group_size) == 0,
                "rewards ({}) are not whole groups of {}", rewards.size(), group_size);
  std::vector<double> out(rewards.size(), 0.0);
  const auto n = static_cast<size_t>(group_size);
  for (size_t g = 0; g < rewards.size(); g += n) {
    if (n == 1) continue;
    double mean = 0.0;
    for (size_t i = 0; i < n; ++i) mean += rewards[g + i];
    mean /= static_cast<double>(n);
    double var = 0.0;
    for (size_t i = 0; i < n; ++i) var += (rewards[g + i] - mean) * (rewards[g + i] - mean);
    const double std = std::sqrt(var / static_cast<double>(n - 1));
    for (size_t i = 0; i < n; ++i) {
      const double centred = rewards[g + i] - mean;
      out[g + i] = scale_by_std ? centred / (std + eps) : centred;
    }
  }
  return out;
}

std::vector<double> leaveOneOutAdvantages(const std::vector<double>& rewards, int64_t group_size) {
  GRAMRL_ASSERT(group_size >= 1 && rewards.size() % static_cast<size_t>(group_size) == 0,
                "rewards ({}) are not whole groups of {}", rewards.size(), group_size);
  std::vector<double> out(rewards.size(), 0.0);
  const auto n = static_cast<size_t>(group_size);
  if (n == 1) return out;
  for (size_t g = 0; g < rewards.size(); g += n) {
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += rewards[g + i];
    for (size_t i = 0; i < n; ++i) {
      out[g + i] = rewards[g + i] - (sum - rewards[g + i]) / static_cast<double>(n - 1);
    }
  }
  return out;
}

std::vector<double> baselineAdvantages(const std::vector<double>& rewards, const std::vector<double>& baselines) {
  GRAMRL_ASSERT(rewards.size() == baselines.size(), "{} rewards, {} baselines", rewards.size(), baselines.size());
  std::vector<double> out(rewards.size());
  for (size_t i = 0; i < rewards.size(); ++i) out[i] = rewards[i] - baselines[i];
  return out;
}

std::vector<float> tokenRewards(double reward, const std::vector<float>& kl, double kl_coef) {
  std::vector<float> out(kl.size());
  for (size_t t = 0; t < kl.size(); ++t) {
    double r = -kl_coef * static_cast<double>(kl[t]);
    if (t + 1 == kl.size()) r += reward;
    out[t] = static_cast<float>(r);
  }
  return out;
}

std::vector<float> discountedReturns(const std::vector<float>& rewards, double gamma) {
  std::vector<float> out(rewards.size());
  double running = 0.0;
  for (size_t t = rewards.size(); t-- > 0;) {
    running = static_cast<double>(rewards[t]) + gamma * running;
    out[t] = static_cast<float>(running);
  }
  return out;
}

Gae generalizedAdvantages(const std::vector<float>& rewards, const std::vector<float>& values, double gamma,
                          double lambda) {
  GRAMRL_ASSERT(rewards.size() == values.size(), "{} rewards, {} values", rewards.size(), values.size());
  Gae out;
  out.advantages.resize(rewards.size());
  out.returns.resize(rewards.size());
  double next_value = 0.0;  // V after the last token: the episode has ended
  double next_advantage = 0.0;
  for (size_t t = rewards.size(); t-- > 0;) {
    const double v = values[t];
    const double delta = static_cast<double>(rewards[t]) + gamma * next_value - v;
    const double a = delta + gamma * lambda * next_advantage;
    out.advantages[t] = static_cast<float>(a);
    out.returns[t] = static_cast<float>(a + v);
    next_value = v;
    next_advantage = a;
  }
  return out;
}

double Moments::mean() const { return count > 0 ? sum / count : 0.0; }

double Moments::variance() const {
  if (count < 1) return 0.0;
  const double m = mean();
  return std::max(0.0, sum_sq / count - m * m);
}

Moments momentsOf(const std::vector<std::vector<float>>& rows) {
  Moments m;
  for (const auto& row : rows) {
    for (float v : row) {
      m.sum += v;
      m.sum_sq += static_cast<double>(v) * v;
      m.count += 1.0;
    }
  }
  return m;
}

void whiten(std::vector<std::vector<float>>& rows, const Moments& global, double eps) {
  const double mean = global.mean();
  const double scale = 1.0 / (std::sqrt(global.variance()) + eps);
  for (auto& row : rows) {
    for (float& v : row) v = static_cast<float>((static_cast<double>(v) - mean) * scale);
  }
}

KlController::KlController(double initial, double target, int64_t horizon)
    : coef_(initial), target_(target), horizon_(horizon) {
  GRAMRL_ASSERT(horizon_ >= 1 && target_ >= 0.0);
}

void KlController::update(double kl, int64_t samples) {
  if (target_ <= 0.0) return;
  const double error = std::clamp(kl / target_ - 1.0, -0.2, 0.2);
  coef_ *= 1.0 + error * static_cast<double>(samples) / static_cast<double>(horizon_);
}

void RunningMoments::add(const std::vector<double>& values) {
  if (values.empty()) return;
  double mean = 0.0;
  for (double v : values) mean += v;
  const auto n = static_cast<double>(values.size());
  mean /= n;
  double m2 = 0.0;
  for (double v : values) m2 += (v - mean) * (v - mean);
  const double total = count_ + n;
  const double delta = mean - mean_;
  mean_ += delta * n / total;
  m2_ += m2 + delta * delta * count_ * n / total;
  count_ = total;
}

double RunningMoments::mean() const { return mean_; }

double RunningMoments::stddev() const { return count_ < 2 ? 1.0 : std::sqrt(m2_ / count_); }

std::string RunningMoments::toJson() const {
  nlohmann::json j{{"count", count_}, {"mean", mean_}, {"m2", m2_}};
  return j.dump(2) + "\n";
}

RunningMoments RunningMoments::fromJson(const std::string& text, const std::string& source) {
  RunningMoments m;
  try {
    const auto j = nlohmann::json::parse(text);
    m.count_ = j.at("count").get<double>();
    m.mean_ = j.at("mean").get<double>();
    m.m2_ = j.at("m2").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("{}: not the running reward moments gramrl writes ({})", source, e.what()));
  }
  GRAMRL_CHECK(m.count_ >= 0 && m.m2_ >= 0 && std::isfinite(m.mean_) && std::isfinite(m.m2_), DataError,
               "{}: running reward moments out of range (count {}, mean {}, m2 {})", source, m.count_, m.mean_, m.m2_);
  return m;
}

namespace {

std::vector<double> shapeWith(const std::vector<double>& rewards, const ShapingSettings& s, const RunningMoments& m) {
  std::vector<double> out(rewards);
  if (s.clip > 0) {
    for (double& r : out) r = std::clamp(r, -s.clip, s.clip);
  }
  if (s.normalize) {
    const double scale = 1.0 / (m.stddev() + 1e-8);
    for (double& r : out) r = (r - m.mean()) * scale;
  }
  return out;
}

}  // namespace

std::vector<double> shapeRewards(const std::vector<double>& rewards, const ShapingSettings& settings,
                                 RunningMoments& moments) {
  if (settings.normalize) {
    std::vector<double> clipped = shapeWith(rewards, ShapingSettings{settings.clip, false}, moments);
    moments.add(clipped);
  }
  return shapeWith(rewards, settings, moments);
}

std::vector<double> shapeWithoutUpdate(const std::vector<double>& rewards, const ShapingSettings& settings,
                                       const RunningMoments& moments) {
  return shapeWith(rewards, settings, moments);
}

std::vector<std::optional<ResponsePair>> selectPairs(const std::vector<double>& rewards, int64_t group_size) {
  GRAMRL_ASSERT(group_size >= 1 && rewards.size() % static_cast<size_t>(group_size) == 0,
                "rewards ({}) are not whole groups of {}", rewards.size(), group_size);
  std::vector<std::optional<ResponsePair>> out;
  const auto n = static_cast<size_t>(group_size);
  for (size_t g = 0; g < rewards.size(); g += n) {
    size_t best = g;
    size_t worst = g;
    for (size_t i = g + 1; i < g + n; ++i) {
      if (rewards[i] > rewards[best]) best = i;
      if (rewards[i] < rewards[worst]) worst = i;
    }
    if (rewards[best] > rewards[worst]) {
      out.push_back(ResponsePair{static_cast<int64_t>(best), static_cast<int64_t>(worst)});
    } else {
      out.push_back(std::nullopt);
    }
  }
  return out;
}

}  // namespace gramrl::rlhf
