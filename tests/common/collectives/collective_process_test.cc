// gramrl::collectives across real processes: this test is rank 0 and hosts the rendezvous
// store; rank 1 is collective_peer, started with its rank, world and the store address on the
// command line. Covers a correct allreduce, a peer SIGKILLed while rank 0 waits, and a peer
// that stops calling (rank 0 must get a CollectiveError, not hang).
#include <ATen/ATen.h>

#include <chrono>
#include <future>
#include <iostream>
#include <string>

#include <gtest/gtest.h>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>

#include "common/collectives/collective.h"
#include "common/core/errors.h"
#include "common/rendezvous/rendezvous.h"

namespace gramrl {
namespace {

namespace bp = boost::process;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Peer {
  bp::ipstream out;
  bp::child child;
};

// Starts collective_peer as rank 1 of 2.
void startPeer(Peer& peer, const std::string& mode, const RendezvousAddress& store, std::chrono::milliseconds timeout) {
  peer.child =
      bp::child(GRAMRL_COLLECTIVE_PEER, bp::args({mode, "1", "2", store.toString(), std::to_string(timeout.count())}),
                bp::std_out > peer.out);
}

std::string readLine(Peer& peer) {
  std::string line;
  std::getline(peer.out, line);
  return line;
}

// Rank 0 and a peer that did one allreduce with it and then stalls ("ready" read back).
std::unique_ptr<Collective> connectToStalledPeer(Peer& peer, const Rendezvous& host,
                                                 std::chrono::milliseconds timeout) {
  startPeer(peer, "stall", host.address(), timeout);
  CollectiveOptions options;
  options.timeout = timeout;
  options.connect_timeout = 60s;  // start-up on a loaded machine is not what this tests
  auto c = connectCollective(host.address(), 0, 2, at::Device(at::kCPU), options);
  c->allreduceSum({at::ones({4})});
  EXPECT_EQ(readLine(peer), "ready");
  return c;
}

TEST(CollectiveProcesses, TwoRanksSum) {
  auto host = Rendezvous::host({"127.0.0.1", 0}, 10s);
  Peer peer;
  startPeer(peer, "sum", host->address(), 20s);
  CollectiveOptions options;
  options.timeout = 20s;
  auto c = connectCollective(host->address(), 0, 2, at::Device(at::kCPU), options);
  EXPECT_EQ(c->backendName(), "gloo");
  // The same tensors as the peer's rank 0 would hold: (0 + 1) * (i + 1) and 10 * 0.
  at::Tensor f = at::arange(1, 1001, at::TensorOptions().dtype(at::kFloat));
  at::Tensor l = at::zeros({3}, at::TensorOptions().dtype(at::kLong));
  c->allreduceSum({f, l});
  // Rank 1 adds (1 + 1) * (i + 1) and 10.
  EXPECT_TRUE(f.equal(at::arange(1, 1001, at::TensorOptions().dtype(at::kFloat)).mul(3)));
  EXPECT_TRUE(l.equal(at::full({3}, 10, at::TensorOptions().dtype(at::kLong))));
  EXPECT_EQ(c->callCount(), 2);  // one bucket per dtype
  c->barrier();
  EXPECT_EQ(readLine(peer), "sum ok");
  peer.child.wait();
  EXPECT_EQ(peer.child.exit_code(), 0);
}

TEST(CollectiveProcesses, KilledPeerFailsTheSurvivorsAllreduce) {
  constexpr auto kTimeout = 15s;
  auto host = Rendezvous::host({"127.0.0.1", 0}, 10s);
  Peer peer;
  auto c = connectToStalledPeer(peer, *host, kTimeout);
  const auto start = Clock::now();
  auto survivor = std::async(std::launch::async, [&] { c->allreduceSum({at::ones({1 << 16})}); });
  peer.child.terminate();  // SIGKILL, while rank 0 waits for it in (or on its way into) the allreduce
  peer.child.wait();
  ASSERT_EQ(survivor.wait_for(kTimeout + 10s), std::future_status::ready) << "rank 0 hangs after its peer died";
  const auto waited = Clock::now() - start;
  try {
    survivor.get();
    FAIL() << "expected CollectiveError";
  } catch (const CollectiveError& e) {
    const std::string what = e.what();
    std::cout << "[ error    ] after " << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
              << " ms: " << what << std::endl;
    EXPECT_NE(what.find("allreduce failed on rank 0 of 2 (gloo, store " + host->address().toString()),
              std::string::npos)
        << what;
  }
  EXPECT_LT(waited, kTimeout + 5s);
  // Gloo sees the connection reset at once; it does not wait for the timeout.
  EXPECT_LT(waited, kTimeout);
}

TEST(CollectiveProcesses, StalledPeerTimesOut) {
  constexpr auto kTimeout = 2s;
  auto host = Rendezvous::host({"127.0.0.1", 0}, 10s);
  Peer peer;
  auto c = connectToStalledPeer(peer, *host, kTimeout);
  const auto start = Clock::now();
  try {
    c->allreduceSum({at::ones({4})});
    ADD_FAILURE() << "expected CollectiveError";
  } catch (const CollectiveError& e) {
    const std::string what = e.what();
    std::cout << "[ error    ] " << what << std::endl;
    EXPECT_NE(what.find("allreduce failed on rank 0 of 2"), std::string::npos) << what;
    EXPECT_NE(what.find("timed out after 2000 ms"), std::string::npos) << what;
  }
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, 1500ms);
  EXPECT_LT(waited, kTimeout + 5s);
  peer.child.terminate();
  peer.child.wait();
}

TEST(CollectiveProcesses, ConnectFailsWhenTheOtherRankNeverJoins) {
  auto host = Rendezvous::host({"127.0.0.1", 0}, 10s);
  CollectiveOptions options;
  options.timeout = 1s;
  options.connect_timeout = 1s;
  const auto start = Clock::now();
  try {
    connectCollective(host->address(), 0, 2, at::Device(at::kCPU), options);
    FAIL() << "expected CollectiveError";
  } catch (const CollectiveError& e) {
    const std::string what = e.what();
    std::cout << "[ error    ] " << what << std::endl;
    EXPECT_NE(what.find("connect failed on rank 0 of 2 (gloo, store " + host->address().toString() +
                        "): timed out after 1000 ms"),
              std::string::npos)
        << what;
  }
  EXPECT_LT(Clock::now() - start, 10s);
}

TEST(CollectiveProcesses, ConnectFailsWhenNoStoreListens) {
  uint16_t port = 0;
  {
    auto probe = Rendezvous::host({"127.0.0.1", 0}, 1s);  // a free port that nothing listens on afterwards
    port = probe->address().port;
  }
  CollectiveOptions options;
  options.timeout = 1s;
  options.connect_timeout = 1s;
  const auto start = Clock::now();
  try {
    connectCollective({"127.0.0.1", port}, 1, 2, at::Device(at::kCPU), options);
    FAIL() << "expected CollectiveError";
  } catch (const CollectiveError& e) {
    const std::string what = e.what();
    std::cout << "[ error    ] " << what << std::endl;
    EXPECT_NE(what.find("connect failed on rank 1 of 2 (gloo, store 127.0.0.1:" + std::to_string(port) + ")"),
              std::string::npos)
        << what;
  }
  EXPECT_LT(Clock::now() - start, 10s);
}

}  // namespace
}  // namespace gramrl
