#include "common/model/transformer.h"

#include <algorithm>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/model/layer_recompute.h"

namespace gramrl {

// NOTE [Attention masks]
// Both paths build one boolean mask per call, shared by every layer, and attention fills the
// blocked scores with -inf before a float32 softmax.
//   forward(): query t of row b sees key j iff j <= t and (j is a real token or j == t). A
//   left-padding query sees only itself, so no row of the softmax is empty (an all -inf row
//   would give NaN); its output is finite and meaningless, and real queries never see it.
//   step(): the token appended at position p of its slot sees keys 0 .. p of that slot. Keys of
//   other rows' longer slots (the read-back span S is the longest slot) are blocked. Padding
//   tokens are given the position of their row's last real token, so they see only written keys.
// Blocked keys still enter probs @ values with weight exactly 0, so the values there must be
// finite: the KV cache is zero-initialised (NOTE [KV cache slots] in kv_cache.h).

void validateModelConfig(const ModelConfig& c) {
  GRAMRL_CHECK(c.vocab_size > 0 && c.hidden_size > 0 && c.intermediate_size > 0 && c.num_hidden_layers > 0, ConfigError,
               "model: vocab_size, hidden_size, intermediate_size and num_hidden_layers must be positive, got {}, {}, "
               "{}, {}",
               c.vocab_size, c.hidden_size, c.intermediate_size, c.num_hidden_layers);
  GRAMRL_CHECK(
      c.num_attention_heads > 0 && c.num_key_value_heads > 0 && c.num_attention_heads % c.num_key_value_heads == 0,
      ConfigError, "model: num_attention_heads ({}) must be a positive multiple of num_key_value_heads ({})",
      c.num_attention_heads, c.num_key_value_heads);
  GRAMRL_CHECK(headDim(c) > 0 && headDim(c) % 2 == 0, ConfigError,
               "model: head_dim must be positive and even, got {} (hidden_size {}, {} heads)", headDim(c),
               c.hidden_size, c.num_attention_heads);
  GRAMRL_CHECK(c.rms_norm_eps > 0 && c.rope_theta > 0, ConfigError,
               "model: rms_norm_eps and rope_theta must be positive, got {} and {}", c.rms_norm_eps, c.rope_theta);
  ropeInverseFrequencies(c);  // checks rope_scaling
}

DecoderStack::DecoderStack(const ModelConfig& config, const at::TensorOptions& options) {
  // Registered in HF's order (embed_tokens, layers, norm).
  auto embed = register_module("embed_tokens", std::make_shared<torch::nn::Module>());
  embed_tokens_ = embed->register_parameter("weight", torch::empty({config.vocab_size, config.hidden_size}, options));
  auto layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    layers_.push_back(std::make_shared<DecoderLayer>(config, options));
    layers->push_back(layers_.back());
  }
  norm_ = register_module("norm", std::make_shared<RmsNorm>(config.hidden_size, config.rms_norm_eps, options));
}

at::Tensor DecoderStack::forward(const at::Tensor& input_ids, const AttentionContext& ctx, KvCache* cache) const {
  at::Tensor h = at::embedding(embed_tokens_, input_ids);
  const bool training = torch::GradMode::is_enabled();
  GRAMRL_CHECK(shards_ == nullptr || cache != nullptr || !training || recompute_layers_, ConfigError,
               "learner.zero_stage 3 needs learner.activation_checkpointing: true (a sharded layer's weights are "
               "gathered again for its backward instead of being kept)");
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (cache != nullptr) {
      GatheredLayer gathered(shards_.get(), i);
      LayerCache layer_cache = cache->layer(static_cast<int64_t>(i));
      h = layers_[i]->forward(h, ctx, &layer_cache);
    } else if (recompute_layers_ && training) {
      h = recomputedLayerForward(layers_[i], h, ctx, shards_, i);
    } else {
      GatheredLayer gathered(shards_.get(), i);
      h = layers_[i]->forward(h, ctx, nullptr);
    }
  }
  return norm_->forward(h);
}

