#include "learner/rlhf/online_algorithm.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/checkpoint.h"
#include "common/checkpoint/file_io.h"
#include "common/collectives/collective.h"
#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/model/pretrained.h"
#include "common/model/transformer.h"
#include "learner/engine/optimizer.h"
#include "learner/engine/run_checkpoints.h"

namespace gramrl {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

constexpr char kCriticSubdir[] = "critic";
constexpr char kOnlineStateFile[] = "online_state.json";

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  GRAMRL_CHECK(in, DataError, "cannot read {}: the checkpoint is incomplete", path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Consecutive chunks of `indices` of at most `size`.
std::vector<std::vector<int64_t>> chunks(const std::vector<int64_t>& indices, int64_t size) {
  std::vector<std::vector<int64_t>> out;
  for (size_t i = 0; i < indices.size(); i += static_cast<size_t>(size)) {
    out.emplace_back(indices.begin() + static_cast<std::ptrdiff_t>(i),
                     indices.begin() + static_cast<std::ptrdiff_t>(std::min(indices.size(), i + size)));
  }
  return out;
}

std::vector<int64_t> range(int64_t begin, int64_t end) {
  std::vector<int64_t> out;
  for (int64_t i = begin; i < end; ++i) out.push_back(i);
  return out;
}

// Adds `update`'s metrics to the running sums (by position: the names are fixed per objective).
void accumulate(std::vector<std::pair<std::string, double>>& sums, const UpdateResult& update) {
  if (sums.empty()) {
    sums = update.metrics;
    return;
  }
  for (size_t i = 0; i < sums.size(); ++i) sums[i].second += update.metrics[i].second;
}

}  // namespace

TrainedModuleOptions policyModuleOptions(const LearnerOptions& l) {
  TrainedModuleOptions o;
  o.schedule = LrScheduleOptions{l.lr, l.schedule, l.warmup_ratio, l.min_lr_ratio, l.total_steps};
  o.adamw = AdamWSettings{l.lr, l.adam_beta1, l.adam_beta2, l.adam_eps, l.weight_decay};
  o.max_grad_norm = l.max_grad_norm;
  o.freeze = l.freeze;
  o.precision = l.precision == "auto" ? "bf16" : l.precision;  // autocast only engages on CUDA
  o.activation_checkpointing = l.activation_checkpointing;
  o.zero_stage = l.zero_stage;
  return o;
}

namespace rlhf {

ExperienceSettings experienceSettings(const ExperimentConfig& config, int64_t pad_id) {
  const LearnerOptions& l = config.learner;
  ExperienceSettings s;
  s.algorithm = parseOnlineAlgorithm(l.algorithm);
  s.group_size = config.rollout.samples_per_prompt;
  s.temperature = config.rollout.temperature > 0 ? config.rollout.temperature : 1.0;
  s.batch_rows = l.micro_batch_size;
  s.pad_id = pad_id;
  s.importance_cap = l.grpo.importance_cap;
  s.kl_estimator = parseKlEstimator(l.grpo.kl_estimator);
  s.kl_in_reward = l.grpo.kl_in == "reward";
  s.scale_by_std = l.grpo.scale_by_std;
  switch (s.algorithm) {
    case Algorithm::kPpo:
      s.kl_estimator = parseKlEstimator(l.ppo.kl_estimator);
      s.kl_in_reward = true;
      s.gamma = l.ppo.gamma;
      s.lambda = l.ppo.lambda;
      s.whiten = l.ppo.whiten_advantages;
      break;
    case Algorithm::kReinforcePp:
      s.kl_in_reward = true;
      s.gamma = 1.0;
      break;
    case Algorithm::kOnlineDpo:
      s.temperature = 1.0;  // DPO's log-probs are the policy's own, not the sampling distribution's
      break;
    default: break;
  }
  return s;
}

PolicyLossSettings policyLossSettings(const ExperimentConfig& config, int64_t pad_id) {
  const LearnerOptions& l = config.learner;
  const Algorithm a = parseOnlineAlgorithm(l.algorithm);
  PolicyLossSettings s;
  s.pad_id = pad_id;
  s.temperature = config.rollout.temperature > 0 ? config.rollout.temperature : 1.0;
  s.max_new_tokens = config.policy.max_new_tokens;
  if (a == Algorithm::kPpo) {
    s.clip = l.ppo.clip;
    s.kl_coef = 0.0;  // in the per-token rewards
    s.entropy_coef = l.ppo.entropy_coef;
    return s;
  }
  s.clip = l.grpo.clip;
  s.kl_estimator = parseKlEstimator(l.grpo.kl_estimator);
  s.kl_coef = (a == Algorithm::kReinforcePp || l.grpo.kl_in == "reward") ? 0.0 : l.grpo.kl_coef;
  s.aggregation = parseLossAggregation(l.grpo.loss_aggregation);
  s.entropy_coef = l.grpo.entropy_coef;
  return s;
}

OnlineAlgorithm::OnlineAlgorithm(const ExperimentConfig& config, std::shared_ptr<Transformer> policy, int64_t pad_id,
                                 at::Device device, int rank, int world_size, Collective* collective)
    : prompts_per_step_(config.learner.global_batch_size / config.rollout.samples_per_prompt),
      mini_batches_(config.learner.algorithm == "ppo" ? config.learner.ppo.mini_batches : 1),
      micro_batch_size_(config.learner.micro_batch_size),
      epochs_(config.learner.algorithm == "ppo" ? config.learner.ppo.epochs : 1),
      early_stop_kl_(config.learner.ppo.early_stop_kl),
      shaping_{config.learner.reward_shaping.clip, config.learner.reward_shaping.normalize},
      kl_(config.learner.algorithm == "ppo" ? config.learner.ppo.kl_coef : config.learner.grpo.kl_coef,
          config.learner.algorithm == "ppo" ? config.learner.ppo.kl_target : 0.0, config.learner.ppo.kl_horizon),
      settings_(experienceSettings(config, pad_id)),
      policy_(std::move(policy)) {
  const LearnerOptions& l = config.learner;
  const auto seed = static_cast<uint64_t>(config.experiment.seed);
  const Algorithm a = settings_.algorithm;
  const bool ppo = a == Algorithm::kPpo;
  const bool dpo = a == Algorithm::kOnlineDpo;
  const bool needs_reference = dpo || kl_.coef() > 0 || (ppo && l.ppo.kl_target > 0);
  if (needs_reference) {
    const std::string source = dpo && !l.dpo.reference_model.empty() ? l.dpo.reference_model : config.policy.model;
    reference_ = loadPretrained(source, torch::kFloat, device, PretrainedOptions{seed, false});
    for (auto& p : reference_->parameters()) p.set_requires_grad(false);
    reference_->eval();
    if (l.zero_stage == 3 && world_size > 1) {
      GRAMRL_ASSERT(collective != nullptr, "ZeRO-3 needs the learner's collective");
      shardFrozenModel(*reference_, l.zero_stage, *collective);
    }
  }
  policy_module_ =
      std::make_unique<TrainedModule>("policy", policy_, policyModuleOptions(l), rank, world_size, collective);
  if (ppo) {
    const std::string source = l.ppo.critic_model.empty() ? config.policy.model : l.ppo.critic_model;
    try {
      critic_ = loadPretrained(source, torch::kFloat, device, PretrainedOptions{seed, true});
    } catch (const DataError& e) {
      throw DataError(fmt::format("learner.ppo.critic_model (empty: policy.model) {}: {}", source, e.what()));
    }
    GRAMRL_CHECK(critic_->config().vocab_size == policy_->config().vocab_size, ConfigError,
                 "learner.ppo.critic_model {} has a vocabulary of {} tokens, the policy {}: the critic reads the "
                 "policy's token ids",
                 source, critic_->config().vocab_size, policy_->config().vocab_size);
    TrainedModuleOptions critic_options = policyModuleOptions(l);
    // The critic reads values off its value head: its lm_head (absent when tied) is never used, so
    // it is frozen rather than given gradients and AdamW moments (12 bytes per parameter).
    critic_options.freeze.clear();
    if (!critic_->config().tie_word_embeddings) critic_options.freeze.push_back("lm_head.weight");
    if (l.ppo.critic_lr > 0) {
      critic_options.schedule.peak_lr = l.ppo.critic_lr;
      critic_options.adamw.lr = l.ppo.critic_lr;
    }
    critic_module_ = std::make_unique<TrainedModule>("critic", critic_, critic_options, rank, world_size, collective);
    value_objective_ = std::make_unique<ValueObjective>(critic_, l.ppo.value_clip, pad_id);
  }
  maker_ = std::make_unique<ExperienceMaker>(policy_, reference_, critic_, settings_);
  if (dpo) {
    DpoLossOptions options{l.dpo.loss, l.dpo.beta, l.dpo.label_smoothing};
    dpo_objective_ = std::make_unique<OnlineDpoObjective>(policy_, options, settings_.group_size, pad_id);
  } else {
    policy_objective_ = std::make_unique<PolicyObjective>(policy_, reference_, policyLossSettings(config, pad_id));
  }
}

OnlineAlgorithm::~OnlineAlgorithm() = default;

StepReport OnlineAlgorithm::step(const std::vector<Trajectory>& samples, int64_t step, Collective& collective) {
  const int64_t n = settings_.group_size;
  GRAMRL_ASSERT(static_cast<int64_t>(samples.size()) == prompts_per_step_ * n, "step {} has {} samples", step,
                samples.size());
  StepReport report;
  report.kl_coef = kl_.coef();

  // Shaping sees the whole global batch, in order, on every rank (NOTE [Reward shaping]).
  std::vector<double> raw(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) raw[i] = samples[i].reward;
  const std::vector<double> scores = shapeRewards(raw, shaping_, moments_);
  std::vector<double> baselines;
  if (settings_.algorithm == Algorithm::kRemax) {
    std::vector<double> raw_baselines(samples.size());
    for (size_t i = 0; i < samples.size(); ++i) {
      GRAMRL_CHECK(std::isfinite(samples[i].baseline_reward), ProtocolError,
                   "remax: prompt {} sample {} came without its greedy response's reward (the actor must run with "
                   "learner.algorithm: remax)",
                   samples[i].prompt_id, samples[i].sample_index);
      raw_baselines[i] = samples[i].baseline_reward;
    }
    baselines = shapeWithoutUpdate(raw_baselines, shaping_, moments_);
  }

  const std::vector<int64_t> local =
      localSampleIndices(prompts_per_step_, n, mini_batches_, collective.rank(), collective.worldSize());
  std::vector<Trajectory> mine;
  std::vector<double> my_scores;
  std::vector<double> my_baselines;
  for (int64_t i : local) {
    mine.push_back(samples[static_cast<size_t>(i)]);
    my_scores.push_back(scores[static_cast<size_t>(i)]);
    if (!baselines.empty()) my_baselines.push_back(baselines[static_cast<size_t>(i)]);
  }
  const auto t_exp = Clock::now();
  experience_ =
      maker_->make(std::move(mine), std::move(my_scores), std::move(my_baselines), step, kl_.coef(), collective);
  report.experience_s = secondsSince(t_exp);
  report.experience = maker_->metrics(experience_);

  policy_->train();
  const auto local_n = static_cast<int64_t>(experience_.samples.size());
  std::vector<std::pair<std::string, double>> sums;
  auto addUpdate = [&](const UpdateResult& u) {
    accumulate(sums, u);
    report.policy.loss += u.loss;
    report.policy.lr = u.lr;
    report.policy.grad_norm = u.grad_norm;
    report.policy.tokens += u.tokens;
    report.policy.forward_backward_s += u.forward_backward_s;
    report.policy.allreduce_s += u.allreduce_s;
    report.policy.optimizer_s += u.optimizer_s;
  };
  if (dpo_objective_) {
    dpo_objective_->setExperience(&experience_);
    const std::vector<int64_t> groups = range(0, dpo_objective_->size());
    const double pairs = collective.allreduceSum(std::vector<double>{dpo_objective_->normaliser(groups)})[0];
    if (pairs > 0) {
      const auto t0 = Clock::now();
      addUpdate(runUpdate(*policy_module_, *dpo_objective_, collective,
                          chunks(groups, std::max<int64_t>(1, micro_batch_size_ / 2)), step));
      report.policy_update_s = secondsSince(t0);
      report.updates = 1;
    } else {
      log::info("step {}: every prompt's samples scored the same; no DPO pair, the policy stays", step);
    }
  } else {
    policy_objective_->setExperience(&experience_);
    if (value_objective_) value_objective_->setExperience(&experience_);
    const int64_t per_mini = local_n / mini_batches_;
    std::vector<std::pair<std::string, double>> critic_sums;
    double value_loss = 0.0;
    int64_t critic_updates = 0;
    for (int64_t epoch = 0; epoch < epochs_ && !report.stopped_early; ++epoch) {
      for (int64_t m = 0; m < mini_batches_; ++m) {
        const auto micro = chunks(range(m * per_mini, (m + 1) * per_mini), micro_batch_size_);
        const auto t0 = Clock::now();
        const UpdateResult u = runUpdate(*policy_module_, *policy_objective_, collective, micro, step);
        report.policy_update_s += secondsSince(t0);
        addUpdate(u);
        ++report.updates;
        if (critic_module_) {
          critic_->train();
          const auto t1 = Clock::now();
          const UpdateResult c = runUpdate(*critic_module_, *value_objective_, collective, micro, step);
          report.critic_update_s += secondsSince(t1);
          accumulate(critic_sums, c);
          value_loss += c.loss;
          ++critic_updates;
        }
        double approx_kl = 0.0;
        for (const auto& [name, value] : u.metrics) {
          if (name == "policy/approx_kl") approx_kl = value;
        }
        if (early_stop_kl_ > 0 && approx_kl > early_stop_kl_) {
          report.stopped_early = true;
          break;
        }
      }
    }
    if (critic_updates > 0) {
      for (auto& [name, value] : critic_sums) value /= static_cast<double>(critic_updates);
      critic_sums.emplace_back("value/loss", value_loss / static_cast<double>(critic_updates));
      report.metrics = std::move(critic_sums);
    }
  }
  if (report.updates > 0) {
    for (auto& [name, value] : sums) value /= static_cast<double>(report.updates);
    report.policy.loss /= static_cast<double>(report.updates);
  }
  report.metrics.insert(report.metrics.begin(), sums.begin(), sums.end());
  report.metrics.emplace_back("policy/updates", static_cast<double>(report.updates));
  report.metrics.emplace_back("kl/coef", report.kl_coef);

  if (settings_.algorithm == Algorithm::kPpo) {
    // The adaptive coefficient follows the global mean KL per sequence.
    double kl_sum = 0.0;
    for (double k : experience_.kl) kl_sum += k;
    const auto g =
        collective.allreduceSum(std::vector<double>{kl_sum, static_cast<double>(experience_.samples.size())});
    kl_.update(g[1] > 0 ? g[0] / g[1] : 0.0, static_cast<int64_t>(g[1]));
  }
  return report;
}

void OnlineAlgorithm::gatherForSave() {
  if (critic_module_) critic_weights_ = critic_module_->wholeParameters(critic_module_->rank() == 0);
}

void OnlineAlgorithm::save(const std::string& dir, const std::string& shard_side_dir) {
  if (critic_module_) {
    GRAMRL_ASSERT(!critic_weights_.empty(), "OnlineAlgorithm::save without gatherForSave");
    savePretrained(*critic_, critic_weights_, (fs::path(dir) / kCriticSubdir).string());
    critic_weights_.clear();
    critic_module_->saveOptimizer(dir, kCriticOptimizerFile);
    critic_module_->adoptOptimizerShards(shard_side_dir, dir, kCriticOptimizerFile);
  }
  nlohmann::json j;
  j["algorithm"] = algorithmName(settings_.algorithm);
  j["kl_coef"] = kl_.coef();
  j["reward_moments"] = nlohmann::json::parse(moments_.toJson());
  checkpoint::writeFileAtomically((fs::path(dir) / kOnlineStateFile).string(), j.dump(2) + "\n");
}

void OnlineAlgorithm::load(const std::string& dir) {
  const fs::path state_path = fs::path(dir) / kOnlineStateFile;
  if (fs::exists(state_path)) {
    try {
      const auto j = nlohmann::json::parse(readFile(state_path));
      kl_.setCoef(j.at("kl_coef").get<double>());
      moments_ = RunningMoments::fromJson(j.at("reward_moments").dump(), state_path.string());
    } catch (const nlohmann::json::exception& e) {
      throw DataError(fmt::format("{}: not the online state gramrl writes ({})", state_path.string(), e.what()));
    }
  }
  if (critic_module_) {
    const std::string critic_dir = (fs::path(dir) / kCriticSubdir).string();
    GRAMRL_CHECK(fs::exists(critic_dir), DataError,
                 "{} has no critic/: it was not written by a ppo run, so PPO cannot resume from it", dir);
    critic_module_->loadWeights(checkpoint::loadCheckpointDir(critic_dir, {checkpoint::LoadMode::kRead}), critic_dir);
    critic_module_->loadOptimizer(dir, kCriticOptimizerFile);
  }
}

}  // namespace rlhf
}  // namespace gramrl
