#include "reward/backends/bradley_terry_backend.h"

#include <optional>

#include "common/model/presets.h"
#include "common/model/transformer.h"
#include "common/tokenizer/chat_encoder.h"
#include "reward/gram/scalar_scorers.h"

namespace gramrl::reward {

BradleyTerryBackend::BradleyTerryBackend(const RewardOptions& options, c10::Device device)
    : model_source_(options.model) {
  ModelLoadSpec spec = rewardModelSpec(options, device, "reward (bradley_terry)");
  // A builtin preset gets a fresh value head so that the backend runs end to end (header comment).
  spec.pretrained.value_head = isBuiltinSource(options.model);
  loaded_ = loadModelWithTokenizer(spec, device);
  const int64_t prompt_tokens = options.max_tokens / 2;
  scorer_ = std::make_unique<gram::BradleyTerryScorer>(
      loaded_.model,
      tokenizer::ChatEncoder(*loaded_.tokenizer, loaded_.chat_template, prompt_tokens,
                             options.max_tokens - prompt_tokens),
      options.batch_size);
}

BradleyTerryBackend::~BradleyTerryBackend() = default;

std::vector<double> BradleyTerryBackend::scoreResponses(const std::vector<PointwiseItem>& items,
                                                        const ItemNamer& name) {
  std::vector<gram::ScalarQuery> queries;
  queries.reserve(items.size());
  for (const auto& item : items) queries.push_back({std::nullopt, item.prompt, item.response});
  return scorer_->scores(queries);
}

}  // namespace gramrl::reward
