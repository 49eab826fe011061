#include "learner/learner_worker.h"

#include <filesystem>

#include <torch/torch.h>

#include "common/collectives/collective.h"
#include "common/config/config_loader.h"
#include "common/config/experiment_config.h"
#include "common/control/heartbeat_sender.h"
#include "common/control/launch_environment.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/rendezvous/rendezvous.h"
#include "learner/dpo/dpo_setup.h"
#include "learner/engine/trainer.h"
#include "learner/gram/gram_setup.h"
#include "learner/rlhf/online_loop.h"
#include "learner/sft/sft_setup.h"

namespace gramrl {
namespace {

at::Device resolveDevice(const std::string& option, int rank) {
  const bool cuda = torch::cuda::is_available();
  GRAMRL_CHECK(option != "cuda" || cuda, ConfigError,
               "learner.device is cuda but this LibTorch sees no CUDA device (is it a CPU-only build?)");
  if (option == "cpu" || !cuda) return at::Device(at::kCPU);
  const auto count = static_cast<int>(torch::cuda::device_count());
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(rank % count));
}

TrainerOptions trainerOptions(const ExperimentConfig& config, const std::string& label) {
  const LearnerOptions& l = config.learner;
  TrainerOptions o;
  o.run_dir = runDirectory(config);
  o.label = label;
  o.total_steps = l.total_steps;
  o.global_batch_size = l.global_batch_size;
  o.micro_batch_size = l.micro_batch_size;
  o.schedule = LrScheduleOptions{l.lr, l.schedule, l.warmup_ratio, l.min_lr_ratio, l.total_steps};
  o.weight_decay = l.weight_decay;
  o.adam_beta1 = l.adam_beta1;
  o.adam_beta2 = l.adam_beta2;
  o.adam_eps = l.adam_eps;
  o.max_grad_norm = l.max_grad_norm;
  o.freeze = l.freeze;
  o.checkpoint_every = l.checkpoint.every_steps;
  o.keep_last = l.checkpoint.keep_last;
  o.resume = l.resume;
  o.eval_every = l.eval_every;
  o.log_every = l.log_every;
  o.seed = static_cast<uint64_t>(config.experiment.seed);
  o.precision = l.precision == "auto" ? "bf16" : l.precision;  // autocast only engages on CUDA
  o.activation_checkpointing = l.activation_checkpointing;
  o.zero_stage = l.zero_stage;
  o.tensorboard = l.tensorboard;
  return o;
}

// Trains `model` with `objective` to learner.total_steps: the shared tail of every offline
// algorithm. `label` names the run in the progress line and the checkpoints.
int runTrainer(const ExperimentConfig& config, const std::string& label, const std::string& tokenizer_spec,
               std::shared_ptr<Transformer> model, Objective& objective, Collective& collective) {
  TrainerOptions options = trainerOptions(config, label);
  options.tokenizer_spec = tokenizer_spec;
  Trainer trainer(options, std::move(model), objective, collective);
  const TrainerState final_state = trainer.run();
  log::info("done: step {} of {}; checkpoints in {}/checkpoints", final_state.step, config.learner.total_steps,
            runDirectory(config));
  return 0;
}

}  // namespace

std::string runDirectory(const ExperimentConfig& config) {
  return (std::filesystem::path(config.experiment.output_dir) / config.experiment.name).string();
}

int runLearnerWorker(const LearnerWorkerArgs& args) {
  log::setIdentity("learner", args.rank);
  const ExperimentConfig config = loadExperimentConfig(args.config);
  log::setLevel(log::parseLevel(config.experiment.log_level));
  // NOTE [Heartbeats]: step and policy version come from log::setStep / setPolicyVersion.
  const auto heartbeat = control::HeartbeatSender::fromEnvironment(
      "learner", args.rank, std::chrono::milliseconds(config.launch.heartbeat_ms));
  if (heartbeat) heartbeat->setPhase(control::ProcessPhase::kBusy);
  if (config.learner.threads > 0) at::set_num_threads(static_cast<int>(config.learner.threads));
  const at::Device device = resolveDevice(config.learner.device, args.rank);
  GRAMRL_CHECK(config.learner.precision != "bf16" || device.is_cuda(), ConfigError,
               "learner.precision bf16 needs a CUDA device (bf16 autocast on CPU is not supported); use fp32 or auto");

  std::unique_ptr<Collective> collective;
  if (args.rendezvous.empty() || args.world_size == 1) {
    GRAMRL_CHECK(args.world_size == 1, ConfigError, "a {}-rank learner needs --rendezvous host:port", args.world_size);
    collective = makeSingleRankCollective();
  } else {
    CollectiveOptions options;
    options.timeout = std::chrono::seconds(config.learner.collective_timeout_s);
    options.connect_timeout = std::chrono::seconds(config.launch.rendezvous.timeout_s);
    options.bucket_bytes = config.learner.allreduce_bucket_mb << 20;
    // NOTE [Learner restarts] (launch/local_launcher.h): a restarted group meets none of the
    // store keys of the one before it.
    const int64_t attempt = control::restartAttempt();
    options.group_name = attempt == 0 ? std::string("learner") : fmt::format("learner-restart-{}", attempt);
    collective =
        connectCollective(RendezvousAddress::parse(args.rendezvous), args.rank, args.world_size, device, options);
  }
  log::info("rank {} of {} on {} ({}), {} threads", args.rank, args.world_size, device.str(), collective->backendName(),
            at::get_num_threads());

  const std::string& algorithm = config.learner.algorithm;
  if (isOnlineAlgorithm(algorithm)) return runOnlineLearner(config, *collective, device, args.rendezvous);
  if (algorithm == "dpo") {
    DpoSetup setup = buildDpo(config, device);
    return runTrainer(config, algorithm, setup.tokenizer_spec, setup.policy, *setup.objective, *collective);
  }
  if (algorithm == "sft") {
    SftSetup setup = buildSft(config, device);
    return runTrainer(config, algorithm, setup.tokenizer_spec, setup.policy, *setup.objective, *collective);
  }
  if (isGramTrainingAlgorithm(algorithm)) {
    GramTrainingSetup setup = buildGramTraining(config, device);
    return runTrainer(config, algorithm, setup.tokenizer_spec, setup.model, *setup.objective, *collective);
  }
  GRAMRL_CHECK(false, ConfigError,
               "learner.algorithm '{}' cannot run here: this build trains sft, dpo, gram_pretrain, gram_finetune and "
               "bradley_terry offline, and ppo, grpo, rloo, remax, reinforce_pp and online_dpo online through gramrl "
               "rlhf",
               algorithm);
  return 1;
}

}  // namespace gramrl
