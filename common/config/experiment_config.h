// The experiment configuration: one option struct per role, as in the YAML file:
//
//   extends: base.yaml          # optional; this file's keys override the base's
//   experiment: {...}           # run name, seed, output directory, logging
//   policy:     {...}           # the model being trained
//   reward:     {...}           # the reward service and its backend
//   rollout:    {...}           # rollout actors and sampling
//   learner:    {...}           # optimisation, PPO and DPO settings, checkpoints
//   launch:     {...}           # processes, rendezvous, transport, Slurm
//
// See NOTE [Option structs] in options.h for how fields are declared. docs/config-reference.md
// is generated from these structs (`gramrl config reference`) and a test keeps it current.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/learner_options.h"
#include "common/config/options.h"

namespace gramrl {

struct ExperimentOptions {
  std::string name = "gramrl";
  int64_t seed = 1234;
  std::string output_dir = "runs";
  std::string log_level = "info";
  bool check_resume_inputs = true;  // NOTE [Resume checks what was trained on] (launch/run_inputs.h)

  template <class V>
  void visit(V& v) {
    v.field(name, "name", "Run name; outputs go to <output_dir>/<name>.");
    v.field(seed, "seed", "Seed for every random stream (data order, init, sampling).", Range::atLeast(0));
    v.field(output_dir, "output_dir", "Directory for checkpoints, metrics and logs.");
    v.field(log_level, "log_level", "Least severe log level printed.", Choices{{"debug", "info", "warn", "error"}});
    v.field(check_resume_inputs, "check_resume_inputs",
            "A rerun that would resume from checkpoints refuses when its input files (data, prompts, local model "
            "and tokenizer files, docs/input-limits.md) or the resolved config differ from what they were trained on; "
            "false resumes anyway (and records the new inputs).");
    v.require(isPlainPathComponent(name), "name",
              "expected one plain directory name (not empty, '.' or '..'; no '/', '\\' or control characters), "
              "got '" +
                  name + "'");
  }
};

struct PolicyOptions {
  std::string model = "builtin:tiny";
  std::string tokenizer;
  std::string chat_template = "auto";
  std::string dtype = "auto";
  int64_t max_prompt_tokens = 512;
  int64_t max_new_tokens = 256;

  template <class V>
  void visit(V& v) {
    v.field(model, "model", "A Hugging Face checkpoint directory, or builtin:<preset> for a built-in tiny model.");
    v.field(tokenizer, "tokenizer", "Tokenizer directory (tokenizer.json); empty means the model's own.");
    v.field(chat_template, "chat_template", "Chat template; auto picks it from the model's config.",
            Choices{{"auto", "plain", "llama3", "qwen2.5", "qwen3", "llama3-train", "qwen3-train"}});
    v.field(dtype, "dtype", "Parameter dtype; auto is float32 on CPU and bfloat16 on GPU.",
            Choices{{"auto", "float32", "bfloat16"}});
    v.field(max_prompt_tokens, "max_prompt_tokens", "Prompts longer than this are truncated from the left.",
            Range::closed(1, 1 << 20));
    v.field(max_new_tokens, "max_new_tokens", "Longest response sampled.", Range::closed(1, 1 << 20));
    v.require(!model.empty(), "model", "expected a checkpoint directory or builtin:<preset>, got ''");
  }
};

struct GramOptions {
  std::string judge_template = "official";

  template <class V>
  void visit(V& v) {
    v.field(judge_template, "template",
            "Judge prompt: official (byte-exact to GRAM's released code and its fine-tuning data, ending "
            "'#Preferred:'), official-eval (the official evaluation script's, ending '#Preferred: ' with a space) or "
            "compact (short tags for the built-in byte-level toy models). See reward/gram/judge_template.h.",
            Choices{{"official", "official-eval", "compact"}});
  }
};

struct RuleOptions {
  std::string check = "world_gold";

  template <class V>
  void visit(V& v) {
    v.field(check, "check",
            "What the rule backend scores: world_gold (the synthetic world's graded gold judge), exact_match (1 if "
            "the response equals the item's label after trimming whitespace, else 0), contains_label (1 if the "
            "label occurs in the response) or length (the response's length in UTF-8 bytes; give it a negative "
            "weight in a composite for a length penalty).",
            Choices{{"world_gold", "exact_match", "contains_label", "length"}});
  }
};

struct CompositeOptions {
  std::vector<std::string> components;
  std::vector<double> weights;

