#include "common/collectives/collective.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <cstring>

#include "common/collectives/bucketing.h"
#include "common/core/errors.h"

namespace gramrl {
namespace {

// A world of one. It plans buckets like a real group (and so rejects undefined or sparse
// tensors the same way) but issues nothing.
class SingleRankCollective final : public Collective {
 public:
  using Collective::allreduceSum;

  int rank() const override { return 0; }
  int worldSize() const override { return 1; }
  std::string backendName() const override { return "single"; }

  void allreduceSum(const std::vector<at::Tensor>& tensors) override {
    collectives::planBuckets(tensors, CollectiveOptions{}.bucket_bytes);
  }
  void broadcast(const std::vector<at::Tensor>& tensors, int root) override {
    GRAMRL_ASSERT(root == 0, "broadcast root {} is not a rank of a world of 1", root);
    collectives::planBuckets(tensors, CollectiveOptions{}.bucket_bytes);
  }
  void barrier() override {}
  void allGather(const at::Tensor& full) override { collectives::checkEqualParts(full, 1); }
  void reduceScatterSum(const at::Tensor& full, const at::Tensor& part) override {
    collectives::checkEqualParts(full, 1);
    GRAMRL_ASSERT(part.numel() == full.numel(), "reduceScatterSum: a part of {} elements of {}", part.numel(),
                  full.numel());
    at::NoGradGuard no_grad;
    if (!part.is_same(full)) part.view(-1).copy_(full);
  }
  int64_t callCount() const override { return 0; }
};

}  // namespace

std::vector<double> Collective::allreduceSum(std::vector<double> values) {
  if (values.empty()) return values;
  const auto n = static_cast<int64_t>(values.size());
  at::Tensor host = at::empty({n}, at::TensorOptions().dtype(at::kDouble));
  std::memcpy(host.data_ptr<double>(), values.data(), values.size() * sizeof(double));
  at::Tensor wire = host.to(device());
  allreduceSum(std::vector<at::Tensor>{wire});
  host = wire.to(at::kCPU).contiguous();
  std::memcpy(values.data(), host.data_ptr<double>(), values.size() * sizeof(double));
  return values;
}

std::unique_ptr<Collective> makeSingleRankCollective() { return std::make_unique<SingleRankCollective>(); }

void allreduceGradients(Collective& collective, const std::vector<at::Tensor>& parameters, double divisor) {
  GRAMRL_ASSERT(std::isfinite(divisor) && divisor != 0.0, "gradient divisor must be finite and non-zero, got {}",
                divisor);
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  grads.reserve(parameters.size());
  for (size_t i = 0; i < parameters.size(); ++i) {
    const at::Tensor& p = parameters[i];
    GRAMRL_ASSERT(p.defined(), "parameter {} of {} is undefined", i, parameters.size());
    at::Tensor& grad = p.mutable_grad();
    // A parameter unused in this rank's micro-batches has no grad; zeros keep the bucket plan,
    // and therefore the sequence of collective calls, identical on every rank.
    if (!grad.defined()) grad = at::zeros_like(p);
    GRAMRL_ASSERT(grad.layout() == at::kStrided, "the grad of parameter {} is sparse; only dense grads are summed", i);
    grads.push_back(grad);
  }
  collective.allreduceSum(grads);
  if (divisor != 1.0) {
    for (auto& g : grads) g.div_(divisor);
  }
}

}  // namespace gramrl
