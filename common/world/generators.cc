#include "common/world/generators.h"

#include <algorithm>

#include "common/core/errors.h"
#include "common/world/corruptions.h"
#include "common/world/gold.h"

namespace gramrl::world {
namespace {

// The rng stream of each kind, so that data sets drawn with one seed are independent of each other.
// Never renumber: it would change every generated data set.
uint64_t kindStream(const std::string& kind) {
  const auto& kinds = generatorKinds();
  const auto it = std::find(kinds.begin(), kinds.end(), kind);
  GRAMRL_CHECK(it != kinds.end(), ConfigError,
               "world generate: unknown kind \"{}\" (expected prompts, sft, unlabeled, labeled or test)", kind);
  return static_cast<uint64_t>(it - kinds.begin()) + 1;
}

bool isPairKind(const std::string& kind) { return kind == "unlabeled" || kind == "labeled" || kind == "test"; }

void checkProbability(double p, const char* name) {
  GRAMRL_CHECK(p >= 0.0 && p <= 1.0, ConfigError, "world generate: {} must be in [0, 1], got {}", name, p);
}

void validate(const std::string& kind, const WorldOptions& options) {
  checkProbability(options.correct_prob, "correct_prob");
  checkProbability(options.second_corruption_prob, "second_corruption_prob");
  checkProbability(options.label_noise, "label_noise");
  checkProbability(options.demo_correct_prob, "demo_correct_prob");
  GRAMRL_CHECK(!isPairKind(kind) || options.correct_prob < 1.0, ConfigError,
               "world generate {}: correct_prob must be below 1 for pairs (two correct responses always tie)", kind);
}

struct Pair {
  Response a;
  Response b;
  double score_a = 0;
  double score_b = 0;
};

Pair samplePair(const Task& task, CounterRng& rng, const WorldOptions& options) {
  // Redrawing both responses keeps them independent given that their scores differ. A tie needs
  // both correct or two wrong responses at the same distance; 10^4 ties in a row mean a bug.
  for (int attempt = 0; attempt < 10000; ++attempt) {
    Pair p;
    p.a = sampleResponse(task, rng, options.correct_prob, options.second_corruption_prob);
    p.b = sampleResponse(task, rng, options.correct_prob, options.second_corruption_prob);
    p.score_a = goldScore(task, p.a.text);
    p.score_b = goldScore(task, p.b.text);
    if (p.score_a != p.score_b) return p;
  }
  GRAMRL_ASSERT(false, "world: every pair for prompt \"{}\" ties", task.prompt);
}

nlohmann::json makeRow(const std::string& kind, const Task& task, CounterRng& rng, const WorldOptions& options) {
  if (kind == "prompts") return {{"prompt", task.prompt}, {"reference", task.answer}, {"family", task.family}};
  if (kind == "sft") {
    const Response r = sampleResponse(task, rng, options.demo_correct_prob, options.second_corruption_prob);
    return {{"prompt", task.prompt}, {"response", r.text}, {"family", task.family}};
  }
  const Pair p = samplePair(task, rng, options);
  if (kind == "unlabeled") {
    return {{"prompt", task.prompt}, {"response_a", p.a.text}, {"response_b", p.b.text}, {"family", task.family}};
  }
  const bool a_wins = p.score_a > p.score_b;
  const bool flipped = kind == "labeled" && rng.bernoulli(options.label_noise);
  const Response& chosen = a_wins != flipped ? p.a : p.b;
  const Response& rejected = a_wins != flipped ? p.b : p.a;
  nlohmann::json row{{"prompt", task.prompt},
                     {"chosen", chosen.text},
                     {"rejected", rejected.text},
                     {"family", task.family},
                     {"chosen_score", a_wins != flipped ? p.score_a : p.score_b},
                     {"rejected_score", a_wins != flipped ? p.score_b : p.score_a}};
  if (kind == "labeled") {
    row["flipped"] = flipped;
  } else {
    row["contains_correct"] = p.a.corruptions == 0 || p.b.corruptions == 0;
  }
  return row;
}

nlohmann::json rowFor(const std::string& kind, uint64_t stream, int64_t index, const std::vector<std::string>& families,
                      const WorldOptions& options) {
  CounterRng rng(options.seed, stream, static_cast<uint64_t>(index));
  const Task task = sampleTask(families[static_cast<size_t>(index) % families.size()], rng);
  return makeRow(kind, task, rng, options);
}

}  // namespace

const std::vector<std::string>& generatorKinds() {
  static const std::vector<std::string> kKinds{"prompts", "sft", "unlabeled", "labeled", "test"};
  return kKinds;
}

std::vector<std::string> resolveFamilies(const std::vector<std::string>& families) {
  for (const auto& f : families) {
    GRAMRL_CHECK(isFamily(f), ConfigError,
                 "world: unknown family \"{}\" (expected some of srt, rev, ddp, add, inc, rot)", f);
  }
  if (families.empty()) return familyNames();
  std::vector<std::string> out;
  for (const auto& name : familyNames()) {
    if (std::find(families.begin(), families.end(), name) != families.end()) out.push_back(name);
  }
  return out;
}

Response sampleResponse(const Task& task, CounterRng& rng, double correct_prob, double second_corruption_prob) {
  if (rng.bernoulli(correct_prob)) return Response{task.answer, 0};
  Response r{corrupt(task, task.answer, rng), 1};
  if (rng.bernoulli(second_corruption_prob)) {
    r.text = corrupt(task, r.text, rng, {task.answer});
    r.corruptions = 2;
  }
  return r;
}

nlohmann::json generateRow(const std::string& kind, int64_t index, const WorldOptions& options) {
  const uint64_t stream = kindStream(kind);
  validate(kind, options);
  GRAMRL_CHECK(index >= 0, ConfigError, "world generate {}: row index must be >= 0, got {}", kind, index);
  return rowFor(kind, stream, index, resolveFamilies(options.families), options);
}

std::vector<nlohmann::json> generate(const std::string& kind, int64_t n, const WorldOptions& options) {
  const uint64_t stream = kindStream(kind);
  validate(kind, options);
  GRAMRL_CHECK(n >= 0, ConfigError, "world generate {}: the number of rows must be >= 0, got {}", kind, n);
  const auto families = resolveFamilies(options.families);
  std::vector<nlohmann::json> rows;
  rows.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows.push_back(rowFor(kind, stream, i, families, options));
  return rows;
}

}  // namespace gramrl::world