  template <class V>
  void visit(V& v) {
    v.field(components, "components",
            "Backends summed by backend: composite, each gram, bradley_terry, or rule:<check> (e.g. rule:length).");
    v.field(weights, "weights", "One weight per component; the reward is the weighted sum of their scores.");
    v.require(components.size() == weights.size(), "weights",
              "expected one weight per component (" + std::to_string(components.size()) + " components), got " +
                  std::to_string(weights.size()));
  }
};

// The OpenRLHF-compatible HTTP endpoint's limits (NOTE [Slow clients] in
// reward/service/http_endpoint.h; docs/input-limits.md).
struct RewardHttpOptions {
  int64_t io_threads = 2;
  int64_t max_connections = 1024;
  int64_t max_connections_per_address = 64;
  int64_t max_header_kb = 16;
  int64_t header_timeout_ms = 10000;
  int64_t io_timeout_ms = 30000;
  int64_t score_deadline_ms = 180000;

  template <class V>
  void visit(V& v) {
    v.field(io_threads, "io_threads", "Threads that accept, parse and write HTTP (the model runs elsewhere).",
            Range::closed(1, 64));
    v.field(max_connections, "max_connections", "Connections held at once; more are closed as they arrive.",
            Range::closed(1, 65536));
    v.field(max_connections_per_address, "max_connections_per_address",
            "Connections held at once from one peer address; more from it are closed as they arrive.",
            Range::closed(1, 65536));
    v.field(max_header_kb, "max_header_kb", "Largest request header, in KiB; more is answered 431.",
            Range::closed(1, 1024));
    v.field(header_timeout_ms, "header_timeout_ms",
            "A new or idle keep-alive connection must send a whole request header within this, or it is closed.",
            Range::closed(100, 3600000));
    v.field(io_timeout_ms, "io_timeout_ms",
            "Reading one request body, and writing one response, must each end within this.",
            Range::closed(100, 3600000));
    v.field(score_deadline_ms, "score_deadline_ms",
            "Deadline put on each HTTP request's scoring (OpenRLHF's client waits 180 s); 0 for none.",
            Range::closed(0, 86400000));
    v.require(max_connections_per_address <= max_connections, "max_connections_per_address",
              "expected at most max_connections (" + std::to_string(max_connections) + "), got " +
                  std::to_string(max_connections_per_address));
  }
};

struct RewardServerOptions {
  int64_t port = 5555;
  int64_t http_port = 0;
  std::vector<std::string> devices{"cpu"};
  int64_t max_batch_items = 64;
  int64_t max_batch_tokens = 16384;
  int64_t max_wait_ms = 5;
  int64_t max_queue_items = 4096;
  int64_t max_request_items = 1024;
  int64_t max_request_mb = 16;
  int64_t drain_timeout_s = 30;
  std::string curve_keys_dir;
  RewardHttpOptions http;

  template <class V>
  void visit(V& v) {
    v.field(port, "port",
            "ZeroMQ port of the first replica (ROUTER on launch.transport.bind_host); replica i binds port + i. "
            "0 picks a free port and prints it.",
            Range::closed(0, 65535));
    v.field(http_port, "http_port", "Port of the OpenRLHF-compatible HTTP endpoint (POST /get_reward); 0 disables it.",
            Range::closed(0, 65535));
    v.field(devices, "devices", "One model-owning worker per device: cpu, cuda or cuda:<index>.");
    v.field(max_batch_items, "max_batch_items", "Most items the batcher puts in one backend call.",
            Range::closed(1, 1 << 20));
    v.field(max_batch_tokens, "max_batch_tokens",
            "Most estimated tokens (UTF-8 bytes / 4 of prompt and responses) in one backend call; an item larger "
            "than this runs alone.",
            Range::closed(1, int64_t{1} << 40));
    v.field(max_wait_ms, "max_wait_ms", "How long the batcher waits for more requests before running a partial batch.",
            Range::closed(0, 60000));
    v.field(max_queue_items, "max_queue_items",
            "Items waiting for a worker beyond which new requests are answered OVERLOADED at once.",
            Range::closed(1, 1 << 24));
    v.field(max_request_items, "max_request_items", "Most items (or candidates) in one request; more is TOO_LARGE.",
            Range::closed(1, 1 << 24));
    v.field(max_request_mb, "max_request_mb", "Largest request accepted, in MiB (ZeroMQ and HTTP).",
            Range::closed(1, 4096));
    v.field(drain_timeout_s, "drain_timeout_s",
            "On SIGTERM: how long in-flight requests may take to finish before the server exits anyway.",
            Range::closed(0, 86400));
    v.field(curve_keys_dir, "curve_keys_dir",
            "Directory with CurveZMQ keys (gramrl reward keygen): the server authenticates clients listed in "
            "authorized_clients/; empty means no encryption or authentication.");
    v.section(http, "http", "Limits of the HTTP endpoint (reward.server.http_port).");
  }
};

struct RewardOptions {
  std::string backend = "gram";
  std::string model = "builtin:tiny";
  std::string tokenizer;
  std::string chat_template = "auto";
  int64_t max_tokens = 2048;
  int64_t replicas = 1;
  std::string transform = "probability";
  bool debias = true;
  int64_t batch_size = 16;
  std::string best_of_n = "bracket";
  GramOptions gram;
  RuleOptions rule;
  CompositeOptions composite;
  RewardServerOptions server;

