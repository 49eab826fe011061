#include "learner/engine/trainer.h"

#include <chrono>
#include <filesystem>
#include <limits>
#include <utility>

#include <torch/torch.h>

#include "common/checkpoint/checkpoint.h"
#include "common/checkpoint/file_io.h"
#include "common/collectives/collective.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/metrics/jsonl_metrics.h"
#include "common/metrics/progress.h"
#include "common/metrics/tensorboard_writer.h"
#include "common/model/pretrained.h"
#include "common/model/transformer.h"
#include "common/tokenizer/tokenizer_source.h"
#include "learner/engine/update_step.h"

namespace gramrl {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
using Scalars = std::vector<std::pair<std::string, double>>;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double unixTime() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

}  // namespace

struct Trainer::Impl {
  TrainerOptions opt;
  std::shared_ptr<Transformer> model;
  Objective& objective;
  Collective& collective;
  std::unique_ptr<TrainedModule> module;
  RunCheckpoints checkpoints;
  TrainerState state;
  std::unique_ptr<EpochSampler> sampler;
  std::unique_ptr<metrics::JsonlMetricsWriter> jsonl;
  std::unique_ptr<metrics::TensorBoardWriter> tensorboard;
  std::unique_ptr<metrics::ProgressReporter> progress;

  Impl(TrainerOptions o, std::shared_ptr<Transformer> m, Objective& obj, Collective& c)
      : opt(std::move(o)),
        model(std::move(m)),
        objective(obj),
        collective(c),
        checkpoints((fs::path(opt.run_dir) / "checkpoints").string(), opt.keep_last) {}

  bool isRoot() const { return collective.rank() == 0; }

  void checkOptions() const {
    const int64_t world = collective.worldSize();
    GRAMRL_CHECK(opt.micro_batch_size >= 1 && opt.global_batch_size % (opt.micro_batch_size * world) == 0, ConfigError,
                 "learner.global_batch_size: expected a multiple of micro_batch_size * ranks ({} * {}), got {}",
                 opt.micro_batch_size, world, opt.global_batch_size);
    GRAMRL_CHECK(opt.total_steps >= 1, ConfigError, "learner.total_steps: expected >= 1, got {}", opt.total_steps);
  }

  // NOTE [Choosing the checkpoint to resume]: every rank picks independently from the same run
  // directory, then one allreduce checks that they agree (a rank on a node that does not see
  // the shared file system would otherwise silently start from scratch).
  std::optional<std::string> resumeSource() {
    std::optional<std::string> source;
    if (opt.resume == "auto") {
      source = checkpoints.latest();
    } else if (opt.resume == "never") {
      GRAMRL_CHECK(checkpoints.list().empty(), ConfigError,
                   "learner.resume is 'never' but {} holds checkpoints of an earlier run; set learner.resume=auto "
                   "to continue it, or choose another experiment.name / output_dir",
                   checkpoints.dir());
    } else {
      GRAMRL_CHECK(fs::is_regular_file(fs::path(opt.resume) / kTrainerStateFile), ConfigError,
                   "learner.resume: {} is not a checkpoint directory (no {})", opt.resume, kTrainerStateFile);
      source = opt.resume;
    }
    const double step = source ? static_cast<double>(readTrainerState(*source).step) + 1.0 : 0.0;
    const auto sums = collective.allreduceSum(std::vector<double>{step, step * step});
    const double world = collective.worldSize();
    GRAMRL_CHECK(sums[0] * sums[0] == world * sums[1], ConfigError,
                 "learner ranks disagree about the checkpoint to resume from (this rank: {}); do all ranks see "
                 "the same output_dir?",
                 source ? *source : std::string("none"));
    return source;
  }

  void resumeFrom(const std::string& dir) {
    TrainerState saved = readTrainerState(dir);
    GRAMRL_CHECK(saved.algorithm == objective.name(), ConfigError,
                 "cannot resume {}: it was written by '{}' training, this run is '{}'", dir, saved.algorithm,
                 objective.name());
    GRAMRL_CHECK(saved.dataset_size == objective.size(), DataError,
                 "cannot resume {}: it was trained on {} examples, the data now has {}; the data changed since the "
                 "checkpoint (resume with the same files, or start a new run)",
                 dir, saved.dataset_size, objective.size());
    const std::string model_dir = (fs::path(dir) / kModelSubdir).string();
    loadStateDict(*model, checkpoint::loadCheckpointDir(model_dir, {checkpoint::LoadMode::kRead}), model_dir);
    module->loadOptimizer(dir, kOptimizerFile);
    if (saved.world_size != collective.worldSize()) {
      log::warn("resuming a {}-rank checkpoint on {} ranks: the global batch and data order are unchanged",
                saved.world_size, collective.worldSize());
    }
    state = saved;
    state.world_size = collective.worldSize();
    log::info("resumed from {} at step {}", dir, state.step);
  }

