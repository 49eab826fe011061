#include "learner/rlhf/online_loop.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/checkpoint.h"
#include "common/checkpoint/file_io.h"
#include "common/collectives/collective.h"
#include "common/config/experiment_config.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/core/stop_request.h"
#include "common/metrics/jsonl_metrics.h"
#include "common/metrics/progress.h"
#include "common/metrics/tensorboard_writer.h"
#include "common/model/pretrained.h"
#include "common/model/transformer.h"
#include "common/rendezvous/rendezvous.h"
#include "common/tokenizer/tokenizer.h"
#include "common/tokenizer/tokenizer_source.h"
#include "common/transport/zmq_context.h"
#include "learner/engine/run_checkpoints.h"
#include "learner/rlhf/experience_server.h"
#include "learner/rlhf/online_algorithm.h"
#include "learner/rlhf/weight_publisher.h"

namespace gramrl {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
using Scalars = std::vector<std::pair<std::string, double>>;
constexpr char kLedgerFile[] = "ledger.json";

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
double unixTime() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

// Rank 0's trajectories to every rank: a header, then one coalesced broadcast of three tensors
// (metadata, tokens, floats: log-probs, rewards, gold scores, baselines).
// With `stop` (rank 0 was told to stop while it waited for the step, NOTE [Stop requests]) no
// trajectories go out and every rank returns nullopt.
std::optional<std::vector<Trajectory>> broadcastTrajectories(Collective& collective, std::vector<Trajectory> samples,
                                                             bool stop) {
  if (collective.worldSize() == 1) return stop ? std::nullopt : std::optional(std::move(samples));
  const bool root = collective.rank() == 0;
  at::Tensor header = torch::zeros({4}, torch::kInt64);
  if (root) {
    int64_t tokens = 0;
    int64_t responses = 0;
    for (const auto& t : samples) {
      tokens += static_cast<int64_t>(t.prompt.size() + t.response.size());
      responses += static_cast<int64_t>(t.response.size());
    }
    header = torch::tensor({static_cast<int64_t>(samples.size()), tokens, responses, int64_t{stop}}, torch::kInt64);
  }
  collective.broadcast({header}, 0);
  if (header[3].item<int64_t>() != 0) return std::nullopt;
  const int64_t n = header[0].item<int64_t>();
  const int64_t n_tokens = header[1].item<int64_t>();
  const int64_t n_resp = header[2].item<int64_t>();
  at::Tensor meta = torch::zeros({n, 7}, torch::kInt64);
  at::Tensor tokens = torch::zeros({n_tokens}, torch::kInt64);
  at::Tensor floats = torch::zeros({n_resp + 3 * n}, torch::kFloat);
  if (root) {
    auto m = meta.accessor<int64_t, 2>();
    auto tk = tokens.accessor<int64_t, 1>();
    auto fl = floats.accessor<float, 1>();
    int64_t a = 0;
    int64_t b = 0;
    for (int64_t i = 0; i < n; ++i) {
      const Trajectory& t = samples[static_cast<size_t>(i)];
      m[i][0] = static_cast<int64_t>(t.lease_id);
      m[i][1] = static_cast<int64_t>(t.prompt_id);
      m[i][2] = t.sample_index;
      m[i][3] = t.policy_version;
      m[i][4] = static_cast<int64_t>(t.prompt.size());
      m[i][5] = static_cast<int64_t>(t.response.size());
      m[i][6] = t.stopped ? 1 : 0;
      for (int32_t id : t.prompt) tk[a++] = id;
      for (int32_t id : t.response) tk[a++] = id;
      for (float v : t.behaviour_logprobs) fl[b++] = v;
      fl[n_resp + i] = t.reward;
      fl[n_resp + n + i] = t.gold;
      fl[n_resp + 2 * n + i] = t.baseline_reward;
    }
    collective.broadcast({meta, tokens, floats}, 0);
    return samples;
  }
  collective.broadcast({meta, tokens, floats}, 0);
  auto m = meta.accessor<int64_t, 2>();
  auto tk = tokens.accessor<int64_t, 1>();
  auto fl = floats.accessor<float, 1>();
  std::vector<Trajectory> out(static_cast<size_t>(n));
  int64_t a = 0;
  int64_t b = 0;
  for (int64_t i = 0; i < n; ++i) {
    Trajectory& t = out[static_cast<size_t>(i)];
    t.lease_id = static_cast<uint64_t>(m[i][0]);
    t.prompt_id = static_cast<uint64_t>(m[i][1]);
    t.sample_index = static_cast<uint32_t>(m[i][2]);
    t.policy_version = m[i][3];
    t.prompt.resize(static_cast<size_t>(m[i][4]));
    t.response.resize(static_cast<size_t>(m[i][5]));
    t.stopped = m[i][6] != 0;
    for (auto& id : t.prompt) id = static_cast<int32_t>(tk[a++]);
    for (auto& id : t.response) id = static_cast<int32_t>(tk[a++]);
    t.behaviour_logprobs.resize(t.response.size());
    for (auto& v : t.behaviour_logprobs) v = fl[b++];
    t.reward = fl[n_resp + i];
    t.gold = fl[n_resp + n + i];
    t.baseline_reward = fl[n_resp + 2 * n + i];
  }
  return out;
}

std::string runDir(const ExperimentConfig& config) {
  return (fs::path(config.experiment.output_dir) / config.experiment.name).string();
}

}  // namespace

