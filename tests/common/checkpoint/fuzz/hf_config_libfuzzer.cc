// libFuzzer entry point for the config.json reader (optional, like safetensors_libfuzzer.cc).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/checkpoint/hf_config.h"
#include "common/core/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    gramrl::checkpoint::parseHfConfig(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const gramrl::DataError&) {
  } catch (...) {
    std::abort();
  }
  return 0;
}
