// Test peer for rendezvous_test: connects to the store at argv[1], registers an endpoint as
// ("actor", argv[2], "rollout"), looks up the host's ("learner", 0, "weights") endpoint, bumps
// the "joined" counter, and prints what it found. Exit 0 on success, 3 on a gramrl error.
#include <chrono>
#include <iostream>
#include <string>

#include "common/core/errors.h"
#include "common/rendezvous/rendezvous.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: rendezvous_peer HOST:PORT INDEX\n";
    return 2;
  }
  try {
    using namespace std::chrono_literals;
    auto rv = gramrl::Rendezvous::connect(gramrl::RendezvousAddress::parse(argv[1]), 10s);
    const int64_t index = std::stoll(argv[2]);
    rv->publish("actor", index, "rollout", "tcp://127.0.0.1:" + std::to_string(40000 + index));
    const std::string weights = rv->lookup("learner", 0, "weights", 10s);
    const int64_t joined = rv->add("joined", 1);
    std::cout << "weights=" << weights << " joined=" << joined << std::endl;
    // Wait until the host says it has read our endpoint, so the store outlives our reads.
    rv->get("done", 10s);
    return 0;
  } catch (const gramrl::Error& e) {
    std::cerr << "rendezvous_peer: " << e.what() << "\n";
    return 3;
  }
}