  void setup() {
    checkOptions();
    TrainedModuleOptions mopt;
    mopt.schedule = opt.schedule;
    mopt.adamw = AdamWSettings{opt.schedule.peak_lr, opt.adam_beta1, opt.adam_beta2, opt.adam_eps, opt.weight_decay};
    mopt.max_grad_norm = opt.max_grad_norm;
    mopt.freeze = opt.freeze;
    mopt.precision = opt.precision;
    mopt.activation_checkpointing = opt.activation_checkpointing;
    mopt.zero_stage = opt.zero_stage;
    // ZeRO-3 makes every forward a collective; the offline evaluations split their examples
    // unevenly over the ranks, so only the online loop, whose ranks take equal shares, runs it.
    GRAMRL_CHECK(opt.zero_stage != 3, ConfigError,
                 "learner.zero_stage 3 is for gramrl rlhf; the offline trainers (sft, dpo, gram) take 0 or 1 "
                 "(set learner.zero_stage=1)");
    module = std::make_unique<TrainedModule>("policy", model, mopt, collective.rank(), collective.worldSize());
    state.algorithm = objective.name();
    state.world_size = collective.worldSize();
    state.seed = opt.seed;
    state.dataset_size = objective.size();
    if (isRoot()) checkpoints.removeStaleStaging();
    if (auto source = resumeSource()) resumeFrom(*source);
    sampler = std::make_unique<EpochSampler>(objective.size(), opt.seed, state.cursor);
    if (isRoot()) {
      const bool resumed = state.step > 0;
      std::error_code ec;
      fs::create_directories(opt.run_dir, ec);
      GRAMRL_CHECK(!ec, SystemError, "cannot create run directory {}: {}", opt.run_dir, ec.message());
      jsonl =
          std::make_unique<metrics::JsonlMetricsWriter>((fs::path(opt.run_dir) / "metrics.jsonl").string(),
                                                        resumed ? std::optional<int64_t>(state.step) : std::nullopt);
      if (opt.tensorboard) {
        tensorboard = std::make_unique<metrics::TensorBoardWriter>((fs::path(opt.run_dir) / "tensorboard").string());
      }
    }
    objective.prepare(collective);
    if (isRoot()) {  // after prepare(), so its time does not count against the step rate
      metrics::ProgressOptions popt;
      popt.log_interval_s = opt.progress_log_interval_s;
      popt.keys = {"loss", "lr", "grad_norm"};
      progress = std::make_unique<metrics::ProgressReporter>(opt.label, opt.total_steps, state.step, popt);
    }
  }

  // One optimiser update (update_step.h). Returns the step's scalars (identical on every rank).
  Scalars step() {
    const auto t_step = Clock::now();
    const int64_t world = collective.worldSize();
    const int64_t per_rank = opt.global_batch_size / world;

    objective.startStep(state.step);
    const std::vector<int64_t> global = sampler->next(opt.global_batch_size);
    const auto first = global.begin() + collective.rank() * per_rank;
    std::vector<std::vector<int64_t>> micro;
    for (int64_t i = 0; i < per_rank; i += opt.micro_batch_size) {
      micro.emplace_back(first + i, first + i + opt.micro_batch_size);
    }
    const UpdateResult update = runUpdate(*module, objective, collective, micro, state.step);

    ++state.step;
    ++state.policy_version;
    state.cursor = sampler->cursor();
    state.samples_seen += opt.global_batch_size;
    state.tokens_seen += static_cast<int64_t>(update.tokens);
    log::setStep(state.step);
    log::setPolicyVersion(state.policy_version);

    const double step_s = secondsSince(t_step);
    Scalars scalars{{"loss", update.loss}, {"lr", update.lr}, {"grad_norm", update.grad_norm}};
    scalars.insert(scalars.end(), update.metrics.begin(), update.metrics.end());
    scalars.emplace_back("perf/tokens_per_s", update.tokens / step_s);
    scalars.emplace_back("time/step_s", step_s);
    scalars.emplace_back("time/forward_backward_s", update.forward_backward_s);
    scalars.emplace_back("time/allreduce_s", update.allreduce_s);
    scalars.emplace_back("time/optimizer_s", update.optimizer_s);
    scalars.emplace_back("time/allreduce_fraction", update.allreduce_s / step_s);
    return scalars;
  }

