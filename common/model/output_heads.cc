#include "common/model/output_heads.h"

#include <algorithm>

#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void checkIdsInRange(const at::Tensor& ids, int64_t limit, const char* what) {
  if (ids.numel() == 0) return;
  const auto minmax = at::aminmax(ids);  // one device sync at most
  const at::Tensor bounds = at::stack({std::get<0>(minmax), std::get<1>(minmax)}).to(at::kCPU, at::kLong);
  const int64_t lo = bounds[0].item<int64_t>(), hi = bounds[1].item<int64_t>();
  GRAMRL_CHECK(lo >= 0 && hi < limit, DataError, "model: {} must lie in [0, {}), got values in [{}, {}]", what, limit,
               lo, hi);
}

// NOTE [Chunked token log-probs] in output_heads.h. Inputs: hidden [N, H], weight [V, H],
// targets [N] int64, chunk size. Output [N] float32.
class TokenLogProbFunction : public torch::autograd::Function<TokenLogProbFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight,
                            const at::Tensor& targets, int64_t chunk) {
    const int64_t n = hidden.size(0);
    const auto f32 = hidden.options().dtype(at::kFloat);
    at::Tensor out = at::empty({n}, f32), lse = at::empty({n}, f32);
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t count = std::min(chunk, n - start);
      at::Tensor logits = at::matmul(hidden.narrow(0, start, count), weight.t()).to(at::kFloat);
      at::Tensor chunk_lse = at::logsumexp(logits, 1);
      at::Tensor picked = logits.gather(1, targets.narrow(0, start, count).unsqueeze(1)).squeeze(1);
      lse.narrow(0, start, count).copy_(chunk_lse);
      out.narrow(0, start, count).copy_(picked - chunk_lse);
    }
    ctx->save_for_backward({hidden, weight, targets, lse});
    ctx->saved_data["chunk"] = chunk;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &hidden = saved[0], &weight = saved[1], &targets = saved[2], &lse = saved[3];
    const at::Tensor grad = grads[0].to(at::kFloat);
    const int64_t chunk = ctx->saved_data["chunk"].toInt(), n = hidden.size(0);
    const bool need_hidden = ctx->needs_input_grad(0), need_weight = ctx->needs_input_grad(1);
    at::Tensor grad_hidden = need_hidden ? at::empty_like(hidden) : at::Tensor();
    // Accumulated over chunks in float32 whatever the weight dtype.
    at::Tensor grad_weight = need_weight ? at::zeros(weight.sizes(), weight.options().dtype(at::kFloat)) : at::Tensor();
    for (int64_t start = 0; start < n && (need_hidden || need_weight); start += chunk) {
      const int64_t count = std::min(chunk, n - start);
      const at::Tensor h = hidden.narrow(0, start, count);
      const at::Tensor g = grad.narrow(0, start, count).unsqueeze(1);
      at::Tensor logits = at::matmul(h, weight.t()).to(at::kFloat);
      // d(logit_target - lse) / d logits = onehot(target) - softmax(logits).
      at::Tensor grad_logits = (logits - lse.narrow(0, start, count).unsqueeze(1)).exp_().mul_(-g);
      grad_logits.scatter_add_(1, targets.narrow(0, start, count).unsqueeze(1), g);
      grad_logits = grad_logits.to(hidden.scalar_type());
      if (need_hidden) grad_hidden.narrow(0, start, count).copy_(at::matmul(grad_logits, weight));
      if (need_weight) grad_weight.add_(at::matmul(grad_logits.t(), h));
    }
    if (need_weight) grad_weight = grad_weight.to(weight.scalar_type());
    return {grad_hidden, grad_weight, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor positionIdsFromMask(const at::Tensor& attention_mask) {
  GRAMRL_ASSERT(attention_mask.dim() == 2, "attention_mask must be [B, T], got {} dims", attention_mask.dim());
  const at::Tensor real = attention_mask.ne(0);
  return (real.to(at::kLong).cumsum(-1) - 1).masked_fill(real.logical_not(), 1);
}

at::Tensor lastTokenPositions(const at::Tensor& attention_mask) {
  GRAMRL_ASSERT(attention_mask.dim() == 2, "attention_mask must be [B, T], got {} dims", attention_mask.dim());
  const at::Tensor index = at::arange(attention_mask.size(1), attention_mask.options().dtype(at::kLong));
  return (index.unsqueeze(0) * attention_mask.ne(0).to(at::kLong)).amax(1);
}

at::Tensor fullLogits(const at::Tensor& hidden, const at::Tensor& weight) {
  return at::matmul(hidden, weight.t()).to(at::kFloat);
}

at::Tensor selectedLogits(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& positions,
                          const at::Tensor& vocab_ids) {
  GRAMRL_ASSERT(hidden.dim() == 3, "hidden must be [B, T, H], got {} dims", hidden.dim());
  const int64_t batch = hidden.size(0), len = hidden.size(1), width = hidden.size(2);
  GRAMRL_ASSERT((positions.dim() == 1 || positions.dim() == 2) && positions.size(0) == batch,
                "positions must be [B] or [B, P] with B = {}", batch);
  const at::Tensor pos = (positions.dim() == 1 ? positions.unsqueeze(1) : positions).to(hidden.device(), at::kLong);
  checkIdsInRange(pos, len, "positions");
  const at::Tensor picked = hidden.gather(1, pos.unsqueeze(2).expand({batch, pos.size(1), width}));  // [B, P, H]
  at::Tensor rows = weight;
  if (vocab_ids.defined()) {
    GRAMRL_ASSERT(vocab_ids.dim() == 1, "vocab_ids must be [K], got {} dims", vocab_ids.dim());
    const at::Tensor ids = vocab_ids.to(weight.device(), at::kLong);
    checkIdsInRange(ids, weight.size(0), "vocab_ids");
    rows = weight.index_select(0, ids);
  }
  at::Tensor logits = at::matmul(picked, rows.t()).to(at::kFloat);
  return positions.dim() == 1 ? logits.squeeze(1) : logits;
}

at::Tensor tokenLogProbs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                         const at::Tensor& mask, int64_t chunk_tokens) {
  GRAMRL_ASSERT(hidden.dim() == 3, "hidden must be [B, T, H], got {} dims", hidden.dim());
  const int64_t batch = hidden.size(0), len = hidden.size(1), vocab = weight.size(0);
  GRAMRL_ASSERT(targets.dim() == 2 && targets.size(0) == batch && targets.size(1) == len, "targets must be [{}, {}]",
                batch, len);
  GRAMRL_ASSERT(mask.dim() == 2 && mask.size(0) == batch && mask.size(1) == len, "mask must be [{}, {}]", batch, len);
  const at::Tensor rows = mask.to(hidden.device()).reshape({-1}).ne(0).nonzero().squeeze(1);
  const at::Tensor picked = hidden.reshape({batch * len, hidden.size(2)}).index_select(0, rows);
  const at::Tensor picked_targets = targets.to(hidden.device(), at::kLong).reshape({-1}).index_select(0, rows);
  checkIdsInRange(picked_targets, vocab, "target token ids");
  const int64_t chunk =
      chunk_tokens > 0 ? chunk_tokens : std::max<int64_t>(1, kLogitChunkBytes / (vocab * int64_t{sizeof(float)}));
  const at::Tensor logprobs = TokenLogProbFunction::apply(picked, weight, picked_targets, chunk);
  return at::zeros({batch * len}, logprobs.options()).index_copy(0, rows, logprobs).view({batch, len});
}

}  // namespace gramrl
