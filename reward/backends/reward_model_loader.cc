#include "reward/backends/reward_model_loader.h"

#include <cctype>

#include "common/config/experiment_config.h"
#include "common/core/errors.h"

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

ModelLoadSpec rewardModelSpec(const RewardOptions& options, c10::Device device, std::string where) {
  ModelLoadSpec spec;
  spec.model = options.model;
  spec.tokenizer = options.tokenizer;
  spec.chat_template = options.chat_template;
  spec.where = std::move(where);
  spec.chat_template_key = "reward.chat_template";
  spec.dtype = inferenceDtype(device);
  return spec;
}

}  // namespace gramrl::reward
