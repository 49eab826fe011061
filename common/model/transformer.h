// The decoder-only transformer of the Llama-3.x / Qwen2.5 / Qwen3 families, in LibTorch.
//
// Built from a ModelConfig (model_config.h) in a dtype and on a device chosen at construction
// (float32 on CPU, bfloat16 on GPU in practice). Parameters are named exactly as Hugging Face
// names them (named_parameters(): "model.embed_tokens.weight",
// "model.layers.{i}.self_attn.{q,k,v,o}_proj.{weight,bias}", "...self_attn.{q,k}_norm.weight",
// "...mlp.{gate,up,down}_proj.weight", "...{input,post_attention}_layernorm.weight",
// "model.norm.weight", "lm_head.weight" (absent when tied), "value_head.{weight,bias}" (only with
// config.value_head)), so a state dict maps 1:1 onto a safetensors checkpoint.
//
// Three ways in:
//   forward()  a padded batch, full causal attention, with autograd (learner, scoring);
//   step()     a cached, inference-only append to KV-cache slots (generation, NOTE [Cached step]);
//   heads      logits at selected positions/rows, token log-probs, values (output_heads.h).
//
// Threads: one thread at a time per Transformer for step() (it writes the cache) and for
// anything that changes parameters; concurrent no-grad forward() calls are safe otherwise.
// Ownership: returned tensors are new and owned by the caller; the parameters belong to the
// module (shared with whoever holds named_parameters()). Do not call to(dtype) / to(device) on
// the module; build a new one instead (dtype() and device() read the parameters).
// Throws: ConfigError from the constructor for an inconsistent config; DataError for token ids
// outside the vocabulary or sequences longer than the KV cache; InternalError (GRAMRL_ASSERT)
// for tensors of the wrong rank, shape or device, and misuse of slots (bugs in the caller).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>

#include "common/model/kv_cache.h"
#include "common/model/layer_shards.h"
#include "common/model/layers.h"
#include "common/model/model_config.h"
#include "common/model/output_heads.h"

namespace gramrl {

// The "model." part: embeddings, layers, final norm.
class DecoderStack : public torch::nn::Module {
 public:
  DecoderStack(const ModelConfig& config, const at::TensorOptions& options);
  // input_ids [B, T] -> final normed hidden [B, T, H]. `cache` null, or the step's KvCache.
  at::Tensor forward(const at::Tensor& input_ids, const AttentionContext& ctx, KvCache* cache) const;
  const at::Tensor& embedding() const { return embed_tokens_; }
  // NOTE [Activation recomputation] in layer_recompute.h.
  void setRecomputeLayers(bool on) { recompute_layers_ = on; }
  bool recomputesLayers() const { return recompute_layers_; }
  // NOTE [ZeRO-3 parameter sharding]: null (the default) when every layer's parameters are whole.
  void setLayerShards(std::shared_ptr<LayerShards> shards) { shards_ = std::move(shards); }
  const std::shared_ptr<LayerShards>& layerShards() const { return shards_; }
  const std::vector<std::shared_ptr<DecoderLayer>>& layers() const { return layers_; }

 private:
  bool recompute_layers_ = false;
  std::shared_ptr<LayerShards> shards_;
  at::Tensor embed_tokens_;  // registered in the "embed_tokens" submodule as "weight"
  std::vector<std::shared_ptr<DecoderLayer>> layers_;
  std::shared_ptr<RmsNorm> norm_;
};

// What step() returns for each row b of its batch.
struct StepOutput {
  at::Tensor logits;       // [B, V] float32: next-token logits after row b's last appended token
  at::Tensor last_hidden;  // [B, H] model dtype: the final normed hidden state of that token
};

class Transformer : public torch::nn::Module {
 public:
  // Allocates uninitialised parameters (fill them with initRandom() or loadPretrained()).
  // Throws ConfigError when the config is inconsistent (heads not divisible by kv heads, odd or
  // zero head_dim, unknown rope type, non-positive sizes).
  Transformer(const ModelConfig& config, at::ScalarType dtype, at::Device device);

  const ModelConfig& config() const { return config_; }
  at::ScalarType dtype() const { return output_embedding_.scalar_type(); }
  at::Device device() const { return output_embedding_.device(); }
  // lm_head.weight, or model.embed_tokens.weight when the embeddings are tied. [V, H].
  const at::Tensor& outputEmbedding() const { return output_embedding_; }

