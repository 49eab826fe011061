#include "rollout/generation_engine.h"

#include <algorithm>
#include <deque>

#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl {
namespace {

struct Active {
  int64_t slot = 0;
  size_t completion = 0;    // index into the result vector
  int64_t next_token = -1;  // sampled, not yet fed to the model; -1 once finished
};

// The state of one generate() call: see NOTE [Continuous batching] for the loop it runs.
class Run {
 public:
  Run(Decoder& decoder, const std::vector<std::vector<int64_t>>& prompts, const GenerationOptions& options,
      const GenerationCallbacks& callbacks, GenerationStats& stats)
      : decoder_(decoder), prompts_(prompts), options_(options), callbacks_(callbacks), stats_(stats) {
    const int64_t n = options.samples_per_prompt;
    results_.resize(prompts.size() * static_cast<size_t>(n));
    for (int64_t s = decoder.maxSlots() - 1; s >= 0; --s) free_slots_.push_back(s);
    for (size_t i = 0; i < prompts.size(); ++i) pending_.push_back(static_cast<int64_t>(i));
  }

  std::vector<Completion> run() {
    double active_sum = 0;
    while (!pending_.empty() || !active_.empty()) {
      // A sample that stops at its first token frees its slot at once: admit again.
      while (admitAndPrefill()) {
      }
      if (active_.empty()) continue;
      active_sum += static_cast<double>(active_.size());
      decodeStep();
    }
    const int64_t decode_steps = stats_.steps - stats_.prefill_steps;
    stats_.mean_active_slots = decode_steps > 0 ? active_sum / static_cast<double>(decode_steps) : 0;
    return std::move(results_);
  }

 private:
  uint64_t promptId(int64_t index) const {
    return options_.prompt_ids.empty() ? static_cast<uint64_t>(index) : options_.prompt_ids[static_cast<size_t>(index)];
  }

  SampledTokens sample(const at::Tensor& logits, const std::vector<Active*>& rows) const {
    std::vector<SamplingParams> params(rows.size(), options_.sampling);
    std::vector<double> uniforms;
    for (const Active* a : rows) {
      const Completion& c = results_[a->completion];
      uniforms.push_back(
          sampleUniform(options_.seed, sequenceId(promptId(c.prompt_index), c.sample_index), c.tokens.size()));
    }
    const int64_t limit = options_.vocab_limit;
    return sampleTokens(limit > 0 && limit < logits.size(1) ? logits.slice(1, 0, limit) : logits, params, uniforms);
  }

  // Records the sampled token of each row; finished rows get next_token = -1.
  void accept(const std::vector<Active*>& rows, const SampledTokens& s) {
    for (size_t i = 0; i < rows.size(); ++i) {
      Active& a = *rows[i];
      Completion& c = results_[a.completion];
      const int64_t token = s.tokens[i];
      c.tokens.push_back(token);
      c.logprobs.push_back(s.logprobs[i]);
      c.policy_logprobs.push_back(s.policy_logprobs[i]);
      if (callbacks_.on_token) callbacks_.on_token(c.prompt_index, c.sample_index, token);
      const auto& stops = options_.stop_token_ids;
      const bool stop = std::find(stops.begin(), stops.end(), token) != stops.end();
      if (stop || static_cast<int64_t>(c.tokens.size()) >= options_.max_new_tokens) {
        c.finish_reason = stop ? FinishReason::kStopToken : FinishReason::kMaxTokens;
        a.next_token = -1;
        if (callbacks_.on_finish) callbacks_.on_finish(c);
      } else {
        a.next_token = token;
      }
    }
  }

  // Moves finished rows' slots back to the free list.
  void retireFinished() {
    std::vector<Active> still;
    for (const auto& a : active_) {
      if (a.next_token >= 0) {
        still.push_back(a);
      } else {
        decoder_.clearSlot(a.slot);
        free_slots_.push_back(a.slot);
      }
    }
    active_.swap(still);
  }

