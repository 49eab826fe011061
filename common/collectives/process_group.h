// The c10d-facing side of gramrl::collectives: a Collective over an existing c10d store.
//
// connectCollective() (collective.h) uses this after connecting to the rendezvous TCPStore;
// tests use it directly with a c10d::HashStore shared by threads, so a 2- or 3-rank group runs
// inside one process without ports. Includers see c10d; the engine includes collective.h only.
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>

#include <memory>
#include <string>

#include "common/collectives/collective.h"

namespace gramrl {

struct StoreHandle {
  c10::intrusive_ptr<c10d::Store> store;
  // Names the store in errors: "127.0.0.1:29500", "in-process HashStore".
  std::string description;
  // Gloo binds to 127.0.0.1 when every rank is on this machine (see connectCollective).
  bool loopback = true;
};

// Wraps `store.store` in PrefixStore(options.group_name) and creates the process group for
// `rank` of `world_size` on `device`, as connectCollective does after connecting. Blocks until
// all ranks joined (Gloo connects its full mesh here; NCCL runs one barrier) or
// options.timeout. Throws ConfigError for bad arguments and CollectiveError (op "connect")
// when the group cannot be formed. The group holds its own reference to the store.
std::unique_ptr<Collective> makeProcessGroupCollective(const StoreHandle& store, int rank, int world_size,
                                                       at::Device device, const CollectiveOptions& options);

}  // namespace gramrl