  Scalars evaluate() {
    torch::NoGradGuard no_grad;
    std::vector<MetricSum> sums = objective.evaluate(collective.rank(), collective.worldSize());
    std::vector<double> reduce;
    for (const auto& m : sums) {
      reduce.push_back(m.sum);
      reduce.push_back(m.count);
    }
    // Every rank has the same metric names (possibly with zero counts), so this is safe.
    if (!reduce.empty()) reduce = collective.allreduceSum(std::move(reduce));
    Scalars out;
    for (size_t i = 0; i < sums.size(); ++i) {
      const double count = reduce[2 * i + 1];
      out.emplace_back("eval/" + sums[i].name,
                       count > 0 ? reduce[2 * i] / count : std::numeric_limits<double>::quiet_NaN());
    }
    return out;
  }

  void saveCheckpoint() {
    const auto t0 = Clock::now();
    // NOTE [ZeRO-1 checkpoints]: the other ranks' optimizer shards first, into the side directory.
    const std::string side_dir = optimizerShardSideDir(checkpoints.dir(), state.step);
    if (module->isSharded()) {
      if (!isRoot()) module->saveOptimizer(side_dir, kOptimizerFile);
      collective.barrier();
    }
    if (isRoot()) {
      const std::string staging = checkpoints.beginSave(state.step);
      const std::string model_dir = (fs::path(staging) / kModelSubdir).string();
      savePretrained(*model, model_dir);
      if (!opt.tokenizer_spec.empty()) tokenizer::saveTokenizerReference(model_dir, opt.tokenizer_spec);
      module->saveOptimizer(staging, kOptimizerFile);
      module->adoptOptimizerShards(side_dir, staging, kOptimizerFile);
      checkpoint::writeFileAtomically((fs::path(staging) / kTrainerStateFile).string(), state.toJson());
      const std::string final_dir = checkpoints.commitSave(state.step, staging);
      if (module->isSharded()) fs::remove_all(side_dir);
      log::info("saved checkpoint {} in {:.2f} s", final_dir, secondsSince(t0));
    }
    collective.barrier();  // nobody runs ahead of a save that may fail
  }

  void record(const Scalars& scalars) {
    if (!isRoot()) return;
    const double now = unixTime();
    jsonl->write(state.step, now, scalars);
    if (tensorboard) tensorboard->addScalars(state.step, now, scalars);
  }

  TrainerState run() {
    setup();
    if (state.step >= opt.total_steps) {
      log::info("nothing to do: the run is already at step {} of {}", state.step, opt.total_steps);
      return state;
    }
    while (state.step < opt.total_steps) {
      Scalars scalars = step();
      const bool last = state.step == opt.total_steps;
      if ((opt.eval_every > 0 && state.step % opt.eval_every == 0) || last) {
        const auto t_eval = Clock::now();
        Scalars eval = evaluate();
        if (!eval.empty()) eval.emplace_back("time/eval_s", secondsSince(t_eval));
        scalars.insert(scalars.end(), eval.begin(), eval.end());
      }
      if (last || opt.log_every <= 1 || state.step % opt.log_every == 0) record(scalars);
      if (progress) progress->update(state.step, scalars);
      if ((opt.checkpoint_every > 0 && state.step % opt.checkpoint_every == 0) || last) {
        saveCheckpoint();
        if (isRoot() && tensorboard) tensorboard->flush();
      }
      if (opt.stop_after && opt.stop_after(state)) {
        log::info("stopping at step {} as asked", state.step);
        break;
      }
    }
    if (progress) progress->finish();
    return state;
  }
};

Trainer::Trainer(TrainerOptions options, std::shared_ptr<Transformer> model, Objective& objective,
                 Collective& collective) {
  options.schedule.total_steps = options.total_steps;
  impl_ = std::make_unique<Impl>(std::move(options), std::move(model), objective, collective);
}

Trainer::~Trainer() = default;

TrainerState Trainer::run() { return impl_->run(); }

std::vector<std::string> Trainer::trainableParameterNames() const { return impl_->module->parameters().names; }

}  // namespace gramrl
