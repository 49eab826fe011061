// A Transformer from a Hugging Face checkpoint directory or a built-in preset, and back.
//
// NOTE [Loading a checkpoint into a model]
// loadPretrained(dir) reads dir/config.json (checkpoint/hf_config.h), builds the Transformer in
// the requested dtype and device, maps the safetensors files (checkpoint/checkpoint.h) and copies
// each tensor into its parameter, converting the dtype on the way; the mapping is released when
// the load returns. Before anything is copied the tensors are checked against the model's
// parameters by name and shape (dtype may differ), and every missing, unexpected and misshapen
// tensor is named in one DataError. Two kinds of extra tensor are accepted and dropped, as
// transformers does: "lm_head.weight" of a tied model (the output embedding is
// model.embed_tokens.weight) and "*.rotary_emb.inv_freq" buffers of older Llama checkpoints (the
// frequencies are recomputed from the config). With value_head set, a checkpoint without
// value_head.* (a policy turned into a critic or reward model) gets a freshly initialised value
// head (NOTE [Seeded initialisation] in presets.h, with `seed`).
//
// Threads: free functions; loading is independent per call, saving into one directory from two
// threads is not allowed (checkpoint.h). Ownership: the returned model is the caller's.
// Throws DataError (missing or malformed files, tensors that do not fit: each one named),
// ConfigError (unknown preset, inconsistent config), SystemError (I/O while saving).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/Tensor.h>

#include "common/checkpoint/checkpoint.h"
#include "common/model/transformer.h"

namespace gramrl {

struct PretrainedOptions {
  // Initialisation seed of builtin presets and of a value head the checkpoint lacks.
  uint64_t seed = 0;
  // Give the model a scalar value head even if config.json has none (see the NOTE above).
  bool value_head = false;
};

// `source` is a checkpoint directory or "builtin:<preset>" (presets.h; initialised with
// options.seed). The model's parameters are in `dtype` on `device`.
std::shared_ptr<Transformer> loadPretrained(const std::string& source, at::ScalarType dtype, at::Device device,
                                            const PretrainedOptions& options = {});

// Writes config.json (torch_dtype set to the model's dtype) and the parameters as safetensors,
// sharded past max_shard_bytes in parameter order (each tensor in the shard save_pretrained
// would give it), so that loadPretrained and transformers' from_pretrained read
// them back. Returns the file names written.
std::vector<std::string> savePretrained(const Transformer& model, const std::string& dir,
                                        uint64_t max_shard_bytes = checkpoint::kDefaultMaxShardBytes);
// The same with the parameters' values given by name, in named_parameters() order (ZeRO-3's
// gathered copies: TrainedModule::wholeParameters); the model gives the config and dtype.
std::vector<std::string> savePretrained(const Transformer& model,
                                        const std::vector<std::pair<std::string, at::Tensor>>& weights,
                                        const std::string& dir,
                                        uint64_t max_shard_bytes = checkpoint::kDefaultMaxShardBytes);

// The model's parameters by HF name (handles sharing the parameters' storage, detached).
checkpoint::StateDict stateDict(const Transformer& model);
// Name -> shape of every parameter, any dtype: what a checkpoint of this model must hold.
checkpoint::StateDictSpec stateDictSpec(const Transformer& model);
// Checks `tensors` against stateDictSpec(model) (after dropping the extras the NOTE above
// accepts) and copies them into the parameters. `source` names the checkpoint in errors.
// Tensors named in `allow_missing` may be absent (they keep their values).
void loadStateDict(Transformer& model, const checkpoint::StateDict& tensors, std::string_view source,
                   const std::vector<std::string>& allow_missing = {});

// "float32", "bfloat16", "float16" or "float64" for config.json's torch_dtype; ConfigError otherwise.
std::string torchDtypeName(at::ScalarType dtype);

}  // namespace gramrl
