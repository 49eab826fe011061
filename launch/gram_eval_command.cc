#include "launch/gram_eval_command.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <thread>
#include <utility>

#include <fmt/core.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/data/json_line.h"
#include "common/data/line_reader.h"
#include "common/model/model_loader.h"
#include "common/model/presets.h"
#include "common/model/pretrained.h"
#include "common/tokenizer/chat_encoder.h"
#include "common/tokenizer/tokenizer.h"
#include "common/tokenizer/tokenizer_source.h"
#include "launch/generation_limits.h"
#include "reward/gram/benchmark_scores.h"
#include "reward/gram/best_of_n.h"
#include "reward/gram/gram_judge.h"
#include "reward/gram/pair_eval.h"
#include "reward/gram/pair_scorers.h"
#include "reward/gram/scalar_scorers.h"

namespace gramrl::cli {
namespace {

// GramEvalArgs::pair_scores: one JSON line per pair, in input order.
void writePairScores(const std::string& path, const std::vector<std::string>& views,
                     const std::vector<gram::EvalPair>& pairs, const std::vector<gram::ScoredPair>& scored) {
  GRAMRL_ASSERT(pairs.size() == scored.size());
  std::string text;
  std::map<std::string, int64_t> index_in_file;
  for (size_t k = 0; k < scored.size(); ++k) {
    GRAMRL_ASSERT(scored[k].margins.size() == views.size());
    nlohmann::json line = {{"file", pairs[k].file}, {"index", index_in_file[pairs[k].file]++}};
    for (size_t v = 0; v < views.size(); ++v) line["views"][views[v]] = scored[k].margins[v];
    text += line.dump() + "\n";
  }
  checkpoint::writeFileAtomically(path, text);
  log::info("wrote {} pair scores to {}", scored.size(), path);
}

constexpr double kProgressIntervalS = 10;

void checkArgs(const GramEvalArgs& args) {
  GRAMRL_CHECK(!args.model.empty(), ConfigError, "gram eval: --model is required");
  GRAMRL_CHECK(!args.data.empty() || !args.best_of_n.empty(), ConfigError,
               "gram eval: give at least one JSONL pair file, or candidate sets with --best-of-n");
  GRAMRL_CHECK(args.n_max >= 1, ConfigError, "gram eval: --n-max must be at least 1, got {}", args.n_max);
  GRAMRL_CHECK(args.gold == "world", ConfigError,
               "gram eval: --gold: expected world (the gold scores gramrl world candidates stores in each candidate "
               "set), got '{}'",
               args.gold);
  GRAMRL_CHECK(args.kind == "gram" || args.kind == "bradley_terry" || args.kind == "likelihood", ConfigError,
               "gram eval: --kind: expected gram, bradley_terry or likelihood, got '{}'", args.kind);
  GRAMRL_CHECK(args.batch_size >= 1, ConfigError, "gram eval: --batch-size must be at least 1, got {}",
               args.batch_size);
  GRAMRL_CHECK(args.max_tokens >= 8, ConfigError, "gram eval: --max-tokens must be at least 8, got {}",
               args.max_tokens);
  checkThreadCount(args.threads, "gram eval: --threads");  // each thread is real: bounded
  gram::judgeTemplate(args.judge_template);                // throws ConfigError for an unknown name
  if (!args.benchmark.empty()) {
    gram::parseBenchmark(args.benchmark);  // throws ConfigError for an unknown name
    GRAMRL_CHECK(!args.data.empty(), ConfigError, "gram eval: --benchmark {} needs the benchmark's pair file(s)",
                 args.benchmark);
  }
}

// Logs "scored k/n pairs" at most every kProgressIntervalS, and at the end.
class ProgressLog {
 public:
  explicit ProgressLog(int64_t total, std::string what = "pairs")
      : total_(total), what_(std::move(what)), start_(Clock::now()), last_(start_) {}
  void operator()(int64_t done) {
    const auto now = Clock::now();
    if (done < total_ && std::chrono::duration<double>(now - last_).count() < kProgressIntervalS) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    log::info("scored {}/{} {} in {:.1f} s ({:.1f} {}/s)", done, total_, what_, secs,
              secs > 0 ? static_cast<double>(done) / secs : 0.0, what_);
  }