Transformer::Transformer(const ModelConfig& config, at::ScalarType dtype, at::Device device) : config_(config) {
  validateModelConfig(config_);
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  model_ = register_module("model", std::make_shared<DecoderStack>(config_, options));
  if (config_.tie_word_embeddings) {
    output_embedding_ = model_->embedding();
  } else {
    lm_head_ = register_module("lm_head",
                               std::make_shared<Projection>(config_.hidden_size, config_.vocab_size, false, options));
    output_embedding_ = lm_head_->weight();
  }
  if (config_.value_head) {
    value_head_ = register_module("value_head", std::make_shared<Projection>(config_.hidden_size, 1, true, options));
  }
  inv_freq_ = ropeInverseFrequencies(config_).to(device);
}

std::vector<std::pair<std::string, at::Tensor>> Transformer::layerParameters(int64_t layer) const {
  GRAMRL_ASSERT(layer >= 0 && layer < numLayers(), "layer {} of {}", layer, numLayers());
  std::vector<std::pair<std::string, at::Tensor>> out;
  const std::string prefix = "model.layers." + std::to_string(layer) + ".";
  for (const auto& item : model_->layers()[static_cast<size_t>(layer)]->named_parameters(/*recurse=*/true)) {
    out.emplace_back(prefix + item.key(), item.value());
  }
  return out;
}

void Transformer::checkTokenIds(const at::Tensor& ids) const {
  if (ids.numel() == 0) return;
  const auto minmax = at::aminmax(ids);  // one device sync at most
  const at::Tensor bounds = at::stack({std::get<0>(minmax), std::get<1>(minmax)}).to(at::kCPU, at::kLong);
  const int64_t lo = bounds[0].item<int64_t>(), hi = bounds[1].item<int64_t>();
  GRAMRL_CHECK(lo >= 0 && hi < config_.vocab_size, DataError,
               "model: token ids must lie in [0, {}) (vocab_size), got values in [{}, {}]", config_.vocab_size, lo, hi);
}

at::Tensor Transformer::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                const at::Tensor& position_ids) const {
  GRAMRL_ASSERT(input_ids.dim() == 2, "input_ids must be [B, T], got {} dims", input_ids.dim());
  GRAMRL_ASSERT(attention_mask.sizes() == input_ids.sizes(), "attention_mask must have the shape of input_ids");
  GRAMRL_ASSERT(!position_ids.defined() || position_ids.sizes() == input_ids.sizes(),
                "position_ids must have the shape of input_ids");
  const int64_t batch = input_ids.size(0), len = input_ids.size(1);
  checkTokenIds(input_ids);  // before the copy: ids usually come from the host
  const at::Tensor ids = input_ids.to(device(), at::kLong);
  const at::Tensor real = attention_mask.to(device()).ne(0);
  const at::Tensor positions =
      position_ids.defined() ? position_ids.to(device(), at::kLong) : positionIdsFromMask(real);

  AttentionContext ctx;
  ctx.rotary = rotaryTables(inv_freq_, positions, dtype());
  const auto bool_options = at::TensorOptions().dtype(at::kBool).device(device());
  const at::Tensor index = at::arange(len, at::TensorOptions().dtype(at::kLong).device(device()));
  const at::Tensor causal = index.view({len, 1}) >= index.view({1, len});  // [query, key]
  const at::Tensor visible = causal.unsqueeze(0).logical_and(real.unsqueeze(1).logical_or(at::eye(len, bool_options)));
  ctx.blocked = visible.logical_not().view({batch, 1, 1, len, len});
  return model_->forward(ids, ctx, nullptr);
}

at::Tensor Transformer::values(const at::Tensor& hidden) const {
  GRAMRL_CHECK(value_head_ != nullptr, ConfigError, "model: values() needs a value head (config value_head is false)");
  return value_head_->forward(hidden).squeeze(-1).to(at::kFloat);
}