  // Admits the next pending prompts that fit (all n slots of each, max_prefill_tokens in all),
  // prefills them in one step, copies each prefilled slot to its other samples' slots and samples
  // every sample's first token. Returns whether anything was admitted.
  bool admitAndPrefill() {
    const int64_t n = options_.samples_per_prompt;
    std::vector<int64_t> admitted;
    int64_t tokens = 0;
    int64_t longest = 0;
    while (!pending_.empty() &&
           static_cast<int64_t>(free_slots_.size()) >= n * static_cast<int64_t>(admitted.size() + 1)) {
      const auto len = static_cast<int64_t>(prompts_[static_cast<size_t>(pending_.front())].size());
      if (!admitted.empty() && tokens + len > options_.max_prefill_tokens) break;
      admitted.push_back(pending_.front());
      pending_.pop_front();
      tokens += len;
      longest = std::max(longest, len);
    }
    if (admitted.empty()) return false;

    const auto rows = static_cast<int64_t>(admitted.size());
    at::Tensor ids = torch::zeros({rows, longest}, torch::kLong);
    std::vector<int64_t> prefill_slots, lengths;
    const size_t first_new = active_.size();
    for (int64_t r = 0; r < rows; ++r) {
      const auto& prompt = prompts_[static_cast<size_t>(admitted[static_cast<size_t>(r)])];
      std::copy(prompt.begin(), prompt.end(), ids[r].data_ptr<int64_t>());
      for (int64_t k = 0; k < n; ++k) {
        Active a;
        a.slot = free_slots_.back();
        free_slots_.pop_back();
        a.completion = static_cast<size_t>(admitted[static_cast<size_t>(r)] * n + k);
        results_[a.completion].prompt_index = admitted[static_cast<size_t>(r)];
        results_[a.completion].sample_index = k;
        active_.push_back(a);
      }
      prefill_slots.push_back(active_[first_new + static_cast<size_t>(r * n)].slot);
      lengths.push_back(static_cast<int64_t>(prompt.size()));
    }
    at::Tensor logits = decoder_.step(prefill_slots, ids, lengths);
    ++stats_.steps;
    ++stats_.prefill_steps;
    stats_.prefill_tokens += tokens;

    // Every sample of a prompt draws its first token from that prompt's prefill logits.
    std::vector<Active*> new_rows;
    std::vector<int64_t> logit_rows;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < n; ++k) {
        Active& a = active_[first_new + static_cast<size_t>(r * n + k)];
        if (k > 0) {
          decoder_.copySlot(prefill_slots[static_cast<size_t>(r)], a.slot);
          ++stats_.slot_copies;
        }
        new_rows.push_back(&a);
        logit_rows.push_back(r);
      }
    }
    accept(new_rows, sample(logits.index_select(0, torch::tensor(logit_rows, torch::kLong)), new_rows));
    retireFinished();
    return true;
  }

  // Feeds every active sequence its last sampled token and samples the next.
  void decodeStep() {
    const auto rows = static_cast<int64_t>(active_.size());
    std::vector<int64_t> tokens, slots;
    std::vector<Active*> ptrs;
    for (auto& a : active_) {
      tokens.push_back(a.next_token);
      slots.push_back(a.slot);
      ptrs.push_back(&a);
    }
    at::Tensor ids = torch::tensor(tokens, torch::kLong).reshape({rows, 1});
    at::Tensor logits = decoder_.step(slots, ids, std::vector<int64_t>(static_cast<size_t>(rows), 1));
    ++stats_.steps;
    stats_.decode_tokens += rows;
    accept(ptrs, sample(logits, ptrs));
    retireFinished();
  }

  Decoder& decoder_;
  const std::vector<std::vector<int64_t>>& prompts_;
  const GenerationOptions& options_;
  const GenerationCallbacks& callbacks_;
  GenerationStats& stats_;
  std::vector<Completion> results_;
  std::vector<int64_t> free_slots_;
  std::deque<int64_t> pending_;
  std::vector<Active> active_;
};

}  // namespace

uint64_t sequenceId(uint64_t prompt_id, int64_t sample_index) {
  return (prompt_id << 20) ^ static_cast<uint64_t>(sample_index);
}

std::vector<Completion> GenerationEngine::generate(const std::vector<std::vector<int64_t>>& prompts,
                                                   const GenerationOptions& options,
                                                   const GenerationCallbacks& callbacks) {
  const int64_t n = options.samples_per_prompt;
  GRAMRL_CHECK(n >= 1 && n <= decoder_.maxSlots(), ConfigError,
               "samples_per_prompt must be in [1, {}] (the KV-cache slots), got {}", decoder_.maxSlots(), n);
  GRAMRL_CHECK(n < (int64_t{1} << 20), ConfigError, "samples_per_prompt {} is too large", n);
  GRAMRL_CHECK(options.vocab_limit >= 0, ConfigError, "vocab_limit must be >= 0, got {}", options.vocab_limit);
  GRAMRL_CHECK(options.max_new_tokens >= 1, ConfigError, "max_new_tokens must be >= 1, got {}", options.max_new_tokens);
  GRAMRL_CHECK(options.prompt_ids.empty() || options.prompt_ids.size() == prompts.size(), ConfigError,
               "{} prompt ids for {} prompts", options.prompt_ids.size(), prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto len = static_cast<int64_t>(prompts[i].size());
    GRAMRL_CHECK(len >= 1, ConfigError, "prompt {} is empty", i);
    GRAMRL_CHECK(len + options.max_new_tokens <= decoder_.maxLength(), ConfigError,
                 "prompt {} has {} tokens; with max_new_tokens {} it needs {} cache positions, the cache holds {}", i,
                 len, options.max_new_tokens, len + options.max_new_tokens, decoder_.maxLength());
    for (int64_t t : prompts[i]) {
      GRAMRL_CHECK(t >= 0 && t < decoder_.vocabSize(), ConfigError, "prompt {} has token id {} outside [0, {})", i, t,
                   decoder_.vocabSize());
    }
  }
  stats_ = GenerationStats{};
  return Run(decoder_, prompts, options, callbacks, stats_).run();
}

}  // namespace gramrl
