// Loading a reward model for scoring: the model (checkpoint directory or builtin:<preset>), its
// tokenizer and the chat template, in the dtype of the device. Shared by the gram and
// bradley_terry backends and meant for `gramrl gram eval` too (launch/gram_eval_command.cc does
// the same steps inline).
//
// Threads: free functions, independent per call. Ownership: the caller owns the result; encoders
// built on it refer to `tokenizer`, so keep the LoadedRewardModel alive (moving it keeps the
// tokenizer's address). Blocking: loadRewardModel reads the checkpoint and the tokenizer files
// (seconds for a large model). Throws ConfigError (a malformed device string, a CUDA device
// that is not there, no known chat template, a tokenizer larger than the model's vocabulary,
// unknown preset), DataError (missing or malformed checkpoint or tokenizer files).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "common/tokenizer/tokenizer.h"

namespace gramrl {
class Transformer;
}

namespace gramrl::reward {

struct RewardModelSpec {
  std::string model;                   // checkpoint directory or builtin:<preset>
  std::string tokenizer;               // tokenizer spec; empty = the model's own (tokenizer_source.h)
  std::string chat_template = "auto";  // auto = the tokenizer's own
  // Give a builtin preset a freshly initialised value head (a Bradley-Terry model that runs end to
  // end); a checkpoint must bring its own.
  bool builtin_value_head = false;
  uint64_t seed = 0;  // initialisation of builtin presets and of that value head
  // Prefix of error messages: the option or command that named the model, e.g. "reward".
  std::string where = "reward";
};

struct LoadedRewardModel {
  std::shared_ptr<Transformer> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  std::string tokenizer_spec;  // as resolved, for logs and reports
  std::string chat_template;   // resolved: never "auto"
  c10::Device device{c10::kCPU};
  c10::ScalarType dtype = c10::kFloat;
};

// "cpu", "cuda" (= cuda:0) or "cuda:<index>"; ConfigError otherwise. Does not check that the
// device exists (checkDeviceAvailable does).
c10::Device parseRewardDevice(const std::string& device);
// ConfigError when `device` is a CUDA device this process cannot see.
void checkDeviceAvailable(c10::Device device, const std::string& where);
// bfloat16 on CUDA, float32 on the CPU (as gramrl gram eval).
c10::ScalarType rewardModelDtype(c10::Device device);

LoadedRewardModel loadRewardModel(const RewardModelSpec& spec, c10::Device device);

}  // namespace gramrl::reward
