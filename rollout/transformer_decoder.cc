#include "rollout/transformer_decoder.h"

#include <torch/torch.h>

namespace gramrl {

TransformerDecoder::TransformerDecoder(std::shared_ptr<const Transformer> model, int64_t max_slots, int64_t max_length)
    : model_(std::move(model)), cache_(model_->config(), max_slots, max_length, model_->dtype(), model_->device()) {}

at::Tensor TransformerDecoder::step(const std::vector<int64_t>& slots, const at::Tensor& input_ids,
                                    const std::vector<int64_t>& lengths) {
  torch::NoGradGuard no_grad;
  return model_->step(cache_, slots, input_ids, lengths).logits;
}

}  // namespace gramrl
