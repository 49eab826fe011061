// How the model backends (gram, bradley_terry) load reward.model: the device string of
// reward.server.devices and the ModelLoadSpec of the `reward:` section. The loading itself is
// common/model/model_loader.h (NOTE [Model and tokenizer]), shared with the trainers and the
// commands.
//
// Threads: pure functions. Throws ConfigError (a malformed device string).
#pragma once

#include <string>

#include <c10/core/Device.h>

#include "common/model/model_loader.h"

namespace gramrl {
struct RewardOptions;
}

namespace gramrl::reward {

// "cpu", "cuda" (= cuda:0) or "cuda:<index>"; ConfigError otherwise. Does not check that the
// device exists (loadModelWithTokenizer does).
c10::Device parseRewardDevice(const std::string& device);

// reward.model, reward.tokenizer and reward.chat_template (one is required), in the dtype of
// `device` (inferenceDtype: bfloat16 on CUDA, float32 on the CPU); errors and the log line start
// with `where`, e.g. "reward (gram)".
ModelLoadSpec rewardModelSpec(const RewardOptions& options, c10::Device device, std::string where);

}  // namespace gramrl::reward
