// gramrl: one command for every role. Thin by design: parse the command line (the only place
// that sees CLI11), run the chosen subcommand, map exceptions to exit codes (exitCodeFor in
// common/core/errors.h).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>
#include <CLI/CLI.hpp>

#include "actors/actor_worker.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "launch/commands.h"
#include "launch/data_command.h"
#include "launch/generate_command.h"
#include "launch/gram_eval_command.h"
#include "launch/keygen_command.h"
#include "launch/plan_command.h"
#include "launch/reward_command.h"
#include "launch/rlhf_command.h"
#include "launch/text_arguments.h"
#include "launch/tokenize_command.h"
#include "launch/train_command.h"
#include "launch/world_command.h"
#include "learner/learner_worker.h"

namespace gramrl::cli {
namespace {

using Action = std::function<int()>;

void addConfigCommands(CLI::App& app, Action& run) {
  CLI::App* config = app.add_subcommand("config", "Check experiment configs and print the config reference");
  config->require_subcommand(1);

  CLI::App* check = config->add_subcommand(
      "check",
      "Validate config files (with dotted overrides such as learner.ppo.clip=0.1) and print the resolved config");
  auto positional = std::make_shared<std::vector<std::string>>();
  auto quiet = std::make_shared<bool>(false);
  check->add_option("args", *positional, "Config files and section.key=value overrides")->required();
  auto no_port_check = std::make_shared<bool>(false);
  check->add_flag("-q,--quiet", *quiet, "Print only ok or the errors, not the resolved config");
  check->add_flag("--no-port-check", *no_port_check,
                  "Do not bind-test the configured ports on this machine (e.g. when checking a cluster's config)");
  check->callback([&run, positional, quiet, no_port_check]() {
    run = [args = splitConfigCheckArgs(*positional, *quiet, !*no_port_check)]() { return runConfigCheck(args); };
  });

  CLI::App* reference =
      config->add_subcommand("reference", "Print every config key with its type, default and meaning (markdown)");
  reference->callback([&run]() { run = []() { return runConfigReference(); }; });
}

void addSelftestCommands(CLI::App& app, Action& run) {
  CLI::App* selftest = app.add_subcommand("selftest", "Checks of this installation");
  selftest->require_subcommand(1);
  auto args = std::make_shared<SelftestArgs>();
  auto addCommon = [args](CLI::App* c) {
    c->add_option("--config", args->config, "Take launch.transport limits and timeouts from this config");
    c->add_option("--transport", args->transports, "Transports to test: tcp, ipc (default both)");
    c->add_option("--messages", args->messages, "Score requests per transport")->check(CLI::Range(1, 1000000));
    c->add_option("--payload-mb", args->payload_mb, "Size of the rollout batch per transport, MiB")
        ->check(CLI::Range(0.001, 1024.0));
  };
  CLI::App* parent = selftest->add_subcommand(
      "transport", "Two processes: rendezvous, reward-channel requests and a large rollout batch over tcp and ipc");
  addCommon(parent);
  parent->callback([&run, args]() { run = [args]() { return runSelftestTransport(*args); }; });

  CLI::App* peer = selftest->add_subcommand("transport-peer", "The second process of `selftest transport`");
  peer->group("");  // internal: hidden from --help
  addCommon(peer);
  peer->add_option("--rendezvous", args->rendezvous, "host:port of the parent's store")->required();
  peer->callback([&run, args]() { run = [args]() { return runSelftestPeer(*args); }; });
}

using Texts = std::shared_ptr<std::vector<std::string>>;  // NOTE [Text arguments are not parsed]

void addTokenizeCommand(CLI::App& app, Action& run, const Texts& texts) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* c = app.add_subcommand(
      "tokenize", "Encode text (or decode ids) with a tokenizer; inputs from the arguments or stdin, one per line");
  c->add_option("-t,--tokenizer", args->tokenizer, "Tokenizer directory (tokenizer.json[.gz]) or builtin:bytes")
      ->required();
  c->add_option("--chat-template", args->chat_template,
                "Render each input as a single user turn first: llama3, qwen2.5, qwen3, plain, llama3-train, "
                "qwen3-train, or auto");
  c->add_option("--system", args->system, "System message for --chat-template");
  c->add_flag("--decode", args->decode, "Inputs are token ids; print their text");
  c->add_flag("--jsonl", args->jsonl, "One JSON object per input: {\"text\", \"ids\", \"pieces\"}");
  c->add_flag("--no-special-tokens{false}", args->add_special_tokens,
              "Do not add BOS (or what the format adds) to plain inputs");
  c->add_option("texts", args->texts, "Texts to encode, byte for byte (default: stdin, one per line)");
  c->callback([&run, args, texts]() {
    args->texts = *texts;
    run = [args]() { return runTokenize(*args); };
  });
}

void addGenerateCommand(CLI::App& app, Action& run, const Texts& texts) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* c = app.add_subcommand("generate", "Sample from a checkpoint or a built-in tiny model");
  c->add_option("-m,--model", args->model, "Hugging Face checkpoint directory or builtin:<preset>")
      ->capture_default_str();
  c->add_option("-t,--tokenizer", args->tokenizer, "Tokenizer (default: the model's; builtin:bytes for builtins)");
  c->add_option("--chat-template", args->chat_template, "Wrap each prompt as a user turn: a template name or auto");
  c->add_option("--system", args->system, "System message with --chat-template");
  c->add_option("--prompts", args->prompts_file, "JSONL file with a \"prompt\" per line");
  c->add_option("--temperature", args->temperature, "0 is greedy")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  c->add_option("--top-k", args->top_k, "0 disables")->capture_default_str()->check(CLI::NonNegativeNumber);
  c->add_option("--top-p", args->top_p, "1 disables")->capture_default_str()->check(CLI::Range(1e-6, 1.0));
  c->add_option("--max-new-tokens", args->max_new_tokens, "Longest response")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  c->add_option("--max-prompt-tokens", args->max_prompt_tokens,
                "Longer prompts lose tokens from the left, as in training (policy.max_prompt_tokens)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  c->add_option("-n,--samples", args->samples, "Samples per prompt (sharing one prefill)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  c->add_option("--seed", args->seed, "Sampling seed (and the init seed of built-in models)")->capture_default_str();
  c->add_option("--max-batch", args->max_batch, "Sequences generated at once (KV-cache slots)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  c->add_flag("--jsonl", args->jsonl, "One JSON object per completion");
  c->add_flag("--stream", args->stream, "Print tokens as they are sampled (one prompt, one sample)");
  c->add_option("prompts", args->prompts, "Prompts, byte for byte");
  c->callback([&run, args, texts]() {
    args->prompts = *texts;
    run = [args]() { return runGenerate(*args); };
  });
}

void addTrainCommands(CLI::App& app, Action& run) {
  CLI::App* train = app.add_subcommand("train", "Train a policy on this machine, one process per learner rank");
  train->require_subcommand(1);
  auto args = std::make_shared<TrainArgs>();
  auto positional = std::make_shared<std::vector<std::string>>();
  CLI::App* dpo = train->add_subcommand(
      "dpo", "DPO / IPO / cDPO on preference pairs (learner.data.train); rerun the same command to resume");
  dpo->add_option("args", *positional, "The config file, then section.key=value overrides")->required();
  dpo->add_flag("--wait", args->wait, "launch.mode slurm: wait for the job to end and return its exit code");
  dpo->callback([&run, args, positional]() {
    args->algorithm = "dpo";
    args->config = positional->front();
    args->overrides.assign(positional->begin() + 1, positional->end());
    run = [args]() { return runTrain(*args); };
  });
  auto sft_args = std::make_shared<TrainArgs>();
  auto sft_positional = std::make_shared<std::vector<std::string>>();
  CLI::App* sft = train->add_subcommand(
      "sft", "Supervised fine-tuning of policy.model on demonstrations (learner.data.train); rerun to resume");
  sft->add_option("args", *sft_positional, "The config file, then section.key=value overrides")->required();
  sft->add_flag("--wait", sft_args->wait, "launch.mode slurm: wait for the job to end and return its exit code");
  sft->callback([&run, sft_args, sft_positional]() {
    sft_args->algorithm = "sft";
    sft_args->config = sft_positional->front();
    sft_args->overrides.assign(sft_positional->begin() + 1, sft_positional->end());
    run = [sft_args]() { return runTrain(*sft_args); };
  });
}

void addGramCommands(CLI::App& app, Action& run) {
  CLI::App* gram =
      app.add_subcommand("gram", "GRAM: train the generative reward model and its baselines, evaluate them");
  gram->require_subcommand(1);
  struct Stage {
    const char* command;
    const char* algorithm;
    const char* help;
  };
  const Stage stages[] = {
      {"pretrain", "gram_pretrain", "Stage 1: next-token training on unlabeled response pairs (learner.data.train)"},
      {"finetune", "gram_finetune",
       "Stage 2: label-smoothed A/B training on preference pairs, from reward.model (a stage-1 checkpoint for "
       "GRAM, builtin:<preset> for the generative baseline, a foundation GRAM for task adaptation)"},
      {"bt", "bradley_terry",
       "The discriminative baseline: a scalar-head Bradley-Terry reward model on preference pairs"},
  };
  for (const Stage& stage : stages) {
    auto args = std::make_shared<TrainArgs>();
    auto positional = std::make_shared<std::vector<std::string>>();
    CLI::App* c = gram->add_subcommand(stage.command, stage.help);
    c->add_option("args", *positional, "The config file, then section.key=value overrides")->required();
    c->add_flag("--wait", args->wait, "launch.mode slurm: wait for the job to end and return its exit code");
    const std::string algorithm = stage.algorithm;
    c->callback([&run, args, positional, algorithm]() {
      args->algorithm = algorithm;
      args->config = positional->front();
      args->overrides.assign(positional->begin() + 1, positional->end());
      run = [args]() { return runTrain(*args); };
    });
  }

  auto eval = std::make_shared<GramEvalArgs>();
  CLI::App* e = gram->add_subcommand(
      "eval", "Pairwise accuracy of a reward model on JSONL preference pairs, overall and per category/subset");
  e->add_option("data", eval->data, "JSONL files of preference pairs (optional with --best-of-n)");
  e->add_option("-m,--model", eval->model, "Checkpoint directory or builtin:<preset>")->required();
  e->add_option("--kind", eval->kind, "gram (A/B judge), bradley_terry (value head) or likelihood (stage-1 model)")
      ->capture_default_str()
      ->check(CLI::IsMember({"gram", "bradley_terry", "likelihood"}));
  e->add_option("-t,--tokenizer", eval->tokenizer, "Tokenizer (default: the model's)");
  e->add_option("--chat-template", eval->chat_template, "Chat template or auto")->capture_default_str();
  e->add_option("--judge-template", eval->judge_template,
                "official (ends '#Preferred:', as the training data), official-eval (ends '#Preferred: ', as "
                "gram_eval.py) or compact")
      ->capture_default_str()
      ->check(CLI::IsMember({"official", "official-eval", "compact"}));
  e->add_option("--batch-size", eval->batch_size, "Sequences per forward pass")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  e->add_option("--max-tokens", eval->max_tokens, "Longest judge input")->capture_default_str();
  e->add_option("--threads", eval->threads, "CPU threads (0: all cores; at most 4 x the cores)")->capture_default_str();
  e->add_option("--best-of-n", eval->best_of_n,
                "Best-of-n gold-reward curves on these candidate sets (gramrl world candidates) vs oracle and random");
  e->add_option("--n-max", eval->n_max, "Largest n of the best-of-n curve (n = 1, 2, 4, ..., n-max)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  e->add_option("--gold", eval->gold, "Gold judge of --best-of-n: world (the sets' gold scores)")
      ->capture_default_str()
      ->check(CLI::IsMember({"world"}));
  e->add_option("--out-json", eval->out_json, "Also write the numbers as JSON here");
  e->add_option("--benchmark", eval->benchmark,
                "Also print leaderboard scores: rewardbench (sections with the official subset weights) or "
                "judgebench (categories, average); data from gramrl data convert")
      ->check(CLI::IsMember({"rewardbench", "judgebench"}));
  e->add_option("--pair-scores", eval->pair_scores,
                "Also write every pair's margins here, one JSON line per pair in input order");
  e->callback([&run, eval]() { run = [eval]() { return runGramEval(*eval); }; });
}

void addRewardCommands(CLI::App& app, Action& run) {
  CLI::App* reward = app.add_subcommand("reward", "The reward service: GRAM and other reward models over ZeroMQ");
  reward->require_subcommand(1);
  auto args = std::make_shared<RewardServeArgs>();
  auto positional = std::make_shared<std::vector<std::string>>();
  CLI::App* serve = reward->add_subcommand(
      "serve", "Serve reward.backend on tcp://<launch.transport.bind_host>:<reward.server.port> until SIGTERM");
  serve->add_option("args", *positional, "The config file, then section.key=value overrides")->required();
  serve->add_option("--replica", args->replica, "Serve only this replica (port + K); default: all of reward.replicas")
      ->check(CLI::NonNegativeNumber);
  serve->add_option("--rendezvous", args->rendezvous,
                    "host:port of a run's rendezvous store: bind a free port and register it there (gramrl rlhf)");
  serve->callback([&run, args, positional]() {
    args->config = positional->front();
    args->overrides.assign(positional->begin() + 1, positional->end());
    run = [args]() { return runRewardServe(*args); };
  });
  auto keys_dir = std::make_shared<std::string>();
  CLI::App* keygen = reward->add_subcommand(
      "keygen", "Write a new CurveZMQ key directory (server and client key pairs) for reward.server.curve_keys_dir");
  keygen->add_option("dir", *keys_dir, "Directory to create; existing keys are never overwritten")->required();
  keygen->callback([&run, keys_dir]() { run = [keys_dir]() { return runRewardKeygen(*keys_dir); }; });
  auto score_args = std::make_shared<RewardScoreArgs>();
  auto score_positional = std::make_shared<std::vector<std::string>>();
  CLI::App* score = reward->add_subcommand(
      "score", "Score JSONL items (prompt, response, optional reference, label) with a running reward service");
  score->add_option("args", *score_positional, "The config file, then section.key=value overrides")->required();
  score->add_option("--data", score_args->data, "JSONL items to score")->required();
  score->add_option("--out", score_args->out, "Write the scored items here (atomically); default: stdout");
  score->add_option("--endpoint", score_args->endpoints,
                    "tcp://host:port of a replica (repeatable); default: the config's");
  score->add_option("--batch", score_args->batch, "Items per request (at most reward.server.max_request_items)")
      ->capture_default_str();
  score->callback([&run, score_args, score_positional]() {
    score_args->config = score_positional->front();
    score_args->overrides.assign(score_positional->begin() + 1, score_positional->end());
    run = [score_args]() { return runRewardScore(*score_args); };
  });
}

void addWorkerCommands(CLI::App& app, Action& run) {
  CLI::App* worker = app.add_subcommand("worker", "One process of a run (started by the launcher)");
  worker->group("");  // internal: hidden from --help
  worker->require_subcommand(1);
  auto args = std::make_shared<LearnerWorkerArgs>();
  CLI::App* learner = worker->add_subcommand("learner", "A learner rank");
  learner->add_option("--config", args->config, "The resolved config the launcher wrote")->required();
  learner->add_option("--rank", args->rank, "This rank")->check(CLI::NonNegativeNumber);
  learner->add_option("--world", args->world_size, "Number of ranks")->check(CLI::PositiveNumber);
  learner->add_option("--rendezvous", args->rendezvous, "host:port of the rendezvous store");
  learner->callback([&run, args]() { run = [args]() { return runLearnerWorker(*args); }; });
  auto actor_args = std::make_shared<ActorWorkerArgs>();
  CLI::App* actor = worker->add_subcommand("actor", "A rollout actor");
  actor->add_option("--config", actor_args->config, "The resolved config the launcher wrote")->required();
  actor->add_option("--index", actor_args->index, "This actor's index")->check(CLI::NonNegativeNumber);
  actor->add_option("--rendezvous", actor_args->rendezvous, "host:port of the rendezvous store")->required();
  actor->callback([&run, actor_args]() { run = [actor_args]() { return runActorWorker(*actor_args); }; });
}

void addRlhfCommand(CLI::App& app, Action& run) {
  auto args = std::make_shared<RlhfArgs>();
  auto positional = std::make_shared<std::vector<std::string>>();
  CLI::App* rlhf = app.add_subcommand(
      "rlhf",
      "Online RLHF (GRPO): reward servers, rollout actors and learner ranks as processes on this machine; rerun "
      "the same command to resume");
  rlhf->add_option("args", *positional, "The config file, then section.key=value overrides")->required();
  rlhf->add_flag("--wait", args->wait,
                 "launch.mode slurm: wait for the job to end and return its exit code (sbatch --wait)");
  rlhf->callback([&run, args, positional]() {
    args->config = positional->front();
    args->overrides.assign(positional->begin() + 1, positional->end());
    run = [args]() { return runRlhf(*args); };
  });
}

void addSlurmCommands(CLI::App& app, Action& run) {
  CLI::App* slurm =
      app.add_subcommand("slurm", "gramrl rlhf as a heterogeneous Slurm job, training commands as plain jobs");
  slurm->require_subcommand(1);
  auto args = std::make_shared<RlhfArgs>();
  auto positional = std::make_shared<std::vector<std::string>>();
  auto train_algorithm = std::make_shared<std::string>();
  CLI::App* render = slurm->add_subcommand(
      "render",
      "Print the batch script that `gramrl rlhf CONFIG launch.mode=slurm` submits (one component per role), or with "
      "--train that of a training command");
  render->add_option("args", *positional, "The config file, then section.key=value overrides")->required();
  render->add_option("--train", *train_algorithm, "The training job of this learner.algorithm instead of rlhf")
      ->check(CLI::IsMember({"sft", "dpo", "gram_pretrain", "gram_finetune", "bradley_terry"}));
  render->callback([&run, args, positional, train_algorithm]() {
    args->config = positional->front();
    args->overrides.assign(positional->begin() + 1, positional->end());
    if (train_algorithm->empty()) {
      run = [args]() { return runSlurmRender(*args); };
      return;
    }
    TrainArgs train{*train_algorithm, args->config, args->overrides};
    run = [train]() {
      std::fputs(trainBatchScript(train).c_str(), stdout);
      return 0;
    };
  });
  auto train_args = std::make_shared<TrainArgs>();
  auto train_positional = std::make_shared<std::vector<std::string>>();
  CLI::App* supervise_train = slurm->add_subcommand(
      "supervise-train", "Inside a training job: host the rendezvous and start each learner rank as a job step");
  supervise_train->group("");  // internal
  supervise_train->add_option("algorithm", train_args->algorithm, "learner.algorithm")
      ->required()
      ->check(CLI::IsMember({"sft", "dpo", "gram_pretrain", "gram_finetune", "bradley_terry"}));
  supervise_train->add_option("args", *train_positional, "The config file, then section.key=value overrides")
      ->required();
  supervise_train->callback([&run, train_args, train_positional]() {
    train_args->config = train_positional->front();
    train_args->overrides.assign(train_positional->begin() + 1, train_positional->end());
    train_args->in_slurm_job = true;
    run = [train_args]() { return runTrain(*train_args); };
  });
  CLI::App* supervise = slurm->add_subcommand(
      "supervise",
      "Inside the job: host the rendezvous and start every process as a job step (the batch script runs it)");
  supervise->group("");  // internal
  supervise->add_option("args", *positional, "The config file, then section.key=value overrides")->required();
  supervise->callback([&run, args, positional]() {
    args->config = positional->front();
    args->overrides.assign(positional->begin() + 1, positional->end());
    run = [args]() { return runSlurmSupervise(*args); };
  });
}

void addStatusCommand(CLI::App& app, Action& run) {
  auto run_dir = std::make_shared<std::string>();
  CLI::App* status = app.add_subcommand(
      "status", "The table of a run's processes (state, step, policy version, restarts, last heartbeat)");
  status->add_option("run_dir", *run_dir, "The run directory (<experiment.output_dir>/<experiment.name>)")->required();
  status->callback([&run, run_dir]() { run = [run_dir]() { return runStatus(*run_dir); }; });
}

void addWorldCommands(CLI::App& app, Action& run) {
  CLI::App* world = app.add_subcommand("world", "The built-in synthetic task world: data sets and its gold judge");
  world->require_subcommand(1);
  auto gen = std::make_shared<WorldGenerateArgs>();
  CLI::App* generate =
      world->add_subcommand("generate", "Write a JSONL data set: prompts, sft, unlabeled, labeled or test (pairs)");
  generate->add_option("kind", gen->kind, "prompts | sft | unlabeled | labeled | test")->required();
  generate->add_option("-n,--n", gen->n, "Rows")->capture_default_str()->check(CLI::Range(1, 100000000));
  generate->add_option("--seed", gen->seed, "Seed; row i depends only on (seed, kind, i)")->capture_default_str();
  generate->add_option("--families", gen->families, "Task families to draw from (default all)")->delimiter(',');
  generate->add_option("--exclude-families", gen->exclude_families, "Task families to leave out")->delimiter(',');
  generate->add_option("--correct-prob", gen->correct_prob, "Probability that a response is correct")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  generate->add_option("--label-noise", gen->label_noise, "Probability that a labeled pair is flipped")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.5));
  generate->add_option("-o,--out", gen->out, "Output file (default stdout)");
  generate->callback([&run, gen]() { run = [gen]() { return runWorldGenerate(*gen); }; });

  auto score = std::make_shared<WorldScoreArgs>();
  CLI::App* sc = world->add_subcommand("score", "Gold scores of JSONL rows (prompt + response, or chosen/rejected)");
  sc->add_option("file", score->in, "JSONL file")->required();
  sc->callback([&run, score]() { run = [score]() { return runWorldScore(*score); }; });

  auto cand = std::make_shared<WorldCandidatesArgs>();
  CLI::App* ca = world->add_subcommand(
      "candidates",
      "Group a policy's samples (gramrl generate --jsonl --samples N) into gold-scored best-of-n candidate sets, and "
      "optionally policy-sampled preference pairs");
  ca->add_option("file", cand->in, "JSONL from gramrl generate --jsonl")->required();
  ca->add_option("-o,--out", cand->out, "Candidate sets {prompt, family, candidates, gold} (default stdout)");
  ca->add_option("--pairs-out", cand->pairs_out, "Also write policy-sampled preference pairs here");
  ca->add_option("--pairs-per-prompt", cand->pairs_per_prompt, "Most pairs per prompt (disjoint sample pairs)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  ca->callback([&run, cand]() { run = [cand]() { return runWorldCandidates(*cand); }; });
}

void addPlanCommand(CLI::App& app, Action& run) {
  auto args = std::make_shared<PlanArgs>();
  auto positional = std::make_shared<std::vector<std::string>>();
  CLI::App* c = app.add_subcommand(
      "plan", "Memory and time estimate of a run before it starts: per process against its GPU (exit 1: does not fit)");
  c->add_option("config", *positional, "CONFIG.yaml then section.key=value overrides")->required();
  c->add_option("--gpu-memory-gb", args->gpu_memory_gb, "Memory of one GPU in GiB (H100: 80)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1048576.0));
  c->add_option("--gpu-tflops", args->gpu_tflops, "Peak bf16 TFLOP/s of one GPU (H100 SXM: 989)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1e6));
  c->add_option("--mfu", args->mfu, "Model FLOPs utilisation assumed for the time")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1.0));
  c->callback([&run, args, positional]() {
    args->config = positional->front();
    args->overrides.assign(positional->begin() + 1, positional->end());
    run = [args]() { return runPlan(*args); };
  });
}

void addDataCommands(CLI::App& app, Action& run) {
  CLI::App* data = app.add_subcommand("data", "Public data sets (Hugging Face exports) to gramrl's JSONL");
  data->require_subcommand(1);
  auto args = std::make_shared<DataConvertArgs>();
  CLI::App* c = data->add_subcommand(
      "convert",
      "Convert a data set exported with datasets' to_json into pairs, unlabeled pairs, SFT demonstrations "
      "or RLHF prompts (docs/data.md)");
  c->add_option("--from", args->from, "Input format (gramrl data formats lists them)")->required();
  c->add_option("input", args->input, "JSONL, or one JSON array of rows; - reads standard input")->required();
  c->add_option("output", args->output, "Output JSONL of --product")->required();
  c->add_option("--product", args->product, "What OUTPUT holds (default: the format's first product)")
      ->check(CLI::IsMember({"pairs", "unlabeled", "sft", "prompts"}));
  c->add_option("--pairs-out", args->pairs_out, "Also write labelled pairs {prompt, chosen, rejected} here");
  c->add_option("--unlabeled-out", args->unlabeled_out,
                "Also write unlabeled pairs {prompt, response_a, response_b} (GRAM stage 1) here");
  c->add_option("--sft-out", args->sft_out, "Also write SFT demonstrations {prompt, response} here");
  c->add_option("--prompts-out", args->prompts_out, "Also write RLHF prompts {prompt} (each once) here");
  c->add_option("--multi-turn", args->multi_turn, "Prompts with several user turns: flatten into one message, or skip")
      ->capture_default_str()
      ->check(CLI::IsMember({"flatten", "skip"}));
  c->add_option("--category", args->category, "Category of rows that have none (e.g. harmless-base)");
  c->add_flag("--strict", args->strict, "Stop at the first bad row (default: skip and count it)");
  c->add_option("--max-rows", args->max_rows, "Read at most this many rows (0: all)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  c->add_option("--max-row-bytes", args->max_row_bytes, "Longest row; a longer one is a bad row")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  c->callback([&run, args]() { run = [args]() { return runDataConvert(*args); }; });
  CLI::App* formats = data->add_subcommand("formats", "List the formats of data convert and what each makes");
  formats->callback([&run]() { run = []() { return runDataFormats(); }; });
}

// NOTE [OpenMP threads wait passively]
// Debian's LibTorch runs its intra-op work on libgomp threads, which by default spin for a while
// after each parallel region. gramrl's processes share cores with each other (actors, reward
// replicas and learner ranks on one machine) and with OpenBLAS's own threads, and the spinning
// threads took the CPU from them: measured on the 2-core machine, generation at batch 64 took
// 2.28x transformers' time with spinning threads and 1.15x with OMP_WAIT_POLICY=PASSIVE
// (docs/benchmarks.md, "Peers"). libgomp reads the variable once, when it is loaded, before
// main: so when it is unset, gramrl sets it and executes itself again. A value the user set
// (ACTIVE, say) is kept. If the re-execution fails, the process goes on as it was.
void waitPassivelyInOpenMp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);
}

}  // namespace
}  // namespace gramrl::cli

