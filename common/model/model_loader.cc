#include "common/model/model_loader.h"

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/model/transformer.h"
#include "common/tokenizer/tokenizer_source.h"

namespace gramrl {

void checkDeviceAvailable(at::Device device, const std::string& where) {
  if (!device.is_cuda()) return;
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  GRAMRL_CHECK(device.index() < count, ConfigError, "{}: device {} requested, but this process sees {} CUDA device(s)",
               where, device.str(), count);
}

at::ScalarType inferenceDtype(at::Device device) { return device.is_cuda() ? at::kBFloat16 : at::kFloat; }

LoadedModel loadModelWithTokenizer(const ModelLoadSpec& spec, at::Device device) {
  GRAMRL_CHECK(!spec.model.empty(), ConfigError, "{}: expected a model checkpoint directory or builtin:<preset>",
               spec.where);
  checkDeviceAvailable(device, spec.where);
  LoadedModel out;
  out.tokenizer_spec = tokenizer::resolveTokenizerSpec(spec.model, spec.tokenizer);
  out.tokenizer = tokenizer::loadTokenizer(out.tokenizer_spec);
  out.chat_template = spec.chat_template == "auto" ? out.tokenizer->chatTemplateName() : spec.chat_template;
  GRAMRL_CHECK(!spec.require_chat_template || !out.chat_template.empty(), ConfigError,
               "{}: the tokenizer {} ships no chat template gramrl knows; set {}", spec.where, out.tokenizer_spec,
               spec.chat_template_key);
  out.model = loadPretrained(spec.model, spec.dtype, device, spec.pretrained);
  GRAMRL_CHECK(out.tokenizer->vocabSize() <= out.model->config().vocab_size, ConfigError,
               "{}: the tokenizer {} has {} tokens, more than the vocabulary of the model {} ({}); use the model's "
               "own tokenizer",
               spec.where, out.tokenizer_spec, out.tokenizer->vocabSize(), spec.model, out.model->config().vocab_size);
  log::info("{}: model {} ({}, {}), tokenizer {}, chat template {}", spec.where, spec.model, device.str(),
            torchDtypeName(spec.dtype), out.tokenizer_spec, out.chat_template.empty() ? "none" : out.chat_template);
  return out;
}

}  // namespace gramrl
