// libFuzzer entry point for the safetensors header parser (optional; the seeded gtest loop in
// safetensors_fuzz_test.cc is what CI runs). Any exception other than DataError, and any crash or
// sanitizer report, is a bug. Build and run: see tests/common/checkpoint/CMakeLists.txt.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/checkpoint/safetensors.h"
#include "common/core/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    gramrl::checkpoint::parseSafetensors(data, size, "fuzz", /*max_header_bytes=*/1 << 20);
  } catch (const gramrl::DataError&) {
  } catch (...) {
    std::abort();
  }
  return 0;
}
