#include "reward/backends/gram_backend.h"

#include <optional>

#include "common/core/errors.h"
#include "common/model/transformer.h"
#include "reward/backends/scalar_backend.h"
#include "reward/gram/best_of_n.h"
#include "reward/gram/gram_judge.h"
#include "reward/gram/gram_math.h"
#include "reward/gram/judge_template.h"

namespace gramrl::reward {

GramBackend::GramBackend(const RewardOptions& options, c10::Device device)
    : model_source_(options.model), transform_(options.transform), debias_(options.debias) {
  gram::parseRewardTransform(transform_);  // ConfigError for an unknown name, before the model loads
  GRAMRL_CHECK(options.best_of_n == "bracket" || options.best_of_n == "anchor" || options.best_of_n == "linear",
               ConfigError, "reward.best_of_n: expected bracket, anchor or linear, got '{}'", options.best_of_n);
  best_of_n_ = options.best_of_n;
  const gram::JudgeTemplate& judge_template = gram::judgeTemplate(options.gram.judge_template);
  loaded_ = loadModelWithTokenizer(rewardModelSpec(options, device, "reward (gram)"), device);
  judge_ = std::make_unique<gram::GramJudge>(
      loaded_.model, gram::JudgeEncoder(*loaded_.tokenizer, loaded_.chat_template, judge_template, options.max_tokens),
      options.batch_size);
}

GramBackend::~GramBackend() = default;

std::vector<double> GramBackend::pointwise(const std::vector<PointwiseItem>& items) {
  std::vector<gram::PointwiseQuery> queries;
  queries.reserve(items.size());
  for (size_t k = 0; k < items.size(); ++k) {
    GRAMRL_CHECK(items[k].has_reference || !items[k].reference.empty(), DataError,
                 "{}: item {} has no reference response (GRAM scores a response against a reference)", name(), k);
    queries.push_back({std::nullopt, items[k].prompt, items[k].response, items[k].reference});
  }
  return judge_->pointwiseRewards(queries, transform_, debias_);
}

std::vector<double> GramBackend::pairwise(const std::vector<PairItem>& items) {
  std::vector<gram::JudgeQuery> queries;
  queries.reserve(items.size());
  for (const auto& item : items) queries.push_back({std::nullopt, item.prompt, item.response_a, item.response_b});
  return judge_->preferenceProbabilities(queries, debias_);
}

BestOfNResult GramBackend::bestOfN(const std::vector<CandidateGroup>& groups) {
  checkGroupsNonEmpty(groups, name());
  BestOfNResult out;
  const std::optional<std::string> no_system;
  for (const auto& group : groups) {
    const auto n = static_cast<int64_t>(group.candidates.size());
    const gram::PairwiseComparator judge =
        gram::makeComparator(*judge_, no_system, group.prompt, group.candidates, debias_);
    if (best_of_n_ != "anchor") {
      // Count each candidate's won comparisons as the selection decides them (bracket: p >= 0.5
      // and i wins; linear: the held best i keeps its place unless p < 0.5).
      std::vector<double> wins(group.candidates.size(), 0.0);
      const gram::PairwiseComparator counting = [&](const std::vector<gram::IndexPair>& pairs) {
        std::vector<double> p = judge(pairs);
        for (size_t k = 0; k < pairs.size() && k < p.size(); ++k) {
          wins[static_cast<size_t>(p[k] >= 0.5 ? pairs[k].i : pairs[k].j)] += 1;
        }
        return p;
      };
      const gram::BracketResult r =
          best_of_n_ == "bracket" ? gram::bracketBestOfN(n, counting) : gram::linearBestOfN(n, counting);
      out.scores.insert(out.scores.end(), wins.begin(), wins.end());
      out.best.push_back(static_cast<uint32_t>(r.winner));
    } else {
      const gram::AnchorResult r = gram::anchorBestOfN(n, judge);
      out.scores.insert(out.scores.end(), r.scores.begin(), r.scores.end());
      out.best.push_back(static_cast<uint32_t>(r.best));
    }
  }
  return out;
}

}  // namespace gramrl::reward
