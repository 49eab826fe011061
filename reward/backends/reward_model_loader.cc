#include "reward/backends/reward_model_loader.h"

#include <cctype>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/model/presets.h"
#include "common/model/pretrained.h"
#include "common/model/transformer.h"
#include "common/tokenizer/tokenizer_source.h"

namespace gramrl::reward {

c10::Device parseRewardDevice(const std::string& device) {
  if (device == "cpu") return c10::Device(c10::kCPU);
  if (device == "cuda") return c10::Device(c10::kCUDA, 0);
  const std::string prefix = "cuda:";
  if (device.size() > prefix.size() && device.compare(0, prefix.size(), prefix) == 0 &&
      device.size() - prefix.size() <= 3) {
    const std::string index = device.substr(prefix.size());
    bool digits = true;
    for (char ch : index) digits = digits && std::isdigit(static_cast<unsigned char>(ch));
    if (digits) return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(std::stoi(index)));
  }
  GRAMRL_CHECK(false, ConfigError, "reward device: expected cpu, cuda or cuda:<index>, got '{}'", device);
  return c10::Device(c10::kCPU);
}

void checkDeviceAvailable(c10::Device device, const std::string& where) {
  if (!device.is_cuda()) return;
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  GRAMRL_CHECK(device.index() < count, ConfigError, "{}: device {} requested, but this process sees {} CUDA device(s)",
               where, device.str(), count);
}

c10::ScalarType rewardModelDtype(c10::Device device) { return device.is_cuda() ? c10::kBFloat16 : c10::kFloat; }

LoadedRewardModel loadRewardModel(const RewardModelSpec& spec, c10::Device device) {
  GRAMRL_CHECK(!spec.model.empty(), ConfigError, "{}: expected a model checkpoint directory or builtin:<preset>",
               spec.where);
  checkDeviceAvailable(device, spec.where);
  LoadedRewardModel out;
  out.device = device;
  out.dtype = rewardModelDtype(device);
  out.tokenizer_spec = tokenizer::resolveTokenizerSpec(spec.model, spec.tokenizer);
  out.tokenizer = tokenizer::loadTokenizer(out.tokenizer_spec);
  out.chat_template = spec.chat_template == "auto" ? out.tokenizer->chatTemplateName() : spec.chat_template;
  GRAMRL_CHECK(!out.chat_template.empty(), ConfigError,
               "{}: the tokenizer {} ships no chat template gramrl knows; set the chat template explicitly", spec.where,
               out.tokenizer_spec);
  const bool value_head = spec.builtin_value_head && isBuiltinSource(spec.model);
  out.model = loadPretrained(spec.model, out.dtype, device, PretrainedOptions{spec.seed, value_head});
  GRAMRL_CHECK(out.tokenizer->vocabSize() <= out.model->config().vocab_size, ConfigError,
               "{}: the tokenizer {} has {} tokens, more than the model's vocabulary of {}", spec.where,
               out.tokenizer_spec, out.tokenizer->vocabSize(), out.model->config().vocab_size);
  log::info("{}: model {} ({}, {}), tokenizer {}, chat template {}", spec.where, spec.model, device.str(),
            torchDtypeName(out.dtype), out.tokenizer_spec, out.chat_template);
  return out;
}

}  // namespace gramrl::reward