  template <class V>
  void visit(V& v) {
    v.field(backend, "backend",
            "Reward model kind: gram, bradley_terry, likelihood (the label-free likelihood judge of a GRAM stage-1 "
            "model, a control), rule or composite.",
            Choices{{"gram", "bradley_terry", "likelihood", "rule", "composite"}});
    v.field(model, "model",
            "Reward model checkpoint directory, or builtin:<preset>; unused by rule. GRAM and Bradley-Terry "
            "training start from it.");
    v.field(tokenizer, "tokenizer", "Tokenizer directory; empty means the reward model's own.");
    v.field(chat_template, "chat_template", "Chat template of the reward model; auto picks it from the tokenizer.",
            Choices{{"auto", "plain", "llama3", "qwen2.5", "qwen3", "llama3-train", "qwen3-train"}});
    v.field(max_tokens, "max_tokens",
            "Longest judge input in tokens; each response is cut to fit (the question and template are kept).",
            Range::closed(16, 1 << 20));
    v.field(replicas, "replicas", "Reward server processes (one model copy each).", Range::closed(1, 1024));
    v.field(transform, "transform",
            "GRAM pointwise reward from P(sample beats reference): p, p - 0.5, or log(p / (1 - p)).",
            Choices{{"probability", "centered", "log_odds"}});
    v.field(debias, "debias", "GRAM: score both answer orders and average (position debiasing).");
    v.field(batch_size, "batch_size", "Rows per forward pass of the reward model.", Range::closed(1, 1 << 20));
    v.field(best_of_n, "best_of_n",
            "GRAM best-of-n: bracket (n-1 comparisons in ceil(log2 n) rounds; a candidate's score is the rounds it "
            "won), anchor (every candidate against the first; its score is the pointwise reward) or linear (the "
            "official README's scan: keep the better of the best so far and the next; n-1 sequential comparisons).",
            Choices{{"bracket", "anchor", "linear"}});
    v.section(gram, "gram", "GRAM judge settings.");
    v.section(rule, "rule", "Rule backend settings.");
    v.section(composite, "composite", "Weighted sum of several backends (backend: composite).");
    v.section(server, "server", "The reward server (gramrl reward serve).");
    v.require(backend != "composite" || !composite.components.empty(), "backend",
              "backend: composite needs reward.composite.components (e.g. [gram, rule:length]) and weights");
    // Replica i binds port + i and http_port + i: every one must be a port, and the two ranges apart.
    v.require(server.port == 0 || server.port + replicas - 1 <= 65535, "server.port",
              "replica ports " + std::to_string(server.port) + " to " + std::to_string(server.port + replicas - 1) +
                  " pass 65535; lower reward.server.port or reward.replicas");
    v.require(server.http_port == 0 || server.http_port + replicas - 1 <= 65535, "server.http_port",
              "replica HTTP ports " + std::to_string(server.http_port) + " to " +
                  std::to_string(server.http_port + replicas - 1) + " pass 65535");
    v.require(server.port == 0 || server.http_port == 0 || server.http_port + replicas <= server.port ||
                  server.port + replicas <= server.http_port,
              "server.http_port",
              "the HTTP ports overlap the ZeroMQ ports (reward.server.port + 0.." + std::to_string(replicas - 1) + ")");
  }
};

struct RolloutOptions {
  int64_t actors = 1;
  std::string prompts;
  int64_t batch_size = 32;
  int64_t samples_per_prompt = 1;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;
  int64_t max_staleness = 0;
  std::vector<std::string> families;
  int64_t threads = 1;
  int64_t lease_timeout_s = 120;

