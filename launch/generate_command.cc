#include "launch/generate_command.h"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/core.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/data/json_line.h"
#include "common/model/model_loader.h"
#include "common/tokenizer/chat_encoder.h"
#include "common/tokenizer/chat_template.h"
#include "common/tokenizer/tokenizer.h"
#include "common/tokenizer/unicode.h"
#include "launch/generation_limits.h"
#include "rollout/generation_engine.h"
#include "rollout/transformer_decoder.h"

namespace gramrl::cli {
namespace {

std::vector<std::string> readPromptsFile(const std::string& path) {
  data::checkInputFile(path, "--prompts");
  std::ifstream in(path);
  GRAMRL_CHECK(in.good(), DataError, "{}: cannot open the prompts file", path);
  std::vector<std::string> prompts;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json j = data::parseJsonLine(line, fmt::format("{}:{}", path, number));
    GRAMRL_CHECK(j.is_object() && j.contains("prompt") && j["prompt"].is_string(), DataError,
                 "{}:{}: expected an object with a string field \"prompt\"", path, number);
    prompts.push_back(j["prompt"].get<std::string>());
  }
  return prompts;
}

}  // namespace

int runGenerate(const GenerateArgs& args) {
  log::setIdentity("generate");
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  std::vector<std::string> texts = args.prompts;
  if (!args.prompts_file.empty()) {
    const auto more = readPromptsFile(args.prompts_file);
    texts.insert(texts.end(), more.begin(), more.end());
  }
  GRAMRL_CHECK(!texts.empty(), ConfigError, "generate: no prompts (give them as arguments or with --prompts FILE)");
  GRAMRL_CHECK(args.system.empty() || !args.chat_template.empty(), ConfigError,
               "generate: --system needs --chat-template (a template name or auto) to put it in; without a "
               "template the prompt is fed as plain text");

  // An explicit --tokenizer; builtin:bytes for builtin:<preset>; the checkpoint's own tokenizer.json,
  // or the spec a gramrl trainer recorded in gramrl_tokenizer.json (tokenizer_source.h). No chat
  // template (the default, or auto with a tokenizer that has none) means raw-text prompts.
  ModelLoadSpec spec;
  spec.model = args.model;
  spec.tokenizer = args.tokenizer;
  spec.chat_template = args.chat_template;
  spec.where = "generate";
  spec.require_chat_template = false;
  spec.pretrained.seed = args.seed;
  const LoadedModel loaded = loadModelWithTokenizer(spec, torch::kCPU);
  const std::unique_ptr<tokenizer::Tokenizer>& tok = loaded.tokenizer;

  // The trainers' prompt encoder, so that a prompt is truncated here as in training.
  std::optional<tokenizer::ChatEncoder> chat;
  if (!loaded.chat_template.empty())
    chat.emplace(*tok, loaded.chat_template, args.max_prompt_tokens, args.max_new_tokens);
  std::optional<std::string> system;
  if (!args.system.empty()) system = args.system;
  std::vector<std::vector<int64_t>> prompts;
  int64_t longest = 0;
  for (const auto& text : texts) {
    prompts.push_back(chat ? chat->prompt(system, text)
                           : tokenizer::encodeRawPrompt(*tok, text, args.max_prompt_tokens));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(prompts.back().size()));
  }

  GenerationOptions opts;
  opts.sampling = {args.temperature, args.top_k, args.top_p};
  opts.max_new_tokens = args.max_new_tokens;
  opts.samples_per_prompt = args.samples;
  opts.seed = args.seed;
  opts.vocab_limit = tok->vocabSize();  // never sample an id the tokenizer cannot decode
  for (auto id : tok->specialTokens().stop) opts.stop_token_ids.push_back(id);
  const int64_t slots = std::max<int64_t>(
      args.samples, std::min<int64_t>(args.max_batch, static_cast<int64_t>(prompts.size()) * args.samples));
  {  // before the KV cache is allocated (issue 15)
    GenerationSizes sizes;
    for (const auto& p : prompts) sizes.prompt_tokens.push_back(static_cast<int64_t>(p.size()));
    sizes.max_new_tokens = args.max_new_tokens;
    sizes.samples = args.samples;
    sizes.slots = slots;
    checkGenerationSizes(loaded.model->config(), sizes, availableMemoryBytes());
  }
  TransformerDecoder decoder(loaded.model, slots, longest + args.max_new_tokens);
  GenerationEngine engine(decoder);

  const bool stream = args.stream && !args.jsonl && prompts.size() == 1 && args.samples == 1;
  std::vector<tokenizer::TokenId> streamed;
  std::string printed;
  GenerationCallbacks cb;
  if (stream) {
    cb.on_token = [&](int64_t, int64_t, int64_t token) {
      streamed.push_back(static_cast<tokenizer::TokenId>(token));
      const std::string text = tok->decode(streamed, true);
      if (text.size() > printed.size() && text.compare(0, printed.size(), printed) == 0) {
        std::cout << text.substr(printed.size()) << std::flush;
        printed = text;
      }
    };
  }
  const auto start = std::chrono::steady_clock::now();
  const auto completions = engine.generate(prompts, opts, cb);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (stream) std::cout << "\n";

  for (const auto& c : completions) {
    const std::vector<tokenizer::TokenId> ids(c.tokens.begin(), c.tokens.end());
    const std::string text = tokenizer::toValidUtf8(tok->decode(ids, true));
    const char* reason = c.finish_reason == FinishReason::kStopToken ? "stop" : "length";
    if (args.jsonl) {
      nlohmann::json j{{"prompt_index", c.prompt_index},
                       {"sample_index", c.sample_index},
                       {"prompt", texts[static_cast<size_t>(c.prompt_index)]},
                       {"text", text},
                       {"tokens", c.tokens},
                       {"logprobs", c.policy_logprobs},
                       {"finish_reason", reason}};
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else if (!stream) {
      std::cout << fmt::format("--- prompt {} sample {} ({} tokens, {})\n{}\n", c.prompt_index, c.sample_index,
                               c.tokens.size(), reason, text);
    }
  }
  const auto& st = engine.stats();
  log::info("{} completions, {} tokens in {:.2f} s ({:.0f} tokens/s); {} steps, {:.1f} sequences per decode step",
            completions.size(), st.decode_tokens + static_cast<int64_t>(completions.size()), secs,
            static_cast<double>(st.decode_tokens + static_cast<int64_t>(completions.size())) / secs, st.steps,
            st.mean_active_slots);
  return 0;
}

}  // namespace gramrl::cli
