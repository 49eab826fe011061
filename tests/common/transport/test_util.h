// Helpers for hermetic transport tests: temp dirs for ipc:// paths, unique inproc names,
// ephemeral tcp ports, printed seeds.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "tests/support/seed.h"
#include "tests/support/temp_dir.h"

namespace gramrl::transport::testing {

// A fresh directory (tests/support/temp_dir.h) named after this suite.
class TempDir : public ::gramrl::testing::TempDir {
 public:
  TempDir() : ::gramrl::testing::TempDir("grl") {}
};

enum class Transport { kTcp, kIpc, kInproc };

inline std::string transportName(Transport t) {
  switch (t) {
    case Transport::kTcp: return "tcp";
    case Transport::kIpc: return "ipc";
    case Transport::kInproc: return "inproc";
  }
  return "unknown";
}

inline std::string uniqueName(const std::string& stem) {
  static std::atomic<int> counter{0};
  return fmt::format("{}-{}-{}", stem, getpid(), counter.fetch_add(1));
}

// An endpoint to bind: an ephemeral loopback port, a socket file in `dir`, or a fresh inproc
// name. Connect to what bind() returns.
inline std::string bindEndpoint(Transport t, const TempDir& dir, const std::string& stem = "ep") {
  switch (t) {
    case Transport::kTcp: return "tcp://127.0.0.1:*";
    case Transport::kIpc: return fmt::format("ipc://{}/{}.sock", dir.path(), uniqueName(stem));
    case Transport::kInproc: return fmt::format("inproc://{}", uniqueName(stem));
  }
  return {};
}

using ::gramrl::testing::testSeed;  // tests/support/seed.h

}  // namespace gramrl::transport::testing
