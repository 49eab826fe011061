// gramrl::collectives in one process: the single-rank collective, the bucket planner, and 1-,
// 2- and 3-rank Gloo groups on threads sharing a c10d HashStore.
#include <ATen/ATen.h>

#include <chrono>
#include <future>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/collectives/bucketing.h"
#include "common/collectives/collective.h"
#include "common/collectives/process_group.h"
#include "common/core/errors.h"
#include "tests/common/collectives/rank_threads.h"
#include "tests/support/seed.h"

namespace gramrl {
namespace {

using namespace std::chrono_literals;
using collectives::forEachBucket;
using collectives::planBuckets;
using testing::onRankThreads;
using testing::withGroup;

// Values k/8 for integer k in [-1000, 1000] (integers for integer dtypes): every sum of a few of
// them is exact in float32, so results compare with equality against a float64 sum.
at::Tensor randomTensor(at::ScalarType dtype, at::IntArrayRef shape, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> k(-1000, 1000);
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(at::kDouble));
  double* data = t.data_ptr<double>();
  const bool integral = at::isIntegralType(dtype, /*includeBool=*/false);
  for (int64_t i = 0; i < t.numel(); ++i) data[i] = integral ? k(rng) : k(rng) / 8.0;
  return t.to(dtype);
}

std::vector<double> valuesOf(const at::Tensor& t) {
  at::Tensor d = t.to(at::kDouble).contiguous().reshape({-1});
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

// A list with every case the bucketing handles: mixed dtypes, a non-contiguous view, a tensor
// larger than the 1 KiB bucket used below, a 0-dim tensor and an empty one.
std::vector<at::Tensor> mixedTensors(std::mt19937_64& rng) {
  return {
      randomTensor(at::kFloat, {3, 4}, rng),                     // 48 B, f32 bucket 1
      randomTensor(at::kDouble, {7}, rng),                       // 56 B, f64 bucket
      randomTensor(at::kLong, {2, 3, 2}, rng),                   // 96 B, i64 bucket
      randomTensor(at::kFloat, {3, 5}, rng).t(),                 // 60 B, non-contiguous, f32 bucket 1
      randomTensor(at::kFloat, {600}, rng),                      // 2400 B > 1 KiB: f32 bucket 2, alone
      randomTensor(at::kDouble, {}, rng),                        // 8 B, 0-dim, f64 bucket
      at::empty({0, 3}, at::TensorOptions().dtype(at::kFloat)),  // skipped
  };
}
// Hand count of the buckets above with bucket_bytes = 1024: f32 {48 + 60}, f32 {2400},
// f64 {56 + 8}, i64 {96}.
constexpr int64_t kMixedBuckets = 4;

TEST(SingleRankCollective, IsANoOp) {
  auto c = makeSingleRankCollective();
  EXPECT_EQ(c->rank(), 0);
  EXPECT_EQ(c->worldSize(), 1);
  EXPECT_EQ(c->backendName(), "single");
  std::mt19937_64 rng(testing::testSeed());
  std::vector<at::Tensor> ts = mixedTensors(rng);
  std::vector<std::vector<double>> before;
  for (auto& t : ts) before.push_back(valuesOf(t));
  c->allreduceSum(ts);
  c->broadcast(ts, 0);
  c->barrier();
  for (size_t i = 0; i < ts.size(); ++i) EXPECT_EQ(valuesOf(ts[i]), before[i]) << "tensor " << i;
  EXPECT_EQ(c->allreduceSum(std::vector<double>{1.5, -2.0}), (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(c->callCount(), 0);
  EXPECT_THROW(c->broadcast(ts, 1), InternalError);
  EXPECT_THROW(c->allreduceSum(std::vector<at::Tensor>{at::Tensor()}), InternalError);
}

TEST(SingleRankCollective, AllreduceGradientsAllocatesAndDivides) {
  auto c = makeSingleRankCollective();
  at::Tensor p0 = at::ones({4}).requires_grad_(true);
  at::Tensor p1 = at::ones({2, 3}).requires_grad_(true);
  p0.mutable_grad() = at::full({4}, 3.0);
  allreduceGradients(*c, {p0, p1}, 2.0);
  EXPECT_EQ(valuesOf(p0.grad()), std::vector<double>(4, 1.5));
  ASSERT_TRUE(p1.grad().defined());
  EXPECT_EQ(valuesOf(p1.grad()), std::vector<double>(6, 0.0));
}

TEST(Bucketing, GroupsByDtypeAndPacksGreedily) {
  std::mt19937_64 rng(testing::testSeed());
  const auto ts = mixedTensors(rng);
  const auto plan = planBuckets(ts, 1024);
  ASSERT_EQ(static_cast<int64_t>(plan.size()), kMixedBuckets);
  EXPECT_EQ(plan[0].indices, (std::vector<size_t>{0, 3}));
  EXPECT_EQ(plan[0].bytes, 108);
  EXPECT_EQ(plan[1].indices, (std::vector<size_t>{4}));
  EXPECT_EQ(plan[2].indices, (std::vector<size_t>{1, 5}));
  EXPECT_EQ(plan[3].indices, (std::vector<size_t>{2}));
}

TEST(Bucketing, CountIsCeilOfTensorsOverTensorsPerBucket) {
  std::vector<at::Tensor> ts;
  for (int i = 0; i < 100; ++i) ts.push_back(at::zeros({10}));  // 40 B each
  EXPECT_EQ(planBuckets(ts, 25 << 20).size(), 1u);
  EXPECT_EQ(planBuckets(ts, 400).size(), 10u);  // 10 per bucket
  EXPECT_EQ(planBuckets(ts, 100).size(), 50u);  // floor(100 / 40) = 2 per bucket
  EXPECT_EQ(planBuckets(ts, 39).size(), 100u);  // each larger than a bucket: alone
  EXPECT_THROW(planBuckets({at::zeros({1}), at::Tensor()}, 100), InternalError);
}

TEST(Bucketing, CopiesResultsBackIntoViews) {
  at::Tensor base = at::arange(15, at::TensorOptions().dtype(at::kFloat)).reshape({3, 5});
  std::vector<at::Tensor> ts{base.t(), at::full({2}, 7.0), at::full({3}, 1.0, at::TensorOptions().dtype(at::kLong))};
  const int64_t calls = forEachBucket(ts, 1 << 20, [](at::Tensor& flat) { flat.mul_(2); });
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(valuesOf(base), valuesOf(at::arange(15).mul(2)));
  EXPECT_EQ(valuesOf(ts[1]), std::vector<double>(2, 14.0));
  EXPECT_EQ(valuesOf(ts[2]), std::vector<double>(3, 2.0));
  // Without copy-back (a broadcast root) the caller's tensors keep their values.
  forEachBucket(
      ts, 1 << 20, [](at::Tensor& flat) { flat.zero_(); }, /*copy_back=*/false);
  EXPECT_EQ(valuesOf(ts[1]), std::vector<double>(2, 14.0));
}

TEST(Bucketing, KeepsOneStagingBufferPerDtypeAndDevice) {
  collectives::BucketBuffers buffers;
  const at::Device cpu(at::kCPU);
  at::Tensor a = buffers.get(at::kFloat, cpu, 10);
  EXPECT_EQ(buffers.get(at::kFloat, cpu, 6).data_ptr(), a.data_ptr());  // a prefix of the same memory
  EXPECT_NE(buffers.get(at::kDouble, cpu, 6).data_ptr(), a.data_ptr());
  at::Tensor b = buffers.get(at::kFloat, cpu, 20);  // grows
  EXPECT_EQ(b.numel(), 20);
  EXPECT_EQ(buffers.get(at::kFloat, cpu, 10).data_ptr(), b.data_ptr());
  // Reused across calls, the buffer still gives correct results.
  std::vector<at::Tensor> ts{at::full({3}, 1.0), at::full({2}, 2.0)};
  for (int call = 0; call < 2; ++call) {
    forEachBucket(
        ts, 1 << 20, [](at::Tensor& flat) { flat.add_(1); }, true, &buffers);
  }
  EXPECT_EQ(valuesOf(ts[0]), std::vector<double>(3, 3.0));
  EXPECT_EQ(valuesOf(ts[1]), std::vector<double>(2, 4.0));
}

class GroupTest : public ::testing::TestWithParam<int> {};

TEST_P(GroupTest, AllreduceSumsMixedTensorsInBuckets) {
  const int world = GetParam();
  const uint64_t seed = testing::testSeed();
  std::vector<std::vector<at::Tensor>> inputs;
  for (int r = 0; r < world; ++r) {
    std::mt19937_64 rng(seed + r);
    inputs.push_back(mixedTensors(rng));
  }
  // The expected sums, from the inputs before anything ran, in float64.
  std::vector<std::vector<double>> expected;
  for (size_t i = 0; i < inputs[0].size(); ++i) {
    std::vector<double> sum = valuesOf(inputs[0][i]);
    for (int r = 1; r < world; ++r) {
      const auto v = valuesOf(inputs[r][i]);
      for (size_t j = 0; j < sum.size(); ++j) sum[j] += v[j];
    }
    expected.push_back(sum);
  }
  CollectiveOptions options;
  options.bucket_bytes = 1024;
  withGroup(world, options, [&](int rank, Collective& c) {
    EXPECT_EQ(c.rank(), rank);
    EXPECT_EQ(c.worldSize(), world);
    EXPECT_EQ(c.backendName(), "gloo");
    c.allreduceSum(inputs[rank]);
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(valuesOf(inputs[rank][i]), expected[i]) << "rank " << rank << " tensor " << i;
      EXPECT_EQ(inputs[rank][i].scalar_type(), inputs[(rank + 1) % world][i].scalar_type());
    }
    EXPECT_EQ(c.callCount(), kMixedBuckets);
  });
}

TEST_P(GroupTest, BroadcastCopiesTheRootsValues) {
  const int world = GetParam();
  const int root = world - 1;
  const uint64_t seed = testing::testSeed();
  std::vector<std::vector<at::Tensor>> inputs;
  for (int r = 0; r < world; ++r) {
    std::mt19937_64 rng(seed + r);
    inputs.push_back(mixedTensors(rng));
  }
  std::vector<std::vector<double>> expected;
  for (auto& t : inputs[root]) expected.push_back(valuesOf(t));
  CollectiveOptions options;
  options.bucket_bytes = 1024;
  withGroup(world, options, [&](int rank, Collective& c) {
    c.broadcast(inputs[rank], root);
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(valuesOf(inputs[rank][i]), expected[i]) << "rank " << rank << " tensor " << i;
    }
    EXPECT_EQ(c.callCount(), kMixedBuckets);
  });
}

TEST_P(GroupTest, CoalescesSmallTensors) {
  const int world = GetParam();
  for (const int64_t bucket : {int64_t{25} << 20, int64_t{400}, int64_t{100}}) {
    CollectiveOptions options;
    options.bucket_bytes = bucket;
    options.group_name = "bucket" + std::to_string(bucket);
    withGroup(world, options, [&](int rank, Collective& c) {
      std::vector<at::Tensor> ts;
      for (int i = 0; i < 100; ++i) ts.push_back(at::full({10}, static_cast<double>(rank + i)));
      c.allreduceSum(ts);
      // sum over r of (r + i) = world * i + world * (world - 1) / 2
      for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(valuesOf(ts[i]), std::vector<double>(10, world * i + world * (world - 1) / 2.0)) << i;
      }
      // 40 B tensors: ceil(100 / floor(bucket / 40)) calls.
      const int64_t per_bucket = bucket / 40;
      EXPECT_EQ(c.callCount(), (100 + per_bucket - 1) / per_bucket) << "bucket " << bucket;
    });
  }
}

TEST_P(GroupTest, AllreduceGradientsZeroFillsMissingGrads) {
  const int world = GetParam();
  withGroup(world, CollectiveOptions{}, [&](int rank, Collective& c) {
    at::Tensor p0 = at::zeros({4}).requires_grad_(true);
    at::Tensor p1 = at::zeros({2, 3}).requires_grad_(true);
    p0.mutable_grad() = at::full({4}, rank + 1.0);
    if (rank == 0) p1.mutable_grad() = at::full({2, 3}, 6.0);  // undefined on every other rank
    allreduceGradients(c, {p0, p1}, /*divisor=*/2.0);
    // p0: sum of (r + 1) = world (world + 1) / 2, halved. p1: only rank 0's 6, halved.
    EXPECT_EQ(valuesOf(p0.grad()), std::vector<double>(4, world * (world + 1) / 4.0));
    EXPECT_EQ(valuesOf(p1.grad()), std::vector<double>(6, 3.0));
    EXPECT_EQ(c.callCount(), 1);
  });
}

TEST_P(GroupTest, DoublesAndBarrierAreOneCallEach) {
  const int world = GetParam();
  withGroup(world, CollectiveOptions{}, [&](int rank, Collective& c) {
    const auto sum = c.allreduceSum(std::vector<double>{static_cast<double>(rank), 0.25, -2.0 * rank});
    const double ranks = world * (world - 1) / 2.0;
    EXPECT_EQ(sum, (std::vector<double>{ranks, 0.25 * world, -2.0 * ranks}));
    EXPECT_EQ(c.callCount(), 1);
    c.barrier();
    EXPECT_EQ(c.callCount(), 2);
  });
}

TEST_P(GroupTest, TwoGroupsShareOneStore) {
  const int world = GetParam();
  const StoreHandle store = testing::inProcessStore();
  onRankThreads(world, [&](int rank) {
    CollectiveOptions a;
    a.group_name = "a";
    CollectiveOptions b;
    b.group_name = "b";
    auto ga = makeProcessGroupCollective(store, rank, world, at::Device(at::kCPU), a);
    auto gb = makeProcessGroupCollective(store, rank, world, at::Device(at::kCPU), b);
    EXPECT_EQ(gb->allreduceSum(std::vector<double>{1.0}), std::vector<double>{1.0 * world});
    EXPECT_EQ(ga->allreduceSum(std::vector<double>{2.0}), std::vector<double>{2.0 * world});
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, GroupTest, ::testing::Values(2, 3));

TEST(Group, WorldOfOneIsARealGroup) {
  withGroup(1, CollectiveOptions{}, [&](int, Collective& c) {
    std::vector<at::Tensor> ts{at::full({3}, 2.0)};
    c.allreduceSum(ts);
    EXPECT_EQ(valuesOf(ts[0]), std::vector<double>(3, 2.0));
    EXPECT_EQ(c.callCount(), 1);
  });
}

TEST(Group, RejectsBadArguments) {
  const StoreHandle store = testing::inProcessStore();
  const at::Device cpu(at::kCPU);
  CollectiveOptions mpi;
  mpi.backend = "mpi";
  EXPECT_THROW(makeProcessGroupCollective(store, 0, 1, cpu, mpi), ConfigError);
  CollectiveOptions nccl;
  nccl.backend = "nccl";
  EXPECT_THROW(makeProcessGroupCollective(store, 0, 1, cpu, nccl), ConfigError);
  EXPECT_THROW(makeProcessGroupCollective(store, 2, 2, cpu, {}), ConfigError);
  EXPECT_THROW(makeProcessGroupCollective(store, 0, 0, cpu, {}), ConfigError);
  CollectiveOptions no_buckets;
  no_buckets.bucket_bytes = 0;
  EXPECT_THROW(makeProcessGroupCollective(store, 0, 1, cpu, no_buckets), ConfigError);
  EXPECT_THROW(connectCollective({"127.0.0.1", 0}, 0, 1, cpu), ConfigError);
}

TEST(Group, ConnectTimesOutWhenAPeerNeverJoins) {
  CollectiveOptions options;
  options.timeout = 500ms;
  options.connect_timeout = 500ms;
  const auto start = std::chrono::steady_clock::now();
  try {
    makeProcessGroupCollective(testing::inProcessStore(), 0, 2, at::Device(at::kCPU), options);
    FAIL() << "expected CollectiveError";
  } catch (const CollectiveError& e) {
    const std::string what = e.what();
    std::cout << "[ error    ] " << what << std::endl;
    EXPECT_NE(what.find("connect failed on rank 0 of 2 (gloo, store in-process HashStore): timed out after 500 ms"),
              std::string::npos)
        << what;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(Group, AStuckPeerTimesOutAndBreaksTheGroup) {
  CollectiveOptions options;
  options.timeout = 500ms;
  std::promise<void> rank0_done;
  std::shared_future<void> done = rank0_done.get_future().share();
  withGroup(2, options, [&](int rank, Collective& c) {
    if (rank == 1) {
      done.wait();  // joins the group, then never calls: rank 0's allreduce finds no partner
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    std::vector<at::Tensor> ts{at::ones({4})};
    try {
      c.allreduceSum(ts);
      ADD_FAILURE() << "expected CollectiveError";
    } catch (const CollectiveError& e) {
      const std::string what = e.what();
      std::cout << "[ error    ] " << what << std::endl;
      EXPECT_NE(what.find("allreduce failed on rank 0 of 2 (gloo"), std::string::npos) << what;
      EXPECT_NE(what.find("timed out after 500 ms"), std::string::npos) << what;
      EXPECT_NE(what.find("learner.collective_timeout_s"), std::string::npos) << what;
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, 400ms);
    EXPECT_LT(waited, 10s);
    try {
      c.barrier();
      ADD_FAILURE() << "expected CollectiveError";
    } catch (const CollectiveError& e) {
      EXPECT_NE(std::string(e.what()).find("unusable after an earlier error"), std::string::npos) << e.what();
    }
    rank0_done.set_value();
  });
}

}  // namespace
}  // namespace gramrl