  template <class V>
  void visit(V& v) {
    v.field(actors, "actors", "Rollout actor processes.", Range::closed(1, 4096));
    v.field(prompts, "prompts", "JSONL file of prompts; empty means the built-in synthetic world.");
    v.field(batch_size, "batch_size", "Prompts per rollout batch sent to the learner.", Range::closed(1, 1 << 20));
    v.field(samples_per_prompt, "samples_per_prompt", "Responses sampled per prompt (sharing one prefill).",
            Range::closed(1, 1024));
    v.field(temperature, "temperature", "Sampling temperature; 0 is greedy.", Range::closed(0, 100));
    v.field(top_p, "top_p", "Nucleus sampling mass; 1 disables it.", Range::leftOpen(0, 1));
    v.field(top_k, "top_k", "Sample among the k most likely tokens; 0 disables it.", Range::atLeast(0));
    v.field(max_staleness, "max_staleness",
            "Most policy versions a sample may lag the learner; 0 is strictly on-policy.", Range::closed(0, 1000));
    v.field(families, "families",
            "Built-in world only: task families the prompts come from; empty means the in-distribution ones (all "
            "but the held-out rev and inc).");
    v.field(threads, "threads", "Intra-op CPU threads of each actor's model.", Range::closed(1, 1024));
    v.field(lease_timeout_s, "lease_timeout_s",
            "A prompt lease not handed in within this many seconds (the actor died or hung) goes to another actor.",
            Range::closed(1, 86400));
  }
};

struct RendezvousOptions {
  std::string host = "127.0.0.1";
  int64_t port = 0;
  int64_t timeout_s = 300;

  template <class V>
  void visit(V& v) {
    v.field(host, "host", "Host of the TCPStore that learner rank 0 serves.");
    v.field(port, "port", "TCPStore port; 0 picks a free one (single machine only).", Range::closed(0, 65535));
    v.field(timeout_s, "timeout_s", "How long a process waits for its peers to register.", Range::closed(1, 86400));
  }
};

struct TransportOptions {
  std::string bind_host = "127.0.0.1";
  int64_t max_message_mb = 256;
  int64_t request_timeout_ms = 30000;
  int64_t max_attempts = 3;
  int64_t backoff_initial_ms = 50;
  int64_t backoff_max_ms = 2000;

  template <class V>
  void visit(V& v) {
    v.field(bind_host, "bind_host", "Address services bind to; loopback unless a cluster needs another.");
    v.field(max_message_mb, "max_message_mb", "Largest message accepted on any channel, in MiB.",
            Range::closed(1, 16384));
    v.field(request_timeout_ms, "request_timeout_ms", "Per-attempt timeout of a request.", Range::closed(1, 86400000));
    v.field(max_attempts, "max_attempts", "Attempts per request (first try included) before giving up.",
            Range::closed(1, 100));
    v.field(backoff_initial_ms, "backoff_initial_ms", "First retry delay; doubles per attempt.",
            Range::closed(0, 600000));
    v.field(backoff_max_ms, "backoff_max_ms", "Longest retry delay.", Range::closed(0, 600000));
  }
};

// One role's component of the heterogeneous Slurm job (NOTE [Slurm jobs] in launch/slurm_script.h).
// Its task count is the role's process count (learner.ranks, reward.replicas, rollout.actors).
struct SlurmRoleOptions {
  int64_t nodes = 0;
  int64_t cpus_per_task = 1;
  int64_t gpus_per_task = 0;
  std::string mem;
  std::string partition;
  std::string constraint;

  template <class V>
  void visit(V& v) {
    v.field(nodes, "nodes", "Nodes of this component; 0 lets Slurm choose (as few as the tasks fit on).",
            Range::closed(0, 100000));
    v.field(cpus_per_task, "cpus_per_task", "CPU cores per process (--cpus-per-task).", Range::closed(1, 4096));
    v.field(gpus_per_task, "gpus_per_task", "GPUs per process (--gpus-per-task); 0 asks for none.",
            Range::closed(0, 64));
    v.field(mem, "mem", "Memory per node (--mem, e.g. 64G); empty: the cluster's default.");
    v.field(partition, "partition", "Partition of this component; empty: launch.slurm.partition.");
    v.field(constraint, "constraint", "Node features (--constraint, e.g. a100|h100); empty: none.");
  }
};

struct SlurmOptions {
  std::string partition;
  std::string account;
  std::string time_limit = "04:00:00";
  std::vector<std::string> extra_args;
  std::string gramrl;
  int64_t stop_signal_s = 120;
  SlurmRoleOptions learner;
  SlurmRoleOptions reward;
  SlurmRoleOptions actors;

