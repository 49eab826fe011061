#include "launch/gram_eval_command.h"

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include <fmt/core.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/model/presets.h"
#include "common/model/pretrained.h"
#include "common/tokenizer/tokenizer.h"
#include "common/tokenizer/tokenizer_source.h"
#include "learner/engine/sequence_batch.h"
#include "reward/gram/gram_judge.h"
#include "reward/gram/pair_eval.h"
#include "reward/gram/pair_scorers.h"
#include "reward/gram/scalar_scorers.h"

namespace gramrl::cli {
namespace {

constexpr double kProgressIntervalS = 10;

void checkArgs(const GramEvalArgs& args) {
  GRAMRL_CHECK(!args.model.empty(), ConfigError, "gram eval: --model is required");
  GRAMRL_CHECK(!args.data.empty(), ConfigError, "gram eval: give at least one JSONL pair file");
  GRAMRL_CHECK(args.kind == "gram" || args.kind == "bradley_terry" || args.kind == "likelihood", ConfigError,
               "gram eval: --kind: expected gram, bradley_terry or likelihood, got '{}'", args.kind);
  GRAMRL_CHECK(args.batch_size >= 1, ConfigError, "gram eval: --batch-size must be at least 1, got {}",
               args.batch_size);
  GRAMRL_CHECK(args.max_tokens >= 8, ConfigError, "gram eval: --max-tokens must be at least 8, got {}",
               args.max_tokens);
  GRAMRL_CHECK(args.threads >= 0, ConfigError, "gram eval: --threads must be >= 0, got {}", args.threads);
  gram::judgeTemplate(args.judge_template);  // throws ConfigError for an unknown name
}

// Logs "scored k/n pairs" at most every kProgressIntervalS, and at the end.
class ProgressLog {
 public:
  explicit ProgressLog(int64_t total) : total_(total), start_(Clock::now()), last_(start_) {}
  void operator()(int64_t done) {
    const auto now = Clock::now();
    if (done < total_ && std::chrono::duration<double>(now - last_).count() < kProgressIntervalS) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    log::info("scored {}/{} pairs in {:.1f} s ({:.1f} pairs/s)", done, total_, secs,
              secs > 0 ? static_cast<double>(done) / secs : 0.0);
  }

 private:
  using Clock = std::chrono::steady_clock;
  int64_t total_;
  Clock::time_point start_, last_;
};

}  // namespace

int runGramEval(const GramEvalArgs& args) {
  log::setIdentity("gram-eval");
  checkArgs(args);
  const int threads = args.threads > 0 ? static_cast<int>(args.threads)
                                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);

  std::vector<gram::EvalPair> pairs;
  for (const auto& path : args.data) {
    auto more = gram::readEvalPairs(path);
    log::info("{}: {} pairs", path, more.size());
    pairs.insert(pairs.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }

  const std::string tokenizer_spec = tokenizer::resolveTokenizerSpec(args.model, args.tokenizer);
  const auto tok = tokenizer::loadTokenizer(tokenizer_spec);
  const std::string chat_template = args.chat_template == "auto" ? tok->chatTemplateName() : args.chat_template;
  GRAMRL_CHECK(!chat_template.empty(), ConfigError,
               "gram eval: tokenizer {} ships no chat template gramrl knows; pass --chat-template", tokenizer_spec);

  const bool cuda = torch::cuda::is_available();
  const at::Device device = cuda ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  const at::ScalarType dtype = cuda ? at::kBFloat16 : at::kFloat;
  // A built-in preset has no trained value head anyway; give it one so the command runs end to end.
  const bool value_head = args.kind == "bradley_terry" && isBuiltinSource(args.model);
  auto model = loadPretrained(args.model, dtype, device, PretrainedOptions{0, value_head});
  GRAMRL_CHECK(tok->vocabSize() <= model->config().vocab_size, ConfigError,
               "gram eval: the tokenizer {} has {} tokens, more than the model's vocabulary of {}", tokenizer_spec,
               tok->vocabSize(), model->config().vocab_size);
  log::info("{} pairs; model {} ({}, {}), kind {}, chat template {}, judge template {}", pairs.size(), args.model,
            device.str(), torchDtypeName(dtype), args.kind, chat_template, args.judge_template);

  const gram::JudgeTemplate& judge_template = gram::judgeTemplate(args.judge_template);
  std::unique_ptr<gram::GramJudge> judge;
  std::unique_ptr<gram::ScalarScorer> scalar;
  std::unique_ptr<gram::PairScorer> scorer;
  if (args.kind == "gram") {
    judge = std::make_unique<gram::GramJudge>(
        model, gram::JudgeEncoder(*tok, chat_template, judge_template, args.max_tokens), args.batch_size);
    scorer = std::make_unique<gram::GramPairScorer>(*judge);
  } else {
    if (args.kind == "bradley_terry") {
      // Half the budget each way: ChatEncoder cuts prompt and response separately.
      scalar = std::make_unique<gram::BradleyTerryScorer>(
          model, ChatEncoder(*tok, chat_template, args.max_tokens / 2, args.max_tokens - args.max_tokens / 2),
          args.batch_size);
    } else {
      scalar = std::make_unique<gram::LikelihoodJudge>(
          model, *tok, gram::JudgeEncoder(*tok, chat_template, judge_template, args.max_tokens), args.batch_size);
    }
    scorer = std::make_unique<gram::ScalarPairScorer>(*scalar);
  }

  ProgressLog progress(static_cast<int64_t>(pairs.size()));
  // Chunks of a few batches: progress is reported between them, and sorting by length within a
  // chunk still groups similar rows.
  const int64_t chunk = std::max<int64_t>(args.batch_size * 8, 64);
  const auto scored = gram::scorePairs(pairs, *scorer, chunk, [&](int64_t done) { progress(done); });
  const gram::AccuracyReport report = gram::tallyAccuracy(scorer->views(), scored);

  std::cout << gram::markdownTable(report) << std::flush;
  if (!args.out_json.empty()) {
    nlohmann::json j = gram::reportJson(report);
    j["model"] = args.model;
    j["tokenizer"] = tokenizer_spec;
    j["kind"] = args.kind;
    j["chat_template"] = chat_template;
    if (args.kind != "bradley_terry") j["judge_template"] = args.judge_template;
    j["data"] = args.data;
    j["max_tokens"] = args.max_tokens;
    checkpoint::writeFileAtomically(args.out_json, j.dump(2) + "\n");
    log::info("wrote {}", args.out_json);
  }
  return 0;
}

}  // namespace gramrl::cli
