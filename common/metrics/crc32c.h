// CRC-32C (Castagnoli), the checksum of TFRecord framing.
//
// Written by hand: Debian 12 ships no CRC32C library for C/C++ (no libcrc32c-dev, and its abseil
// 20220623 predates absl::crc32c). This is the portable table-driven "slicing-by-8" algorithm
// (reflected polynomial 0x82F63B78), about 1-2 GB/s; event files are written at a few KB per step,
// so the SSE4.2 instruction is not worth a CPU dispatch. Checked against the RFC 3720 B.4 vectors
// in tests/common/metrics/crc32c_test.cc.
//
// Threads: pure functions, callable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gramrl::metrics {

// CRC-32C of n bytes. `init` is the CRC of the bytes before these, so that
// crc32c(b, nb, crc32c(a, na)) == crc32c(a followed by b); 0 starts a new checksum.
uint32_t crc32c(const void* data, size_t n, uint32_t init = 0);

// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8. Masking keeps a CRC stored
// inside the data it covers from checksumming to a fixed value.
uint32_t maskCrc(uint32_t crc);

}  // namespace gramrl::metrics