  template <class V>
  void visit(V& v) {
    v.field(partition, "partition", "Slurm partition; empty means the cluster's default.");
    v.field(account, "account", "Slurm account; empty means the user's default.");
    v.field(time_limit, "time_limit", "Wall-clock limit of the job (Slurm's --time format).");
    v.field(extra_args, "extra_args", "Extra sbatch arguments, passed through verbatim.");
    v.field(gramrl, "gramrl",
            "Path of the gramrl binary on the compute nodes; empty: the path of the binary that renders the job.");
    v.field(stop_signal_s, "stop_signal_s",
            "Seconds before the time limit at which Slurm sends SIGTERM (--signal=B:TERM@N), so that the run "
            "drains and checkpoints before it is killed.",
            Range::closed(0, 86400));
    v.section(learner, "learner", "The learner ranks' component (one task per rank).");
    v.section(reward, "reward", "The reward replicas' component (one task per replica).");
    v.section(actors, "actors", "The rollout actors' component (one task per actor).");
  }
};

struct DeviceOptions {
  std::vector<int64_t> learner;
  std::vector<int64_t> reward;
  std::vector<int64_t> actors;

  template <class V>
  void visit(V& v) {
    v.field(learner, "learner",
            "GPU indices for learner ranks (rank r gets entry r mod n as CUDA_VISIBLE_DEVICES); "
            "empty sets nothing.");
    v.field(reward, "reward", "GPU indices for reward replicas, as for learner: the reward service on its own GPUs.");
    v.field(actors, "actors", "GPU indices for rollout actors, as for learner.");
  }
};

struct LaunchOptions {
  std::string mode = "local";
  int64_t heartbeat_ms = 1000;
  int64_t heartbeat_timeout_s = 60;
  int64_t restart_limit = 0;
  int64_t stop_grace_s = 90;
  int64_t status_interval_s = 10;
  RendezvousOptions rendezvous;
  TransportOptions transport;
  SlurmOptions slurm;
  DeviceOptions devices;

  template <class V>
  void visit(V& v) {
    v.field(mode, "mode", "Where processes run: this machine, or a Slurm job.", Choices{{"local", "slurm"}});
    v.field(heartbeat_ms, "heartbeat_ms",
            "Interval of the heartbeats every process sends the launcher (state, step, policy version).",
            Range::closed(10, 600000));
    v.field(heartbeat_timeout_s, "heartbeat_timeout_s",
            "A process that sends no heartbeat for this long is hung: it is killed, then restarted or the run "
            "stopped as for a dead one. Must exceed launch.heartbeat_ms.",
            Range::closed(1, 86400));
    v.field(restart_limit, "restart_limit",
            "Restarts after failures before the run stops: of each reward replica and rollout actor, alone; "
            "of the learner ranks, together, from the newest checkpoint (their actors restart with them). "
            "0 stops the run at the first failure; rerunning the command resumes.",
            Range::closed(0, 1000));
    v.field(stop_grace_s, "stop_grace_s",
            "After SIGTERM (Ctrl-C, scancel, the end of a run): how long processes have to finish (the learner "
            "its step and a checkpoint, reward replicas their requests) before they are killed. At least "
            "reward.server.drain_timeout_s + 10 is used.",
            Range::closed(1, 86400));
    v.field(status_interval_s, "status_interval_s",
            "Seconds between the launcher's live status lines (one per role: processes running, restarts, "
            "step, policy version, staleness, samples/s, reward, KL); 0 turns them off.",
            Range::closed(0, 3600));
    v.section(rendezvous, "rendezvous", "Where processes find each other.");
    v.section(transport, "transport", "ZeroMQ limits, timeouts and retries.");
    v.section(slurm, "slurm", "Slurm job settings (mode: slurm).");
    v.section(devices, "devices", "Which GPUs each role's processes see (local launch).");
  }
};

struct ExperimentConfig {
  ExperimentOptions experiment;
  PolicyOptions policy;
  RewardOptions reward;
  RolloutOptions rollout;
  LearnerOptions learner;
  LaunchOptions launch;

  template <class V>
  void visit(V& v) {
    v.section(experiment, "experiment", "Run identity and logging.");
    v.section(policy, "policy", "The policy model.");
    v.section(reward, "reward", "The reward service.");
    v.section(rollout, "rollout", "Rollout actors and sampling.");
    v.section(learner, "learner", "Training.");
    v.section(launch, "launch", "Processes, rendezvous and transport.");
  }
};

}  // namespace gramrl
