#include "common/metrics/tfrecord.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>

#include "common/core/errors.h"
#include "common/metrics/crc32c.h"

namespace gramrl::metrics {
namespace {

constexpr size_t kHeaderBytes = 12;  // length + masked CRC of length
constexpr size_t kFooterBytes = 4;   // masked CRC of data

void put32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

void put64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

uint64_t get(std::string_view bytes, size_t offset, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(bytes[offset + i])} << (8 * i);
  return v;
}

uint32_t maskedCrc(std::string_view bytes) { return maskCrc(crc32c(bytes.data(), bytes.size())); }

}  // namespace

std::string frameTfRecord(std::string_view data) {
  std::string out;
  out.reserve(kHeaderBytes + data.size() + kFooterBytes);
  put64(out, data.size());
  put32(out, maskedCrc(std::string_view(out.data(), 8)));
  out.append(data.data(), data.size());
  put32(out, maskedCrc(data));
  return out;
}

std::vector<std::string> parseTfRecords(std::string_view bytes, const std::string& source) {
  std::vector<std::string> records;
  size_t offset = 0;
  while (offset < bytes.size()) {
    const size_t left = bytes.size() - offset;
    GRAMRL_CHECK(left >= kHeaderBytes, DataError,
                 "{}: truncated TFRecord header at byte offset {} ({} of {} header bytes present)", source, offset,
                 left, kHeaderBytes);
    const uint64_t length = get(bytes, offset, 8);
    const uint32_t length_crc = static_cast<uint32_t>(get(bytes, offset + 8, 4));
    GRAMRL_CHECK(maskedCrc(bytes.substr(offset, 8)) == length_crc, DataError,
                 "{}: bad length CRC in TFRecord at byte offset {} (length field reads {})", source, offset, length);
    GRAMRL_CHECK(length <= left - kHeaderBytes && left - kHeaderBytes - length >= kFooterBytes, DataError,
                 "{}: truncated TFRecord at byte offset {}: needs {} data + {} CRC bytes, {} present", source, offset,
                 length, kFooterBytes, left - kHeaderBytes);
    const std::string_view data = bytes.substr(offset + kHeaderBytes, length);
    const uint32_t data_crc = static_cast<uint32_t>(get(bytes, offset + kHeaderBytes + length, 4));
    GRAMRL_CHECK(maskedCrc(data) == data_crc, DataError,
                 "{}: bad data CRC in TFRecord at byte offset {} ({} data bytes)", source, offset, length);
    records.emplace_back(data);
    offset += kHeaderBytes + length + kFooterBytes;
  }
  return records;
}

std::vector<std::string> readTfRecords(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  GRAMRL_CHECK(in.is_open(), DataError, "{}: cannot open TFRecord file: {}", path, std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  GRAMRL_CHECK(!in.bad(), DataError, "{}: read error: {}", path, std::strerror(errno));
  return parseTfRecords(bytes, path);
}

}  // namespace gramrl::metrics