 private:
  using Clock = std::chrono::steady_clock;
  int64_t total_;
  std::string what_;
  Clock::time_point start_, last_;
};

}  // namespace

std::vector<CandidateSet> readCandidateSets(const std::string& path) {
  constexpr int64_t kMaxLineBytes = 64 << 20;
  data::LineReader reader(path, kMaxLineBytes);
  std::vector<CandidateSet> out;
  data::Line line;
  while (reader.next(&line)) {
    const std::string source = fmt::format("{}:{}", path, line.number);
    GRAMRL_CHECK(!line.too_long, DataError, "{}: the line is longer than {} bytes", source, kMaxLineBytes);
    if (line.text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json row = data::parseJsonLine(line.text, source);  // strict: repeated keys are errors
    GRAMRL_CHECK(row.is_object(), DataError, "{}: expected a JSON object (a row of gramrl world candidates)", source);
    CandidateSet set;
    GRAMRL_CHECK(row.contains("prompt") && row["prompt"].is_string(), DataError,
                 "{}: expected a string (field 'prompt')", source);
    set.prompt = row["prompt"].get<std::string>();
    if (row.contains("system") && row["system"].is_string()) set.system = row["system"].get<std::string>();
    for (const char* key : {"category", "family"}) {
      if (row.contains(key) && row[key].is_string()) {
        set.category = row[key].get<std::string>();
        break;
      }
    }
    GRAMRL_CHECK(row.contains("candidates") && row["candidates"].is_array() && !row["candidates"].empty(), DataError,
                 "{}: expected a non-empty list of strings (field 'candidates')", source);
    GRAMRL_CHECK(row.contains("gold") && row["gold"].is_array(), DataError,
                 "{}: expected a list of gold scores (field 'gold'); `gramrl world candidates` writes them", source);
    GRAMRL_CHECK(row["gold"].size() == row["candidates"].size(), DataError,
                 "{}: {} candidates but {} gold scores (fields 'candidates', 'gold')", source, row["candidates"].size(),
                 row["gold"].size());
    for (size_t i = 0; i < row["candidates"].size(); ++i) {
      GRAMRL_CHECK(row["candidates"][i].is_string(), DataError, "{}: expected a string (field 'candidates[{}]')",
                   source, i);
      GRAMRL_CHECK(row["gold"][i].is_number() && std::isfinite(row["gold"][i].get<double>()), DataError,
                   "{}: expected a finite number (field 'gold[{}]')", source, i);
      set.candidates.push_back(row["candidates"][i].get<std::string>());
      set.gold.push_back(row["gold"][i].get<double>());
    }
    out.push_back(std::move(set));
  }
  GRAMRL_CHECK(!out.empty(), DataError, "{}: no candidate sets in the file", path);
  return out;
}

std::vector<int64_t> bestOfNSizes(int64_t n_max) {
  GRAMRL_CHECK(n_max >= 1, ConfigError, "best-of-n: n_max must be at least 1, got {}", n_max);
  std::vector<int64_t> sizes;
  for (int64_t n = 1; n <= n_max; n *= 2) sizes.push_back(n);
  if (sizes.back() != n_max) sizes.push_back(n_max);
  return sizes;
}

BestOfNCurve bestOfNCurve(const std::vector<CandidateSet>& sets, int64_t n_max, const BestOfNSelector& select,
                          const std::function<void(int64_t)>& on_progress) {
  const std::vector<int64_t> sizes = bestOfNSizes(n_max);
  BestOfNCurve curve;
  for (int64_t n : sizes) curve.points.push_back(BestOfNPoint{n});
  for (const CandidateSet& set : sets) {
    GRAMRL_CHECK(static_cast<int64_t>(set.candidates.size()) >= n_max, DataError,
                 "best-of-n: prompt \"{}\" has {} candidates, fewer than n_max = {}", set.prompt, set.candidates.size(),
                 n_max);
    const std::vector<int64_t> picks = select(set, sizes);
    GRAMRL_ASSERT(picks.size() == sizes.size(), "selector returned {} picks for {} sizes", picks.size(), sizes.size());
    for (size_t k = 0; k < sizes.size(); ++k) {
      const int64_t n = sizes[k];
      GRAMRL_ASSERT(picks[k] >= 0 && picks[k] < n, "selector picked {} of the first {}", picks[k], n);
      double best = set.gold[0], sum = 0, exact = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double g = set.gold[static_cast<size_t>(i)];
        best = std::max(best, g);
        sum += g;
        exact += g == 1.0 ? 1.0 : 0.0;
      }
      const double chosen = set.gold[static_cast<size_t>(picks[k])];
      BestOfNPoint& p = curve.points[k];
      p.selected += chosen;
      p.oracle += best;
      p.random += sum / static_cast<double>(n);
      p.selected_exact += chosen == 1.0 ? 1.0 : 0.0;
      p.oracle_exact += best == 1.0 ? 1.0 : 0.0;
      p.random_exact += exact / static_cast<double>(n);
    }
    ++curve.prompts;
    if (on_progress) on_progress(curve.prompts);
  }
  if (curve.prompts > 0) {
    const auto count = static_cast<double>(curve.prompts);
    for (BestOfNPoint& p : curve.points) {
      for (double* v : {&p.selected, &p.oracle, &p.random, &p.selected_exact, &p.oracle_exact, &p.random_exact}) {
        *v /= count;
      }
    }
  }
  return curve;
}

std::string bestOfNMarkdown(const BestOfNCurve& curve) {
  std::string out =
      "| n | model | oracle | random | model exact | oracle exact | random exact |\n|---|---|---|---|---|---|---|\n";
  for (const BestOfNPoint& p : curve.points) {
    out += fmt::format("| {} | {:.4f} | {:.4f} | {:.4f} | {:.4f} | {:.4f} | {:.4f} |\n", p.n, p.selected, p.oracle,
                       p.random, p.selected_exact, p.oracle_exact, p.random_exact);
  }
  return out;
}

nlohmann::json bestOfNJson(const BestOfNCurve& curve) {
  nlohmann::json points = nlohmann::json::array();
  for (const BestOfNPoint& p : curve.points) {
    points.push_back({{"n", p.n},
                      {"selected", p.selected},
                      {"oracle", p.oracle},
                      {"random", p.random},
                      {"selected_exact", p.selected_exact},
                      {"oracle_exact", p.oracle_exact},
                      {"random_exact", p.random_exact}});
  }
  return {{"prompts", curve.prompts}, {"points", points}};
}

BestOfNSelector bracketSelector(ComparatorFactory make_comparator) {
  return [make_comparator = std::move(make_comparator)](const CandidateSet& set, const std::vector<int64_t>& sizes) {
    const gram::PairwiseComparator compare = make_comparator(set);
    // Every judgement made for this set, so that the brackets over shorter prefixes reuse those of
    // the longest (NOTE [Best-of-n curves]); a pair not seen yet goes to the judge, batched per round.
    std::map<std::pair<int64_t, int64_t>, double> known;
    const gram::PairwiseComparator cached = [&](const std::vector<gram::IndexPair>& pairs) {
      std::vector<gram::IndexPair> missing;
      for (const auto& p : pairs) {
        if (known.count({p.i, p.j}) == 0) missing.push_back(p);
      }
      if (!missing.empty()) {
        const std::vector<double> probs = compare(missing);
        GRAMRL_ASSERT(probs.size() == missing.size(), "comparator returned {} probabilities for {} pairs", probs.size(),
                      missing.size());
        for (size_t k = 0; k < missing.size(); ++k) known[{missing[k].i, missing[k].j}] = probs[k];
      }
      std::vector<double> out;
      out.reserve(pairs.size());
      for (const auto& p : pairs) out.push_back(known.at({p.i, p.j}));
      return out;
    };
    std::vector<int64_t> picks(sizes.size());
    for (size_t k = sizes.size(); k-- > 0;) picks[k] = gram::bracketBestOfN(sizes[k], cached).winner;
    return picks;
  };
}

BestOfNSelector argmaxSelector(std::function<std::vector<double>(const CandidateSet& set)> score) {
  return [score = std::move(score)](const CandidateSet& set, const std::vector<int64_t>& sizes) {
    const std::vector<double> scores = score(set);
    std::vector<int64_t> picks;
    picks.reserve(sizes.size());
    for (int64_t n : sizes) {
      GRAMRL_ASSERT(static_cast<int64_t>(scores.size()) >= n, "{} scores for best-of-{}", scores.size(), n);
      int64_t best = 0;
      for (int64_t i = 1; i < n; ++i) {
        if (scores[static_cast<size_t>(i)] > scores[static_cast<size_t>(best)]) best = i;
      }
      picks.push_back(best);
    }
    return picks;
  };
}

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

