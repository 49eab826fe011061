// The safetensors file format (Hugging Face): a bounds-checked reader and a canonical writer.
// Torch-free; checkpoint.h turns the byte ranges into LibTorch tensors.
//
// NOTE [Safetensors layout]
//   bytes 0-7       N, the header length (u64 little-endian)
//   bytes 8..8+N    a JSON object, UTF-8:
//                     {"__metadata__": {"format": "pt"},                       (optional)
//                      "<name>": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [begin, end]},
//                      ...}
//   bytes 8+N..     the data area; a tensor's bytes are [8+N+begin, 8+N+end), row-major,
//                   little-endian.
// What the reader enforces (each failure is a DataError naming the file and the tensor or field):
// N <= max_header_bytes (100 MB, the reference implementation's cap) and 8 + N <= file size; the
// header is a JSON object (first byte '{', no NUL, no duplicate keys, nesting <= 8); every entry
// has exactly the keys dtype, shape and data_offsets (unknown keys are rejected rather than
// ignored: a field we do not understand might change the meaning of the bytes); dtype is one of
// DType; shape is at most kMaxSafetensorsRank non-negative integers whose product times the
// element size fits in 64 bits; data_offsets are two integers with begin <= end and
// end - begin == that product. Sorted by offset, the tensors must tile the data area exactly:
// each begins where the previous one ends (so none overlap and there are no gaps) and the last
// ends at the end of the file. The reference implementation (safetensors' Metadata::validate)
// enforces the same tiling, so anything we accept, Hugging Face accepts, and a file with trailing
// bytes (a partial overwrite, a concatenation) is rejected rather than half-read. "__metadata__"
// must map strings to strings.
//
// The writer produces the reference implementation's canonical bytes (its tensor.rs `prepare`):
// tensors ordered by element alignment, largest first (I64/F64, F32/I32, BF16/F16/I16, then
// 1-byte types), ties broken by name; compact JSON with "__metadata__" first, then the tensors in
// file order with their keys in the order dtype, shape, data_offsets; the header padded with
// spaces to a multiple of 8 bytes. Every tensor's data is then aligned to its element size when
// the file is mapped (page-aligned), which lets checkpoint.h wrap it without copying.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/checkpoint/file_io.h"

namespace gramrl::checkpoint {

// Element types, in the reference implementation's order (increasing alignment). The
// safetensors types gramrl does not handle (F8_E4M3, F8_E5M2, U16, U32, U64) are rejected.
enum class DType : uint8_t { kBool, kU8, kI8, kI16, kF16, kBF16, kI32, kF32, kF64, kI64 };

std::string_view dtypeName(DType dtype);  // "BOOL", "U8", ..., "F32", "I64"
size_t dtypeSize(DType dtype);            // bytes per element
std::optional<DType> dtypeFromName(std::string_view name);
// "BOOL, U8, I8, ..." for error messages.
std::string supportedDtypeNames();

inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
inline constexpr size_t kMaxSafetensorsRank = 32;

// One tensor of a parsed header.
struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the start of the data area
  uint64_t end = 0;
  uint64_t byteSize() const { return end - begin; }
};

// A validated header. Plain data; copyable.
struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;              // sorted by begin (file order)
  std::map<std::string, std::string> metadata;  // "__metadata__"; empty when absent
  uint64_t header_bytes = 0;                    // N
  uint64_t data_bytes = 0;                      // size of the data area

  // File offset of the data area (8 + N).
  uint64_t dataOffset() const { return 8 + header_bytes; }
  // The tensor called `name`, or null. O(log n).
  const TensorInfo* find(std::string_view name) const;

  // name -> index into tensors; filled by the parser (and by buildIndex()).
  std::map<std::string, size_t, std::less<>> by_name;
  void buildIndex();
};

// Parses and validates (NOTE [Safetensors layout]) a whole file held in memory: `file` points to
// `file_size` bytes. `source` names the file in errors. Throws DataError; never reads outside
// [file, file + file_size). Threads: any.
SafetensorsHeader parseSafetensors(const uint8_t* file, size_t file_size, std::string_view source,
                                   uint64_t max_header_bytes = kMaxHeaderBytes);

// Reads (pread) and validates only the header of a file (8 + N bytes), checking the offsets
// against the file's size. Throws DataError (missing, unreadable or malformed file).
SafetensorsHeader readSafetensorsHeader(const ReadOnlyFile& file, uint64_t max_header_bytes = kMaxHeaderBytes);
SafetensorsHeader readSafetensorsHeader(const std::string& path, uint64_t max_header_bytes = kMaxHeaderBytes);

// A tensor to write: `bytes` bytes at `data`, which must equal product(shape) * dtypeSize(dtype).
// The memory is only read, and only during the call it is passed to.
struct TensorBytes {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  uint64_t bytes = 0;
};

// Sorts into the canonical file order (NOTE [Safetensors layout]).
void sortCanonical(std::vector<TensorBytes>& tensors);

// The first 8 + N bytes of a file holding `tensors` in the given order (data offsets assigned
// consecutively). "__metadata__" is written when `metadata` is not empty. Throws DataError for an
// empty, duplicate or reserved ("__metadata__") name, a negative dimension, or bytes that do not
// match the shape.
std::string encodeSafetensorsHeader(const std::vector<TensorBytes>& tensors,
                                    const std::map<std::string, std::string>& metadata);

// The whole file in memory, in canonical order. For tests and small files.
std::string serializeSafetensors(std::vector<TensorBytes> tensors, const std::map<std::string, std::string>& metadata);

// Writes the file in canonical order, atomically (NOTE [Atomic checkpoint files] in file_io.h),
// streaming each tensor's bytes. Returns the file size. Throws DataError as
// encodeSafetensorsHeader, SystemError for I/O failures.
uint64_t writeSafetensorsFile(const std::string& path, std::vector<TensorBytes> tensors,
                              const std::map<std::string, std::string>& metadata);

}  // namespace gramrl::checkpoint
