// Weight sync (NOTE [Weight sync] in learner/rlhf/experience_server.h) in one process: learner
// rank 0's snapshot served by the ExperienceServer, fetched by an actor's WeightReceiver.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "actors/weight_receiver.h"
#include "common/core/errors.h"
#include "common/model/presets.h"
#include "common/model/transformer.h"
#include "common/transport/zmq_context.h"
#include "learner/rlhf/experience_server.h"
#include "learner/rlhf/weight_publisher.h"

namespace gramrl {
namespace {

bool sameParameters(Transformer& a, Transformer& b) {
  auto pa = a.parameters();
  auto pb = b.parameters();
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); ++i) {
    if (!pa[i].equal(pb[i])) return false;
  }
  return true;
}

class WeightSyncTest : public ::testing::Test {
 protected:
  WeightSyncTest() : server_(context_, rlhf::ExperienceServerOptions{}, 0, {}) {}
  ~WeightSyncTest() override { server_.stop(); }

  WeightReceiver receiver() {
    return WeightReceiver(context_, server_.weightsEndpoint(), transport::ReceiveLimits{},
                          std::chrono::milliseconds(20000));
  }

  transport::ZmqContext context_;
  rlhf::ExperienceServer server_;
};

TEST_F(WeightSyncTest, EveryVersionArrivesWhole) {
  torch::NoGradGuard no_grad;
  // "small" has more tensors than one message may carry segments (kMaxTensorsPerChunk splits
  // them), and a small chunk size makes several chunks by bytes too.
  const ModelConfig config = presetConfig("small");
  Transformer learner(config, torch::kFloat, torch::kCPU);
  Transformer actor(config, torch::kFloat, torch::kCPU);
  ASSERT_GT(learner.parameters().size(), 2 * rlhf::kMaxTensorsPerChunk);
  for (auto& p : learner.parameters()) p.uniform_(-1.0, 1.0);  // the constructor leaves them unset
  WeightReceiver r = receiver();
  for (int64_t version = 1; version <= 3; ++version) {
    for (auto& p : learner.parameters()) p.add_(0.5f * static_cast<float>(version));
    server_.publishWeights(rlhf::makeWeightSnapshot(learner, version, size_t{1} << 20));
    EXPECT_EQ(r.fetchInto(actor), version);
    EXPECT_TRUE(sameParameters(learner, actor)) << "version " << version;
    EXPECT_GT(r.lastBytes(), 0u);
  }
}

TEST_F(WeightSyncTest, AnotherArchitectureIsRefusedAndLeavesTheModelAlone) {
  torch::NoGradGuard no_grad;
  Transformer learner(presetConfig("small"), torch::kFloat, torch::kCPU);
  Transformer actor(presetConfig("toy"), torch::kFloat, torch::kCPU);
  Transformer before(presetConfig("toy"), torch::kFloat, torch::kCPU);
  for (auto& p : actor.parameters()) p.uniform_(-1.0, 1.0);
  for (size_t i = 0; i < actor.parameters().size(); ++i) before.parameters()[i].copy_(actor.parameters()[i]);
  server_.publishWeights(rlhf::makeWeightSnapshot(learner, 1));
  WeightReceiver r = receiver();
  EXPECT_THROW(r.fetchInto(actor), ProtocolError);
  EXPECT_TRUE(sameParameters(actor, before));
}

}  // namespace
}  // namespace gramrl
