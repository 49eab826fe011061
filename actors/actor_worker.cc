#include "actors/actor_worker.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include <torch/torch.h>

#include "actors/prompt_source.h"
#include "actors/weight_receiver.h"
#include "common/config/config_loader.h"
#include "common/config/experiment_config.h"
#include "common/control/heartbeat_sender.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/model/pretrained.h"
#include "common/model/sequence_batch.h"
#include "common/model/transformer.h"
#include "common/rendezvous/rendezvous.h"
#include "common/tokenizer/chat_encoder.h"
#include "common/tokenizer/tokenizer.h"
#include "common/tokenizer/tokenizer_source.h"
#include "common/tokenizer/unicode.h"
#include "common/transport/message_socket.h"
#include "common/world/gold.h"
#include "reward/service/reward_client.h"
#include "rollout/generation_engine.h"
#include "rollout/trajectory.h"
#include "rollout/transformer_decoder.h"
#include "schemas/rollout.capnp.h"

namespace gramrl {
namespace {

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The text of generated ids as the reward model reads it: a byte-level policy can sample bytes
// that are not UTF-8 (the service refuses those), so ill-formed sequences become U+FFFD, as
// Hugging Face's decode() does.
std::string responseText(const tokenizer::Tokenizer& tok, const std::vector<int64_t>& ids) {
  return tokenizer::toValidUtf8(tok.decode(std::vector<tokenizer::TokenId>(ids.begin(), ids.end()), true));
}

bool needsReference(const RewardOptions& reward) {
  if (reward.backend == "gram") return true;
  if (reward.backend != "composite") return false;
  for (const auto& c : reward.composite.components) {
    if (c == "gram") return true;
  }
  return false;
}

// Request/reply with learner rank 0 on the rollout channel.
class LearnerLink {
 public:
  LearnerLink(transport::ZmqContext& context, const std::string& endpoint, std::chrono::milliseconds timeout)
      : socket_(context, transport::SocketType::kDealer, transport::Channel::kRollout), timeout_(timeout) {
    socket_.connect(endpoint);
  }

  std::shared_ptr<transport::IncomingMessage> call(transport::OutgoingMessage&& message) {
    socket_.send(std::move(message), transport::deadlineAfter(timeout_));
    auto received = socket_.recv(transport::deadlineAfter(timeout_));
    GRAMRL_CHECK(received.has_value(), Timeout, "the learner did not answer within {} ms (is learner rank 0 alive?)",
                 timeout_.count());
    GRAMRL_CHECK(received->ok(), ProtocolError, "malformed reply from the learner: {}", received->error);
    auto out = std::make_shared<transport::IncomingMessage>(std::move(received->message));
    const auto root = out->getRoot<wire::RolloutMessage>();
    GRAMRL_CHECK(root.which() != wire::RolloutMessage::ERROR, ProtocolError, "the learner refused: {}",
                 std::string(root.getError().cStr()));
    return out;
  }

  uint64_t nextSeq() { return ++seq_; }