  const at::Device device = torch::cuda::is_available() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  ModelLoadSpec spec;
  spec.model = args.model;
  spec.tokenizer = args.tokenizer;
  spec.chat_template = args.chat_template;
  spec.where = "gram eval";
  spec.chat_template_key = "--chat-template";
  spec.dtype = inferenceDtype(device);
  // A built-in preset has no trained value head anyway; give it one so the command runs end to end.
  spec.pretrained.value_head = args.kind == "bradley_terry" && isBuiltinSource(args.model);
  const LoadedModel loaded = loadModelWithTokenizer(spec, device);
  const std::unique_ptr<tokenizer::Tokenizer>& tok = loaded.tokenizer;
  const std::shared_ptr<Transformer>& model = loaded.model;
  const std::string& tokenizer_spec = loaded.tokenizer_spec;
  const std::string& chat_template = loaded.chat_template;
  const at::ScalarType dtype = spec.dtype;
  std::vector<CandidateSet> sets;
  if (!args.best_of_n.empty()) {
    sets = readCandidateSets(args.best_of_n);
    for (const auto& set : sets) {  // before any model time is spent
      GRAMRL_CHECK(static_cast<int64_t>(set.candidates.size()) >= args.n_max, DataError,
                   "{}: prompt \"{}\" has {} candidates, fewer than --n-max {}", args.best_of_n, set.prompt,
                   set.candidates.size(), args.n_max);
    }
    log::info("{}: {} candidate sets, best-of-n up to {} (gold: {})", args.best_of_n, sets.size(), args.n_max,
              args.gold);
  }
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
      // Half the budget each way: tokenizer::ChatEncoder cuts prompt and response separately.
      scalar = std::make_unique<gram::BradleyTerryScorer>(
          model,
          tokenizer::ChatEncoder(*tok, chat_template, args.max_tokens / 2, args.max_tokens - args.max_tokens / 2),
          args.batch_size);
    } else {
      scalar = std::make_unique<gram::LikelihoodJudge>(
          model, *tok, gram::JudgeEncoder(*tok, chat_template, judge_template, args.max_tokens), args.batch_size);
    }
    scorer = std::make_unique<gram::ScalarPairScorer>(*scalar);
  }

  nlohmann::json j = nlohmann::json::object();
  if (!pairs.empty()) {
    ProgressLog progress(static_cast<int64_t>(pairs.size()));
    // Chunks of a few batches: progress is reported between them, and sorting by length within a
    // chunk still groups similar rows.
    const int64_t chunk = std::max<int64_t>(args.batch_size * 8, 64);
    const auto scored = gram::scorePairs(pairs, *scorer, chunk, [&](int64_t done) { progress(done); });
    if (!args.pair_scores.empty()) writePairScores(args.pair_scores, scorer->views(), pairs, scored);
    const gram::AccuracyReport report = gram::tallyAccuracy(scorer->views(), scored);
    std::cout << gram::markdownTable(report) << std::flush;
    j = gram::reportJson(report);
    if (!args.benchmark.empty()) {
      // NOTE [Benchmark scores]: the first view (debiased for a GRAM judge).
      const gram::BenchmarkReport bench =
          gram::scoreBenchmark(gram::parseBenchmark(args.benchmark), scorer->views(), scored);
      std::cout << "\n" << gram::benchmarkMarkdown(bench) << std::flush;
      j["benchmark"] = gram::benchmarkJson(bench);
    }
  }
  if (!sets.empty()) {
    BestOfNSelector select;
    std::map<const CandidateSet*, std::vector<double>> scores;
    if (judge != nullptr) {
      select = bracketSelector([&judge](const CandidateSet& set) {
        return gram::makeComparator(*judge, set.system, set.prompt, set.candidates, /*debias=*/true);
      });
    } else {
      // Every candidate of every set in one scorer call (it batches and sorts by length itself).
      std::vector<gram::ScalarQuery> queries;
      for (const auto& set : sets) {
        for (int64_t i = 0; i < std::min<int64_t>(args.n_max, static_cast<int64_t>(set.candidates.size())); ++i) {
          queries.push_back({set.system, set.prompt, set.candidates[static_cast<size_t>(i)]});
        }
      }
      const std::vector<double> all = scalar->scores(queries);
      GRAMRL_ASSERT(all.size() == queries.size());
      size_t at = 0;
      for (const auto& set : sets) {
        const auto k = static_cast<size_t>(std::min<int64_t>(args.n_max, static_cast<int64_t>(set.candidates.size())));
        scores[&set].assign(all.begin() + static_cast<std::ptrdiff_t>(at),
                            all.begin() + static_cast<std::ptrdiff_t>(at + k));
        at += k;
      }
      select = argmaxSelector([&scores](const CandidateSet& set) { return scores.at(&set); });
    }
    ProgressLog progress(static_cast<int64_t>(sets.size()), "candidate sets");
    const BestOfNCurve curve = bestOfNCurve(sets, args.n_max, select, [&](int64_t done) { progress(done); });
    std::cout << fmt::format("\nBest-of-n on {} ({} prompts): mean gold score of the selected candidate\n\n",
                             args.best_of_n, curve.prompts)
              << bestOfNMarkdown(curve) << std::flush;
    j["best_of_n"] = bestOfNJson(curve);
    j["best_of_n"]["file"] = args.best_of_n;
    j["best_of_n"]["gold"] = args.gold;
    j["best_of_n"]["selection"] = judge != nullptr ? "bracket, debiased" : "argmax";
  }
  if (!args.out_json.empty()) {
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
