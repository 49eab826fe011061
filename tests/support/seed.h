// Test support: the seed of a randomised test, reproducible and always printed.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace gramrl::testing {

// GRAMRL_TEST_SEED=<n> reproduces a run; otherwise a random seed. Printed either way and
// recorded as the test's "seed" property.
inline uint64_t testSeed() {
  uint64_t seed = 0;
  if (const char* env = std::getenv("GRAMRL_TEST_SEED"); env && *env) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  }
  std::cout << "[ seed     ] GRAMRL_TEST_SEED=" << seed << std::endl;
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

}  // namespace gramrl::testing