int main(int argc, char** argv) {
  gramrl::cli::waitPassivelyInOpenMp(argv);
  CLI::App app{"gramrl: RLHF experiments with GRAM, the generative foundation reward model"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "gramrl 0.1.0");
  gramrl::cli::Action run;
  gramrl::cli::addConfigCommands(app, run);
  gramrl::cli::addSelftestCommands(app, run);
  auto texts = std::make_shared<std::vector<std::string>>();
  gramrl::cli::addTokenizeCommand(app, run, texts);
  gramrl::cli::addGenerateCommand(app, run, texts);
  gramrl::cli::addTrainCommands(app, run);
  gramrl::cli::addGramCommands(app, run);
  gramrl::cli::addRewardCommands(app, run);
  gramrl::cli::addWorkerCommands(app, run);
  gramrl::cli::addRlhfCommand(app, run);
  gramrl::cli::addStatusCommand(app, run);
  gramrl::cli::addSlurmCommands(app, run);
  gramrl::cli::addWorldCommands(app, run);
  gramrl::cli::addDataCommands(app, run);
  gramrl::cli::addPlanCommand(app, run);
  // NOTE [Text arguments are not parsed]: CLI11 sees the options, never the texts.
  std::vector<std::string> args(argv, argv + argc);
  for (const char* name : {"tokenize", "generate"}) {
    auto taken = gramrl::cli::takeTextArguments(args, app, name);
    if (!taken.empty()) *texts = std::move(taken);
  }
  std::vector<const char*> arg_ptrs;
  for (const auto& a : args) arg_ptrs.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run ? run() : 0;
  } catch (const gramrl::Error& e) {
    gramrl::log::error("{}", e.what());
    return gramrl::exitCodeFor(e);
  } catch (const std::exception& e) {
    gramrl::log::error("unexpected error: {}", e.what());
    return 1;
  }
}