 private:
  transport::MessageSocket socket_;
  std::chrono::milliseconds timeout_;
  uint64_t seq_ = 0;
};

}  // namespace

GenerationOptions rolloutGenerationOptions(const ExperimentConfig& config, const tokenizer::Tokenizer& tok,
                                           int64_t end_of_turn_id) {
  const RolloutOptions& ro = config.rollout;
  GenerationOptions gen;
  gen.sampling = SamplingParams{ro.temperature, ro.top_k, ro.top_p};
  gen.max_new_tokens = config.policy.max_new_tokens;
  for (auto id : tok.specialTokens().stop) gen.stop_token_ids.push_back(id);
  gen.stop_token_ids.push_back(end_of_turn_id);
  gen.samples_per_prompt = ro.samples_per_prompt;
  gen.seed = static_cast<uint64_t>(config.experiment.seed);
  gen.vocab_limit = tok.vocabSize();
  return gen;
}

int runActorWorker(const ActorWorkerArgs& args) {
  log::setIdentity("actor", args.index);
  const ExperimentConfig config = loadExperimentConfig(args.config);
  log::setLevel(log::parseLevel(config.experiment.log_level));
  // NOTE [Heartbeats]: step = batches handed in; policy version from log::setPolicyVersion.
  const auto heartbeat = control::HeartbeatSender::fromEnvironment(
      "actor", args.index, std::chrono::milliseconds(config.launch.heartbeat_ms));
  at::set_num_threads(static_cast<int>(config.rollout.threads));
  const RolloutOptions& ro = config.rollout;
  const auto timeout = std::chrono::milliseconds(config.launch.transport.request_timeout_ms);
  const auto rendezvous_timeout = std::chrono::seconds(config.launch.rendezvous.timeout_s);

  auto store = Rendezvous::connect(RendezvousAddress::parse(args.rendezvous), rendezvous_timeout);
  const std::string rollout_endpoint = store->lookup("learner", 0, "rollout", rendezvous_timeout);
  const std::string weights_endpoint = store->lookup("learner", 0, "weights", rendezvous_timeout);
  std::vector<std::string> reward_endpoints;
  for (int64_t i = 0; i < config.reward.replicas; ++i) {
    reward_endpoints.push_back(store->lookup("reward", i, "zmq", rendezvous_timeout));
  }

  const auto seed = static_cast<uint64_t>(config.experiment.seed);
  const std::string tokenizer_spec = tokenizer::resolveTokenizerSpec(config.policy.model, config.policy.tokenizer);
  auto tok = tokenizer::loadTokenizer(tokenizer_spec);
  std::shared_ptr<Transformer> model =
      loadPretrained(config.policy.model, torch::kFloat, torch::kCPU, PretrainedOptions{seed, false});
  GRAMRL_CHECK(tok->vocabSize() <= model->config().vocab_size, ConfigError,
               "policy.tokenizer {} has {} tokens, more than the vocabulary of policy.model {} ({})", tokenizer_spec,
               tok->vocabSize(), config.policy.model, model->config().vocab_size);
  const std::string template_name =
      config.policy.chat_template == "auto" ? tok->chatTemplateName() : config.policy.chat_template;
  GRAMRL_CHECK(!template_name.empty(), ConfigError, "policy.chat_template: the tokenizer {} ships no chat template",
               tokenizer_spec);
  const tokenizer::ChatEncoder encoder(*tok, template_name, config.policy.max_prompt_tokens,
                                       config.policy.max_new_tokens);
  torch::NoGradGuard no_grad;
  model->eval();

  PromptSource prompts(config);
  const bool with_reference = needsReference(config.reward);
  const bool with_baseline = needsGreedyBaseline(config.learner.algorithm);
  transport::ZmqContext context;
  transport::ReceiveLimits limits;
  limits.max_message_bytes = static_cast<size_t>(config.launch.transport.max_message_mb) << 20;
  LearnerLink learner(context, rollout_endpoint, timeout);
  WeightReceiver weights(context, weights_endpoint, limits, timeout);
  reward::RewardClient rewards(context, reward::RewardClientOptions::fromConfig(config, reward_endpoints));

  GenerationOptions gen = rolloutGenerationOptions(config, *tok, encoder.endOfTurnId());
  GenerationOptions greedy = gen;
  greedy.sampling = SamplingParams{0.0, 0, 1.0};
  greedy.samples_per_prompt = 1;

  const int64_t slots = ro.batch_size * ro.samples_per_prompt;
  TransformerDecoder decoder(model, slots, config.policy.max_prompt_tokens + config.policy.max_new_tokens + 1);
  GenerationEngine engine(decoder);
  int64_t version = 0;
  int64_t batches = 0;
  log::info("actor {}: {} prompts per batch x {} samples, reward replicas {}, {}", args.index, ro.batch_size,
            ro.samples_per_prompt, reward_endpoints.size(), prompts.isWorld() ? "built-in world" : ro.prompts);

  if (heartbeat) heartbeat->setPhase(control::ProcessPhase::kBusy);
  for (;;) {
    transport::OutgoingMessage request;
    auto root = request.initRoot<wire::RolloutMessage>();
    root.setSeq(learner.nextSeq());
    auto lr = root.initLeaseRequest();
    lr.setActorId(static_cast<uint32_t>(args.index));
    lr.setMaxPrompts(static_cast<uint32_t>(ro.batch_size));
    lr.setPolicyVersion(static_cast<uint64_t>(version));
    auto reply = learner.call(std::move(request));
    const auto grant = reply->getRoot<wire::RolloutMessage>().getLeaseGrant();
    if (grant.getFinished()) break;
    const auto leases = grant.getLeases();
    if (leases.size() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(grant.getRetryAfterMs()));
      continue;
    }
    const auto t_weights = Clock::now();
    double weights_s = 0.0;
    uint64_t min_version = 0;
    for (const auto l : leases) min_version = std::max<uint64_t>(min_version, l.getMinVersion());
    if (static_cast<int64_t>(grant.getLatestVersion()) > version) {
      version = weights.fetchInto(*model);
      weights_s = secondsSince(t_weights);
      log::setPolicyVersion(version);
      log::debug("fetched weights version {} ({} bytes) in {:.3f} s", version, weights.lastBytes(), weights_s);
    }
    GRAMRL_CHECK(version >= static_cast<int64_t>(min_version), ProtocolError,
                 "leases need weights version {}, the learner served {}", min_version, version);

    std::vector<uint64_t> lease_ids;
    std::vector<data::PromptExample> examples;
    std::vector<std::vector<int64_t>> prompt_tokens;
    gen.prompt_ids.clear();
    for (const auto l : leases) {
      lease_ids.push_back(l.getLeaseId());
      examples.push_back(prompts.at(l.getPromptId()));
      prompt_tokens.push_back(encoder.prompt(examples.back().system, examples.back().prompt));
      gen.prompt_ids.push_back(l.getPromptId());
    }
    greedy.prompt_ids = gen.prompt_ids;
    const auto t_gen = Clock::now();
    const auto completions = engine.generate(prompt_tokens, gen);
    // The greedy responses: GRAM's references and ReMax's baselines, one generation for both.
    std::vector<std::string> references(examples.size());
    if (with_reference || with_baseline) {
      for (const auto& c : engine.generate(prompt_tokens, greedy)) {
        references[static_cast<size_t>(c.prompt_index)] = responseText(*tok, c.tokens);
      }
    }
    const double generation_s = secondsSince(t_gen);

    reward::ScoreRequest score;
    score.kind = reward::RequestKind::kPointwise;
    score.policy_version = static_cast<uint64_t>(version);
    std::vector<std::string> texts;
    for (const auto& c : completions) {
      const auto& ex = examples[static_cast<size_t>(c.prompt_index)];
      texts.push_back(responseText(*tok, c.tokens));
      reward::PointwiseItem item;
      item.prompt = ex.prompt;
      item.response = texts.back();
      item.reference = references[static_cast<size_t>(c.prompt_index)];
      item.has_reference = with_reference;  // the greedy answer may be empty
      item.label = ex.reference.value_or("");
      score.pointwise.push_back(std::move(item));
    }
    if (with_baseline) {
      // Scored like any sample; against itself as GRAM's reference it gets transform(1/2) when debiased.
      for (size_t p = 0; p < examples.size(); ++p) {
        reward::PointwiseItem item;
        item.prompt = examples[p].prompt;
        item.response = references[p];
        item.reference = references[p];
        item.has_reference = with_reference;
        item.label = examples[p].reference.value_or("");
        score.pointwise.push_back(std::move(item));
      }
    }
    const auto t_reward = Clock::now();
    const reward::ScoreReply scored = rewards.score(score);
    const double reward_s = secondsSince(t_reward);
    GRAMRL_CHECK(scored.scores.size() == score.pointwise.size(), ProtocolError,
                 "the reward service returned {} scores for {} items", scored.scores.size(), score.pointwise.size());

    std::vector<Trajectory> batch;
    double reward_sum = 0.0;
    for (size_t i = 0; i < completions.size(); ++i) {
      const auto& c = completions[i];
      const auto p = static_cast<size_t>(c.prompt_index);
      Trajectory t;
      t.lease_id = lease_ids[p];
      t.prompt_id = gen.prompt_ids[p];
      t.sample_index = static_cast<uint32_t>(c.sample_index);
      t.policy_version = version;
      t.prompt.assign(prompt_tokens[p].begin(), prompt_tokens[p].end());
      t.response.assign(c.tokens.begin(), c.tokens.end());
      t.behaviour_logprobs = c.policy_logprobs;
      t.reward = static_cast<float>(scored.scores[i]);
      t.gold = prompts.isWorld() ? static_cast<float>(world::goldScore(examples[p].prompt, texts[i]))
                                 : std::numeric_limits<float>::quiet_NaN();
      t.stopped = c.finish_reason == FinishReason::kStopToken;
      if (with_baseline) t.baseline_reward = static_cast<float>(scored.scores[completions.size() + p]);
      reward_sum += t.reward;
      batch.push_back(std::move(t));
    }
    auto ack_message = learner.call(encodeTrajectoryBatch(learner.nextSeq(), static_cast<uint32_t>(args.index), batch,
                                                          BatchTimes{generation_s, reward_s, weights_s}));
    const auto ack = ack_message->getRoot<wire::RolloutMessage>();
    GRAMRL_CHECK(ack.which() == wire::RolloutMessage::BATCH_ACK, ProtocolError, "expected a batch acknowledgement");
    ++batches;
    if (heartbeat) heartbeat->setStep(batches);
    log::info(
        "batch {}: {} prompts, {} samples, v{}, reward {:.3f}, gen {:.2f} s, reward {:.2f} s, weights {:.2f} s; "
        "kept {}, duplicate {}, rejected {}",
        batches, leases.size(), batch.size(), version, reward_sum / static_cast<double>(batch.size()), generation_s,
        reward_s, weights_s, ack.getBatchAck().getAccepted(), ack.getBatchAck().getDuplicates(),
        ack.getBatchAck().getRejected());
  }
  log::info("actor {}: the run is finished after {} batches", args.index, batches);
  return 0;
}

}  // namespace gramrl