StepOutput Transformer::step(KvCache& cache, at::IntArrayRef slots, const at::Tensor& input_ids,
                             at::IntArrayRef lengths) const {
  torch::NoGradGuard no_grad;
  GRAMRL_ASSERT(input_ids.dim() == 2 && input_ids.size(0) > 0, "input_ids must be [B, T] with B > 0");
  const int64_t batch = input_ids.size(0), len = input_ids.size(1);
  GRAMRL_ASSERT(static_cast<int64_t>(slots.size()) == batch && static_cast<int64_t>(lengths.size()) == batch,
                "step: {} rows but {} slots and {} lengths", batch, slots.size(), lengths.size());
  GRAMRL_ASSERT(cache.numLayers() == config_.num_hidden_layers && cache.kvHeads() == config_.num_key_value_heads &&
                    cache.headDim() == headDim(config_),
                "step: the KV cache was built for another model config");
  GRAMRL_ASSERT(cache.dtype() == dtype() && cache.device() == device(), "step: KV cache is {} on {}, model {} on {}",
                c10::toString(cache.dtype()), cache.device().str(), c10::toString(dtype()), device().str());

  // Host-side indices in one buffer, moved to the device in one copy:
  // positions [B * T] | read slots [B] | last token rows [B] | write rows, slots, positions [N] each.
  int64_t total = 0, span = 0;
  std::vector<bool> seen(static_cast<size_t>(cache.maxSlots()), false);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t slot = slots[b], count = lengths[b];
    GRAMRL_ASSERT(slot >= 0 && slot < cache.maxSlots(), "step: slot {} out of range [0, {})", slot, cache.maxSlots());
    GRAMRL_ASSERT(!seen[static_cast<size_t>(slot)], "step: slot {} appears twice in one step", slot);
    seen[static_cast<size_t>(slot)] = true;
    GRAMRL_ASSERT(count >= 1 && count <= len, "step: row {} has length {}, must be in [1, {}]", b, count, len);
    const int64_t end = cache.length(slot) + count;
    GRAMRL_CHECK(end <= cache.maxLength(), DataError,
                 "step: slot {} would hold {} positions, more than the KV cache's max_length {}", slot, end,
                 cache.maxLength());
    total += count;
    span = std::max(span, end);
  }
  std::vector<int64_t> host(static_cast<size_t>(batch * len + 2 * batch + 3 * total));
  int64_t* positions = host.data();
  int64_t* read_slots = positions + batch * len;
  int64_t* last_rows = read_slots + batch;
  int64_t* write_tokens = last_rows + batch;
  int64_t* write_slots = write_tokens + total;
  int64_t* write_positions = write_slots + total;
  int64_t n = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t start = cache.length(slots[b]), count = lengths[b];
    for (int64_t t = 0; t < len; ++t) positions[b * len + t] = start + std::min(t, count - 1);
    read_slots[b] = slots[b];
    last_rows[b] = b * len + count - 1;
    for (int64_t t = 0; t < count; ++t, ++n) {
      write_tokens[n] = b * len + t;
      write_slots[n] = slots[b];
      write_positions[n] = start + t;
    }
  }
  const auto long_options = at::TensorOptions().dtype(at::kLong);
  const at::Tensor index = at::tensor(at::ArrayRef<int64_t>(host), long_options).to(device());
  const at::Tensor position_ids = index.narrow(0, 0, batch * len).view({batch, len});

  AttentionContext ctx;
  ctx.rotary = rotaryTables(inv_freq_, position_ids, dtype());
  const at::Tensor keys = at::arange(span, long_options.device(device()));
  ctx.blocked = (keys.view({1, 1, span}) > position_ids.unsqueeze(2)).view({batch, 1, 1, len, span});
  ctx.read_slots = index.narrow(0, batch * len, batch);
  ctx.write_tokens = index.narrow(0, batch * len + 2 * batch, total);
  ctx.write_slots = index.narrow(0, batch * len + 2 * batch + total, total);
  ctx.write_positions = index.narrow(0, batch * len + 2 * batch + 2 * total, total);
  ctx.span = span;
  bool consecutive = true;
  for (int64_t b = 1; b < batch; ++b) consecutive = consecutive && slots[b] == slots[0] + b;
  if (consecutive) ctx.read_first = slots[0];

  checkTokenIds(input_ids);
  const at::Tensor ids = input_ids.to(device(), at::kLong);
  const at::Tensor hidden = model_->forward(ids, ctx, &cache);
  const at::Tensor last_hidden =
      hidden.reshape({batch * len, hidden.size(2)}).index_select(0, index.narrow(0, batch * len + batch, batch));
  StepOutput out{at::linear(last_hidden, output_embedding_).to(at::kFloat), last_hidden};
  for (int64_t b = 0; b < batch; ++b) cache.advance(slots[b], lengths[b]);
  return out;
}

}  // namespace gramrl