int runOnlineLearner(const ExperimentConfig& config, Collective& collective, at::Device device,
                     const std::string& rendezvous) {
  const LearnerOptions& l = config.learner;
  const RolloutOptions& ro = config.rollout;
  const int rank = collective.rank();
  const int world = collective.worldSize();
  const bool root = rank == 0;
  const int64_t n = ro.samples_per_prompt;
  const int64_t prompts_per_step = l.global_batch_size / n;
  const int64_t mini_batches = l.algorithm == "ppo" ? l.ppo.mini_batches : 1;
  GRAMRL_CHECK(l.global_batch_size % n == 0 && prompts_per_step % (world * mini_batches) == 0, ConfigError,
               "learner.global_batch_size ({}) must be rollout.samples_per_prompt ({}) x a multiple of learner.ranks "
               "({}) x learner.ppo.mini_batches ({}, ppo only) prompts, so that each rank trains on whole groups",
               l.global_batch_size, n, world, mini_batches);
  const std::string run_dir = runDir(config);
  const auto seed = static_cast<uint64_t>(config.experiment.seed);
  const std::string algorithm = l.algorithm;
  installStopHandler();  // NOTE [Stop requests]: SIGTERM ends the run with a checkpoint

  // The policy (trained); the algorithm loads the reference and the critic it needs.
  const std::string tokenizer_spec = tokenizer::resolveTokenizerSpec(config.policy.model, config.policy.tokenizer);
  auto tok = tokenizer::loadTokenizer(tokenizer_spec);
  auto policy = loadPretrained(config.policy.model, torch::kFloat, device, PretrainedOptions{seed, false});
  rlhf::OnlineAlgorithm online(config, policy, tok->specialTokens().pad.value_or(0), device, collective.rank(), world,
                               &collective);
  TrainedModule& module = online.policyModule();

  // Resume.
  RunCheckpoints checkpoints((fs::path(run_dir) / "checkpoints").string(), l.checkpoint.keep_last);
  TrainerState state;
  state.algorithm = algorithm;
  state.world_size = world;
  state.seed = seed;
  rlhf::LedgerCounts counts;
  if (root) checkpoints.removeStaleStaging();
  std::optional<std::string> source = l.resume == "auto" ? checkpoints.latest() : std::nullopt;
  if (l.resume != "auto" && l.resume != "never") source = l.resume;
  {
    const double step = source ? static_cast<double>(readTrainerState(*source).step) + 1.0 : 0.0;
    const auto sums = collective.allreduceSum(std::vector<double>{step, step * step});
    GRAMRL_CHECK(sums[0] * sums[0] == world * sums[1], ConfigError,
                 "learner ranks disagree about the checkpoint to resume from; do all ranks see the same output_dir?");
  }
  if (source) {
    const TrainerState saved = readTrainerState(*source);
    GRAMRL_CHECK(saved.algorithm == algorithm, ConfigError,
                 "cannot resume {}: it was written by '{}' training, this run is '{}'", *source, saved.algorithm,
                 algorithm);
    const std::string model_dir = (fs::path(*source) / kModelSubdir).string();
    module.loadWeights(checkpoint::loadCheckpointDir(model_dir, {checkpoint::LoadMode::kRead}), model_dir);
    module.loadOptimizer(*source, kOptimizerFile);
    online.load(*source);
    state = saved;
    state.world_size = world;
    std::ifstream in(fs::path(*source) / kLedgerFile);
    std::stringstream text;
    text << in.rdbuf();
    counts = rlhf::ledgerCountsFromJson(text.str(), (fs::path(*source) / kLedgerFile).string());
    log::info("resumed from {} at step {}", *source, state.step);
  }
  log::setStep(state.step);
  log::setPolicyVersion(state.step);

  // Rank 0 serves the actors.
  std::unique_ptr<transport::ZmqContext> context;
  std::unique_ptr<rlhf::ExperienceServer> server;
  std::unique_ptr<Rendezvous> store;
  // With ZeRO-3 every rank takes part in gathering the weights; rank 0 publishes them.
  const auto initial_snapshot = [&]() -> std::shared_ptr<const rlhf::WeightSnapshot> {
    const auto weights = module.wholeParameters(root);
    return root ? rlhf::makeWeightSnapshot(weights, state.step) : nullptr;
  }();
  if (root) {
    context = std::make_unique<transport::ZmqContext>();
    rlhf::ExperienceServerOptions so;
    so.bind_host = config.launch.transport.bind_host;
    so.ledger = rlhf::LedgerOptions{prompts_per_step, l.total_steps, ro.max_staleness,
                                    std::chrono::milliseconds(ro.lease_timeout_s * 1000)};
    so.samples_per_prompt = n;
    so.receive_limits.max_message_bytes = static_cast<size_t>(config.launch.transport.max_message_mb) << 20;
    server = std::make_unique<rlhf::ExperienceServer>(*context, so, state.step, counts);
    server->publishWeights(initial_snapshot);
    GRAMRL_CHECK(!rendezvous.empty(), ConfigError,
                 "the RLHF learner needs a rendezvous store (run it with gramrl rlhf)");
    store = Rendezvous::connect(RendezvousAddress::parse(rendezvous),
                                std::chrono::seconds(config.launch.rendezvous.timeout_s));
    store->publish("learner", 0, "rollout", server->rolloutEndpoint());
    store->publish("learner", 0, "weights", server->weightsEndpoint());
    log::info("serving actors: leases on {}, weights on {}; {} prompts x {} samples per step, max staleness {}",
              server->rolloutEndpoint(), server->weightsEndpoint(), prompts_per_step, n, ro.max_staleness);
  }

  std::unique_ptr<metrics::JsonlMetricsWriter> jsonl;
  std::unique_ptr<metrics::TensorBoardWriter> tensorboard;
  std::unique_ptr<metrics::ProgressReporter> progress;
  if (root) {
    fs::create_directories(run_dir);
    jsonl = std::make_unique<metrics::JsonlMetricsWriter>(
        (fs::path(run_dir) / "metrics.jsonl").string(),
        state.step > 0 ? std::optional<int64_t>(state.step) : std::nullopt);
    if (l.tensorboard)
      tensorboard = std::make_unique<metrics::TensorBoardWriter>((fs::path(run_dir) / "tensorboard").string());
    metrics::ProgressOptions popt;
    popt.keys = {"reward/mean", "reward/gold", "kl/per_token", "rollout/staleness"};
    progress = std::make_unique<metrics::ProgressReporter>("rlhf", l.total_steps, state.step, popt);
  }

  int64_t trained_samples = 0;
  BatchTimes actor_times_before;  // rank 0: the server's totals at the previous step
  Scalars last;
  const auto t_run = Clock::now();
  double wait_total = 0.0;
  // NOTE [Stop requests]: the whole checkpoint, as every every_steps, at the step reached.
  int64_t saved_step = state.step;  // nothing new to save before the first step of this attempt
  auto save_checkpoint = [&] {
    if (saved_step == state.step) return;
    // NOTE [ZeRO-1 checkpoints]: ranks > 0 put their optimizer shards beside the staging directory.
    const std::string side_dir = optimizerShardSideDir(checkpoints.dir(), state.step);
    TrainedModule* critic = online.criticModule();
    const bool sharded = module.isSharded() || (critic != nullptr && critic->isSharded());
    if (sharded) {
      if (!root) {
        module.saveOptimizer(side_dir, kOptimizerFile);
        if (critic != nullptr) critic->saveOptimizer(side_dir, rlhf::kCriticOptimizerFile);
      }
      collective.barrier();
    }
    const auto policy_weights = module.wholeParameters(root);  // collectives with ZeRO-3
    online.gatherForSave();
    if (root) {
      const auto t0 = Clock::now();
      const std::string staging = checkpoints.beginSave(state.step);
      const std::string model_dir = (fs::path(staging) / kModelSubdir).string();
      savePretrained(*policy, policy_weights, model_dir);
      tokenizer::saveTokenizerReference(model_dir, tokenizer_spec);
      module.saveOptimizer(staging, kOptimizerFile);
      module.adoptOptimizerShards(side_dir, staging, kOptimizerFile);
      online.save(staging, side_dir);
      checkpoint::writeFileAtomically((fs::path(staging) / kTrainerStateFile).string(), state.toJson());
      checkpoint::writeFileAtomically((fs::path(staging) / kLedgerFile).string(),
                                      rlhf::toJson(server->checkpointCounts()));
      const std::string final_dir = checkpoints.commitSave(state.step, staging);
      if (sharded) fs::remove_all(side_dir);
      log::info("saved checkpoint {} in {:.2f} s", final_dir, secondsSince(t0));
      if (tensorboard) tensorboard->flush();
    }
    collective.barrier();
    saved_step = state.step;
  };
  bool stopped = false;
  while (state.step < l.total_steps) {
    const auto t_step = Clock::now();
    std::vector<Trajectory> samples;
    bool stop = false;
    if (root) {
      auto last_report = Clock::now();
      for (;;) {
        // Short waits, so that a stop request is seen within a second.
        auto got = server->waitForStep(state.step, transport::deadlineAfter(std::chrono::seconds(1)));
        if (got) {
          samples = std::move(*got);
          break;
        }
        if (stopRequested()) {
          stop = true;
          break;
        }
        if (secondsSince(last_report) < 30.0) continue;
        last_report = Clock::now();
        const auto s = server->stats();
        log::info("waiting for the actors: step {} ({} prompts completed, {} leases out)", state.step,
                  s.ledger.completed, s.ledger.leased - s.ledger.completed - s.ledger.expired);
      }
      GRAMRL_ASSERT(stop || static_cast<int64_t>(samples.size()) == l.global_batch_size, "step {} has {} samples",
                    state.step, samples.size());
    }
    const double wait_s = secondsSince(t_step);
    wait_total += wait_s;
    auto broadcast = broadcastTrajectories(collective, std::move(samples), stop);
    if (!broadcast) {
      stopped = true;
      break;
    }
    samples = std::move(*broadcast);
    const rlhf::StepReport report = online.step(samples, state.step, collective);
    const UpdateResult& update = report.policy;
    std::vector<MetricSum> exp_metrics = report.experience;
    ++state.step;
    ++state.policy_version;
    state.samples_seen += l.global_batch_size;
    state.tokens_seen += static_cast<int64_t>(update.tokens);
    trained_samples += l.global_batch_size;
    log::setStep(state.step);
    log::setPolicyVersion(state.step);

    const auto t_pub = Clock::now();
    {
      auto weights = module.wholeParameters(root);  // with ZeRO-3 every rank takes part in the gathers
      if (root) server->publishWeights(rlhf::makeWeightSnapshot(weights, state.step));
    }
    const double publish_s = secondsSince(t_pub);

    std::vector<double> reduce;
    for (const auto& m : exp_metrics) {
      reduce.push_back(m.sum);
      reduce.push_back(m.count);
    }
    reduce.push_back(stopRequested() ? 1.0 : 0.0);  // any rank's stop request stops every rank after this step
    reduce = collective.allreduceSum(std::move(reduce));
    stopped = reduce.back() > 0.0;
    Scalars scalars{{"loss", update.loss}, {"lr", update.lr}, {"grad_norm", update.grad_norm}};
    double reward_mean = 0.0;
    for (size_t i = 0; i < exp_metrics.size(); ++i) {
      const double count = reduce[2 * i + 1];
      const double value = count > 0 ? reduce[2 * i] / count : std::numeric_limits<double>::quiet_NaN();
      if (exp_metrics[i].name == "reward/mean") reward_mean = value;
      if (exp_metrics[i].name == "reward/square") {
        scalars.emplace_back("reward/std", std::sqrt(std::max(0.0, value - reward_mean * reward_mean)));
      } else {
        scalars.emplace_back(exp_metrics[i].name, value);
      }
    }
    scalars.insert(scalars.end(), report.metrics.begin(), report.metrics.end());
    const double step_s = secondsSince(t_step);
    scalars.emplace_back("perf/samples_per_s", static_cast<double>(l.global_batch_size) / step_s);
    scalars.emplace_back("perf/tokens_per_s", update.tokens / step_s);
    scalars.emplace_back("time/step_s", step_s);
    scalars.emplace_back("time/wait_s", wait_s);
    scalars.emplace_back("time/experience_s", report.experience_s);
    scalars.emplace_back("time/policy_update_s", report.policy_update_s);
    scalars.emplace_back("time/critic_update_s", report.critic_update_s);
    if (root) {
      // Actor-seconds by phase since the previous step (summed over actors; they run in parallel
      // with the learner, so these are not shares of the step's wall time).
      const BatchTimes totals = server->stats().actor_times;
      scalars.emplace_back("time/actor_generation_s", totals.generation_s - actor_times_before.generation_s);
      scalars.emplace_back("time/actor_reward_s", totals.reward_s - actor_times_before.reward_s);
      scalars.emplace_back("time/actor_weights_s", totals.weights_s - actor_times_before.weights_s);
      actor_times_before = totals;
    }
    scalars.emplace_back("time/update_s", report.policy_update_s + report.critic_update_s);
    scalars.emplace_back("time/allreduce_s", update.allreduce_s);
    scalars.emplace_back("time/weight_publish_s", publish_s);
    scalars.emplace_back("time/wait_fraction", wait_s / step_s);
    last = scalars;
    if (root) {
      const double now = unixTime();
      jsonl->write(state.step, now, scalars);
      if (tensorboard) tensorboard->addScalars(state.step, now, scalars);
      progress->update(state.step, scalars);
    }
    const bool last_step = state.step == l.total_steps;
    if ((l.checkpoint.every_steps > 0 && state.step % l.checkpoint.every_steps == 0) || last_step) save_checkpoint();
    if (stopped && !last_step) break;
    stopped = false;
  }
  if (progress) progress->finish();
  if (stopped) {
    save_checkpoint();
    if (root) {
      log::info(
          "stopped on request at step {} of {}; the checkpoint of step {} is in {}: run the same command again to "
          "resume",
          state.step, l.total_steps, state.step, (fs::path(run_dir) / "checkpoints").string());
      server->stop();
    }
    return 0;
  }

  if (root) {
    server->finish();
    const rlhf::ExperienceStats s = server->stats();
    const rlhf::LedgerCounts c = server->checkpointCounts();
    nlohmann::json summary;
    summary["steps"] = state.step;
    summary["prompts_per_step"] = prompts_per_step;
    summary["samples_per_prompt"] = n;
    summary["ledger"] = nlohmann::json::parse(rlhf::toJson(c));
    summary["prompts_expected"] = state.step * prompts_per_step;
    summary["prompts_lost"] = state.step * prompts_per_step - c.completed;
    summary["trajectories_received_this_attempt"] = s.trajectories_received;
    summary["trajectories_trained_this_attempt"] = trained_samples;
    summary["weight_fetches"] = s.weight_fetches;
    summary["bad_messages"] = s.bad_messages;
    summary["wall_s"] = secondsSince(t_run);
    summary["wait_s"] = wait_total;
    nlohmann::json final_metrics;
    for (const auto& [k, v] : last) final_metrics[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
    summary["final_metrics"] = final_metrics;
    checkpoint::writeFileAtomically((fs::path(run_dir) / "summary.json").string(), summary.dump(2) + "\n");
    log::info("done: step {}; {} prompts completed, {} re-leased, {} duplicates dropped, {} lost; summary in {}",
              state.step, c.completed, c.re_leased, c.duplicates, state.step * prompts_per_step - c.completed,
              (fs::path(run_dir) / "summary.json").string());
    // Let the actors hear that the run is finished before the service goes away.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(2000, 4 * ro.lease_timeout_s * 1000)));
    server->stop();
  }
  collective.barrier();
  return 0;
}

}  // namespace gramrl
