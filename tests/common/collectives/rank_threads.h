// Test support for gramrl::collectives: a group of ranks on threads of this process, joined
// through one c10d HashStore (no ports).
#pragma once

#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include "common/collectives/process_group.h"

namespace gramrl::testing {

inline StoreHandle inProcessStore() {
  return StoreHandle{c10::make_intrusive<c10d::HashStore>(), "in-process HashStore", /*loopback=*/true};
}

// Runs body(rank) on `world` threads and rethrows the first exception any of them threw
// (after joining all). gtest EXPECT_* may be used inside body.
inline void onRankThreads(int world, const std::function<void(int rank)>& body) {
  std::vector<std::exception_ptr> errors(world);
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        body(r);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// Connects `world` ranks over one fresh HashStore and runs body(rank, collective) on each.
inline void withGroup(int world, const CollectiveOptions& options,
                      const std::function<void(int rank, Collective& collective)>& body) {
  const StoreHandle store = inProcessStore();
  onRankThreads(world, [&](int rank) {
    auto collective = makeProcessGroupCollective(store, rank, world, at::Device(at::kCPU), options);
    body(rank, *collective);
  });
}

}  // namespace gramrl::testing