  // input_ids [B, T] int64 (any device; moved to the model's), attention_mask [B, T] (nonzero =
  // real token; left or right padding), position_ids [B, T] int64 or undefined for
  // positionIdsFromMask(attention_mask). Returns the final normed hidden states [B, T, H] in the
  // model dtype. Padding positions get finite values that mean nothing. Records autograd when
  // grad mode is on and parameters require grad; wrap inference in torch::NoGradGuard.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& position_ids = {}) const;

  // Activation recomputation per decoder layer in forward() with grad mode on (NOTE [Activation
  // recomputation] in layer_recompute.h): the gradients are the same, the activations kept for
  // the backward are one layer input per layer instead of every layer's intermediates. Off by
  // default; the trainers turn it on from learner.activation_checkpointing. Set it before a
  // forward, not during one (same thread rule as changing parameters).
  void setActivationCheckpointing(bool on) { model_->setRecomputeLayers(on); }
  bool activationCheckpointing() const { return model_->recomputesLayers(); }

  // ZeRO-3 (common/model/layer_shards.h, NOTE [ZeRO-3 parameter sharding] in
  // learner/engine/zero3.h): the decoder layers' parameters live in shards on the ranks and are
  // gathered around each use. Training forwards then need activation checkpointing (ConfigError
  // otherwise), and every forward and step() is a collective call.
  void setLayerShards(std::shared_ptr<LayerShards> shards) { model_->setLayerShards(std::move(shards)); }
  const std::shared_ptr<LayerShards>& layerShards() const { return model_->layerShards(); }
  int64_t numLayers() const { return static_cast<int64_t>(model_->layers().size()); }
  // The parameters of decoder layer `layer` by their full HF names, in named_parameters() order.
  std::vector<std::pair<std::string, at::Tensor>> layerParameters(int64_t layer) const;

  // The output heads of output_heads.h applied with this model's output embedding.
  at::Tensor logits(const at::Tensor& hidden) const { return fullLogits(hidden, output_embedding_); }
  at::Tensor selectedLogits(const at::Tensor& hidden, const at::Tensor& positions,
                            const at::Tensor& vocab_ids = {}) const {
    return gramrl::selectedLogits(hidden, output_embedding_, positions, vocab_ids);
  }
  at::Tensor tokenLogProbs(const at::Tensor& hidden, const at::Tensor& targets, const at::Tensor& mask,
                           int64_t chunk_tokens = 0) const {
    return gramrl::tokenLogProbs(hidden, output_embedding_, targets, mask, chunk_tokens);
  }
  bool hasValueHead() const { return value_head_ != nullptr; }
  // value_head(hidden): [B, T, H] -> [B, T] float32 (or [B, H] -> [B]). Throws ConfigError
  // without config.value_head.
  at::Tensor values(const at::Tensor& hidden) const;

  // NOTE [Cached step]
  // Appends the first lengths[b] tokens of row b of input_ids [B, T] (int64, right-padded with
  // any valid token id, e.g. 0; best passed on the CPU, where it is checked without a sync) to
  // cache slot slots[b], at positions cache.length(slots[b]) + 0, 1, ..., stores their keys
  // and values in every layer, and lets each token attend causally to its slot's whole history.
  // Rows may belong to slots of any lengths; slots must be distinct; 1 <= lengths[b] <= T and
  // cache.length(slot) + lengths[b] <= cache.maxLength() (DataError otherwise). Prefill is a
  // step with long rows, decode a step with T = 1; a new sequence starts from a cleared slot.
  // Runs without autograd. The cache lengths move only when the whole step succeeded. Padding
  // tokens cost compute (they are computed like the row's last token) but are never stored.
  // The slot, position and mask indices are built on the CPU and moved in one copy. Each layer
  // reads its keys and values back for positions 0 .. S-1 (S = the longest slot after the
  // append): as a view when slots are consecutive ascending (s, s+1, ...), else gathered, a copy
  // of [B, kv_heads, S, head_dim] per layer; engines that keep active slots packed avoid it.
  StepOutput step(KvCache& cache, at::IntArrayRef slots, const at::Tensor& input_ids, at::IntArrayRef lengths) const;

 private:
  void checkTokenIds(const at::Tensor& ids) const;

  ModelConfig config_;
  std::shared_ptr<DecoderStack> model_;
  std::shared_ptr<Projection> lm_head_;     // null when tied
  std::shared_ptr<Projection> value_head_;  // null unless config.value_head
  at::Tensor output_embedding_;
  at::Tensor inv_freq_;  // [head_dim / 2] float32 on the model's device (NOTE [Rotary embeddings])
};

// Throws ConfigError naming the first inconsistency of `config` the transformer cannot build.
void validateModelConfig(const ModelConfig& config);

}  // namespace gramrl
