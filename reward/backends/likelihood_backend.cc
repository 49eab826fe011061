#include "reward/backends/likelihood_backend.h"

#include <optional>

#include "common/model/transformer.h"
#include "reward/gram/judge_encoder.h"
#include "reward/gram/judge_template.h"
#include "reward/gram/scalar_scorers.h"

namespace gramrl::reward {

LikelihoodBackend::LikelihoodBackend(const RewardOptions& options, c10::Device device) : model_source_(options.model) {
  const gram::JudgeTemplate& judge_template = gram::judgeTemplate(options.gram.judge_template);
  loaded_ = loadModelWithTokenizer(rewardModelSpec(options, device, "reward (likelihood)"), device);
  judge_ = std::make_unique<gram::LikelihoodJudge>(
      loaded_.model, *loaded_.tokenizer,
      gram::JudgeEncoder(*loaded_.tokenizer, loaded_.chat_template, judge_template, options.max_tokens),
      options.batch_size);
}

LikelihoodBackend::~LikelihoodBackend() = default;

std::vector<double> LikelihoodBackend::scoreResponses(const std::vector<PointwiseItem>& items, const ItemNamer&) {
  std::vector<gram::ScalarQuery> queries;
  queries.reserve(items.size());
  for (const auto& item : items) queries.push_back({std::nullopt, item.prompt, item.response});
  return judge_->scores(queries);
}

}  // namespace gramrl::reward
