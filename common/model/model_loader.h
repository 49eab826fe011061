// Loading a model together with its tokenizer: the one loader behind every command and set-up
// that runs a model on text (DPO, SFT and GRAM training set-ups, the gram and bradley_terry reward
// backends, `gramrl gram eval`, `gramrl generate`).
//
// NOTE [Model and tokenizer]
// The tokenizer is resolved from the model when none is given (tokenizer_source.h: builtin:bytes
// for builtin presets, the checkpoint's tokenizer.json, or the spec a gramrl trainer recorded),
// the chat template "auto" becomes the tokenizer's own, and the tokenizer must fit the model: a
// tokenizer with more tokens than the model's vocabulary would feed it ids past its embedding, so
// that is one ConfigError naming both, raised here and nowhere else. The tokenizer is loaded and
// the chat template resolved before the weights, so a missing template fails before a
// multi-gigabyte load.
//
// Threads: free functions, independent per call. Ownership: the caller owns the LoadedModel;
// encoders built on it refer to its tokenizer, so keep it alive (moving it keeps the tokenizer's
// address). Blocking: reads the checkpoint and the tokenizer files (seconds for a large model).
// Throws ConfigError (an empty model, a CUDA device this process cannot see, no chat template
// when one is required, a tokenizer larger than the model's vocabulary, an unknown preset) and
// DataError (missing or malformed checkpoint or tokenizer files).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "common/model/pretrained.h"
#include "common/tokenizer/tokenizer.h"

namespace gramrl {

class Transformer;

struct ModelLoadSpec {
  std::string model;                   // checkpoint directory or builtin:<preset>
  std::string tokenizer;               // tokenizer spec; "" = the model's own (tokenizer_source.h)
  std::string chat_template = "auto";  // a template name; "auto" = the tokenizer's own; "" = none
  // Prefix of error messages and of the log line: the config section or command that named the
  // model ("policy", "reward", "gram eval", "generate").
  std::string where = "model";
  // How a user sets the chat template, named when none is found: "policy.chat_template",
  // "--chat-template".
  std::string chat_template_key = "the chat template";
  // ConfigError when no chat template results; otherwise an empty one means raw-text prompts.
  bool require_chat_template = true;
  at::ScalarType dtype = at::kFloat;
  PretrainedOptions pretrained;  // init seed of builtin presets; a value head
};

struct LoadedModel {
  std::shared_ptr<Transformer> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  std::string tokenizer_spec;  // as resolved, for logs, reports and saved checkpoints
  std::string chat_template;   // resolved: never "auto"; "" only without require_chat_template
};

// See NOTE [Model and tokenizer].
LoadedModel loadModelWithTokenizer(const ModelLoadSpec& spec, at::Device device);

// ConfigError naming `where` when `device` is a CUDA device this process cannot see.
void checkDeviceAvailable(at::Device device, const std::string& where);
// The dtype a model is served in: bfloat16 on CUDA, float32 on the CPU (reward models, gram eval).
at::ScalarType inferenceDtype(at::Device device);

}  // namespace gramrl
