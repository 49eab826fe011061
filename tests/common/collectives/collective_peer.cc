// Test peer for collectives_process_test: one rank of a Gloo group in its own process.
//
//   collective_peer MODE RANK WORLD HOST:PORT TIMEOUT_MS
//
// MODE "sum": allreduceSum of a float32 [1000] tensor holding (rank + 1) * (i + 1) and an int64
// [3] tensor holding 10 * rank; checks the sums, prints "sum ok", exit 0 (1 on a wrong value).
// MODE "stall": one allreduce of a [4] tensor of ones, prints "ready", then never calls again
// and blocks until killed (the test's hung or killed peer).
// Exit 3 on a gramrl error (message on stderr), 2 on bad usage.
#include <ATen/ATen.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>

#include "common/collectives/collective.h"
#include "common/core/errors.h"

namespace {

int sum(gramrl::Collective& c, int rank, int world) {
  at::Tensor f = at::arange(1, 1001, at::TensorOptions().dtype(at::kFloat)).mul(rank + 1);
  at::Tensor l = at::full({3}, 10 * rank, at::TensorOptions().dtype(at::kLong));
  c.allreduceSum({f, l});
  // sum over r of (r + 1) = world (world + 1) / 2; of 10 r = 5 world (world - 1).
  const double scale = world * (world + 1) / 2.0;
  const float* fd = f.data_ptr<float>();
  for (int i = 0; i < 1000; ++i) {
    if (fd[i] != static_cast<float>(scale * (i + 1))) {
      std::cerr << "collective_peer: f[" << i << "] = " << fd[i] << ", expected " << scale * (i + 1) << "\n";
      return 1;
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (l.data_ptr<int64_t>()[i] != 5 * world * (world - 1)) {
      std::cerr << "collective_peer: l[" << i << "] = " << l.data_ptr<int64_t>()[i] << "\n";
      return 1;
    }
  }
  c.barrier();
  std::cout << "sum ok" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: collective_peer sum|stall RANK WORLD HOST:PORT TIMEOUT_MS\n";
    return 2;
  }
  const std::string mode = argv[1];
  const int rank = std::stoi(argv[2]);
  const int world = std::stoi(argv[3]);
  try {
    gramrl::CollectiveOptions options;
    options.timeout = std::chrono::milliseconds(std::stoll(argv[5]));
    options.connect_timeout = std::chrono::milliseconds(60000);
    auto c = gramrl::connectCollective(gramrl::RendezvousAddress::parse(argv[4]), rank, world, at::Device(at::kCPU),
                                       options);
    if (mode == "sum") return sum(*c, rank, world);
    if (mode == "stall") {
      c->allreduceSum({at::ones({4})});
      std::cout << "ready" << std::endl;
      for (;;) pause();  // until the test kills us
    }
    std::cerr << "collective_peer: unknown mode " << mode << "\n";
    return 2;
  } catch (const gramrl::Error& e) {
    std::cerr << "collective_peer: " << e.what() << "\n";
    return 3;
  }
}
