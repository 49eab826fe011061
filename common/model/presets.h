// Built-in model shapes ("builtin:<preset>") and reproducible seeded random initialisation.
//
// NOTE [Built-in presets]
// A preset is "<size>-<family>"; a bare "<size>" means "<size>-qwen2".
//   size   vocab    hidden  layers  heads/kv  head_dim  intermediate  max_pos
//   toy    264      96      3       4/2       24        256           512     (the GRAM toy reproduction)
//   tiny   264      128     4       4/2       32        384           2048
//   small  264      256     8       8/2       32        768           2048
//   0.5b   151936   896     24      14/2      64        4864          32768   (Qwen2.5-0.5B's dims)
// Parameters (counted by tests/common/model heads_test): tiny 0.82 M (qwen2), 0.86 M (llama),
// 1.02 M (qwen3); small 6.10 M, 6.17 M, 7.41 M; 0.5b 494.0 M (qwen2, Qwen2.5-0.5B's published
// count), 630.1 M (llama, untied), 538.1 M (qwen3).
// Families, as the published models:
//   llama  Llama-3.2 style: rope_theta 500000, "llama3" rope scaling (factor 32, low 1, high 4,
//          original 8192), rms_norm_eps 1e-5, untied embeddings, no biases.
//   qwen2  Qwen2.5 style: rope_theta 1e6, rms_norm_eps 1e-6, q/k/v biases, tied embeddings.
//   qwen3  Qwen3 style: rope_theta 1e6, rms_norm_eps 1e-6, q/k RMSNorm, no biases, tied, and an
//          explicit head_dim twice the plain one (64, 64, 128), as Qwen3 decouples head_dim.
// The tiny and small vocabularies (264, a multiple of 8) hold the byte tokenizer's 263 ids
// (common/tokenizer/byte_tokenizer.h: bytes 0..255, <|pad|> 256, <|bos|> 257, <|eos|> 258, chat
// specials 259..262 of which <|end|> 262 ends a turn) plus one unused row; the configs carry
// those ids (eos_token_ids = {<|eos|>, <|end|>}). The 0.5b presets use Qwen2.5's vocabulary size
// and special ids and exist for benchmarks.
//
// NOTE [Seeded initialisation]
// initRandom() follows HF's _init_weights: projection and embedding weights ~ N(0, std) with
// std = initializer_range (0.02), biases 0, RMSNorm weights 1. Each tensor draws from its own
// stream keyed by (seed, tensor name), so its values depend on nothing else: not on which other
// tensors exist, the visiting order, the thread count, the device or the LibTorch version.
// Element pairs (2i, 2i+1) are a Box-Muller transform of two splitmix64 outputs at counters
// 2i and 2i+1, computed in double on the CPU, rounded to float32, then cast to the model dtype
// and copied to its device.
//
// Threads: free functions; initRandom() writes the model's parameters, so nobody else may use
// the model meanwhile. Throws ConfigError for unknown preset names (listing the known ones).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/Tensor.h>

#include "common/model/model_config.h"

namespace gramrl {

class Transformer;

inline constexpr char kBuiltinPrefix[] = "builtin:";
// The byte tokenizer's special ids (kept equal to byte_tokenizer.h's by a test).
inline constexpr int64_t kByteModelVocabSize = 264;
inline constexpr int64_t kBytePadId = 256;
inline constexpr int64_t kByteBosId = 257;
inline constexpr int64_t kByteEosId = 258;
inline constexpr int64_t kByteEndId = 262;
inline constexpr double kInitializerRange = 0.02;

// Every preset name ("tiny-llama", ..., "0.5b-qwen3"), without the "builtin:" prefix.
std::vector<std::string> presetNames();
// Whether `source` names a preset: starts with "builtin:".
bool isBuiltinSource(const std::string& source);
// The config of a preset, given as "tiny-qwen3", "tiny" or "builtin:tiny-qwen3".
ModelConfig presetConfig(const std::string& name);

// Fills every parameter of `model` per NOTE [Seeded initialisation].
void initRandom(Transformer& model, uint64_t seed, double std = kInitializerRange);
// Fills one parameter called `name` as initRandom() would.
void initParameter(const std::string& name, at::Tensor& param, uint64_t seed, double std = kInitializerRange);

// The stream of tensor `name` under `seed`, and `shape` float32 CPU values N(0, std) drawn from
// it (exposed so tests and tools can reproduce single tensors).
uint64_t initStreamKey(uint64_t seed, const std::string& name);
at::Tensor seededNormal(at::IntArrayRef shape, uint64_t stream_key, double std);

}  // namespace gramrl
