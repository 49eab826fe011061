#include "reward/gram/label_logits.h"

#include <algorithm>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/output_heads.h"
#include "common/model/transformer.h"

namespace gramrl::gram {

at::Tensor labelLogits(const Transformer& model, const std::vector<const std::vector<int64_t>*>& prompts,
                       int64_t label_a, int64_t label_b, int64_t pad_id) {
  GRAMRL_ASSERT(!prompts.empty());
  const auto rows = static_cast<int64_t>(prompts.size());
  size_t width = 0;
  for (const auto* p : prompts) width = std::max(width, p->size());
  GRAMRL_ASSERT(width > 0, "an empty judge prompt");
  at::Tensor ids = torch::full({rows, static_cast<int64_t>(width)}, pad_id, torch::kInt64);
  at::Tensor mask = torch::zeros({rows, static_cast<int64_t>(width)}, torch::kInt64);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<int64_t, 2>();
  for (int64_t r = 0; r < rows; ++r) {
    const auto& p = *prompts[static_cast<size_t>(r)];
    GRAMRL_ASSERT(!p.empty(), "an empty judge prompt");
    for (size_t t = 0; t < p.size(); ++t) {
      ids_a[r][static_cast<int64_t>(t)] = p[t];
      mask_a[r][static_cast<int64_t>(t)] = 1;
    }
  }
  const at::Tensor device_mask = mask.to(model.device());
  const at::Tensor hidden = model.forward(ids.to(model.device()), device_mask);
  const at::Tensor labels = torch::tensor({label_a, label_b}, torch::kInt64).to(model.device());
  return model.selectedLogits(hidden, lastTokenPositions(device_mask), labels);
}

}  // namespace gramrl::gram
