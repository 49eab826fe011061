#include "common/checkpoint/safetensors.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include <fmt/ranges.h>

#include "common/checkpoint/file_io.h"
#include "common/checkpoint/json_util.h"
#include "common/core/errors.h"

namespace gramrl::checkpoint {
namespace {

using nlohmann::json;

struct DTypeEntry {
  DType dtype;
  std::string_view name;
  size_t size;
};

constexpr std::array<DTypeEntry, 10> kDTypes = {{
    {DType::kBool, "BOOL", 1},
    {DType::kU8, "U8", 1},
    {DType::kI8, "I8", 1},
    {DType::kI16, "I16", 2},
    {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2},
    {DType::kI32, "I32", 4},
    {DType::kF32, "F32", 4},
    {DType::kF64, "F64", 8},
    {DType::kI64, "I64", 8},
}};

constexpr int kMaxHeaderJsonDepth = 8;

uint64_t readLittleEndian64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string shapeText(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

// Checks N against the cap and the file size; returns N.
uint64_t checkHeaderLength(const uint8_t* first8, uint64_t file_size, std::string_view source,
                           uint64_t max_header_bytes) {
  GRAMRL_CHECK(file_size >= 8, DataError, "{}: {} bytes, too short for a safetensors file (truncated?)", source,
               file_size);
  const uint64_t n = readLittleEndian64(first8);
  GRAMRL_CHECK(n <= max_header_bytes, DataError,
               "{}: header length {} is more than the limit of {} bytes (not a safetensors file?)", source, n,
               max_header_bytes);
  GRAMRL_CHECK(n <= file_size - 8, DataError, "{}: header length {} runs past the end of the {}-byte file (truncated?)",
               source, n, file_size);
  return n;
}

std::vector<int64_t> parseShape(const json& value, std::string_view source, const std::string& name, uint64_t& numel) {
  GRAMRL_CHECK(value.is_array(), DataError, "{}: tensor '{}': shape: expected an array, got {}", source, name,
               detail::brief(value));
  GRAMRL_CHECK(value.size() <= kMaxSafetensorsRank, DataError, "{}: tensor '{}': shape has {} dimensions, more than {}",
               source, name, value.size(), kMaxSafetensorsRank);
  std::vector<int64_t> shape;
  shape.reserve(value.size());
  numel = 1;
  // Strides multiply the dimensions other than 0 too, so a zero-element tensor of shape
  // [0, 2^40, 2^40] would overflow torch's int64 strides: the product of the non-zero
  // dimensions must fit as well.
  int64_t strides_product = 1;
  for (const json& dim : value) {
    GRAMRL_CHECK(dim.is_number_unsigned() && dim.get<uint64_t>() <= uint64_t{std::numeric_limits<int64_t>::max()},
                 DataError, "{}: tensor '{}': shape {}: dimensions must be non-negative integers", source, name,
                 detail::brief(value));
    const int64_t d = static_cast<int64_t>(dim.get<uint64_t>());
    GRAMRL_CHECK(!__builtin_mul_overflow(strides_product, std::max<int64_t>(d, 1), &strides_product), DataError,
                 "{}: tensor '{}': shape {}: the element count overflows 64 bits", source, name, detail::brief(value));
    numel *= static_cast<uint64_t>(d);  // <= strides_product: cannot overflow
    shape.push_back(d);
  }
  return shape;
}

TensorInfo parseTensorEntry(const std::string& name, const json& entry, std::string_view source) {
  GRAMRL_CHECK(entry.is_object(), DataError,
               "{}: tensor '{}': expected an object with dtype, shape and data_offsets, got {}", source, name,
               detail::brief(entry));
  for (const auto& [key, unused] : entry.items()) {
    GRAMRL_CHECK(key == "dtype" || key == "shape" || key == "data_offsets", DataError,
                 "{}: tensor '{}': unknown field \"{}\" (expected dtype, shape, data_offsets)", source, name, key);
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    GRAMRL_CHECK(entry.contains(key), DataError, "{}: tensor '{}': missing field \"{}\"", source, name, key);
  }
  TensorInfo info;
  info.name = name;

  const json& dtype = entry["dtype"];
  GRAMRL_CHECK(dtype.is_string(), DataError, "{}: tensor '{}': dtype: expected a string, got {}", source, name,
               detail::brief(dtype));
  const std::optional<DType> parsed = dtypeFromName(dtype.get_ref<const std::string&>());
  GRAMRL_CHECK(parsed.has_value(), DataError, "{}: tensor '{}': unsupported dtype {} (supported: {})", source, name,
               detail::brief(dtype), supportedDtypeNames());
  info.dtype = *parsed;

  uint64_t numel = 0;
  info.shape = parseShape(entry["shape"], source, name, numel);

  const json& offsets = entry["data_offsets"];
  GRAMRL_CHECK(
      offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() && offsets[1].is_number_unsigned(),
      DataError, "{}: tensor '{}': data_offsets: expected [begin, end] (non-negative integers), got {}", source, name,
      detail::brief(offsets));
  info.begin = offsets[0].get<uint64_t>();
  info.end = offsets[1].get<uint64_t>();
  GRAMRL_CHECK(info.begin <= info.end, DataError, "{}: tensor '{}': data_offsets [{}, {}]: begin is after end", source,
               name, info.begin, info.end);
  uint64_t expected = 0;
  GRAMRL_CHECK(!__builtin_mul_overflow(numel, dtypeSize(info.dtype), &expected), DataError,
               "{}: tensor '{}': shape {} of {}: the byte size overflows 64 bits", source, name, shapeText(info.shape),
               dtypeName(info.dtype));
  GRAMRL_CHECK(info.end - info.begin == expected, DataError,
               "{}: tensor '{}': data_offsets [{}, {}] hold {} bytes, but shape {} of {} needs {}", source, name,
               info.begin, info.end, info.end - info.begin, shapeText(info.shape), dtypeName(info.dtype), expected);
  return info;
}

// Parses the JSON text of the header and checks the tiling of a data area of `data_bytes`.
SafetensorsHeader parseHeaderText(std::string_view text, uint64_t data_bytes, std::string_view source) {
  GRAMRL_CHECK(!text.empty() && text.front() == '{', DataError,
               "{}: the header does not start with '{{' (not a safetensors file?)", source);
  const json root = detail::parseJsonStrict(text, fmt::format("{}: header", source), kMaxHeaderJsonDepth);
  GRAMRL_CHECK(root.is_object(), DataError, "{}: the header is {}, expected a JSON object", source,
               detail::typeName(root));

  SafetensorsHeader header;
  header.header_bytes = text.size();
  header.data_bytes = data_bytes;
  header.tensors.reserve(root.size());
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      GRAMRL_CHECK(value.is_object(), DataError, "{}: __metadata__: expected an object of strings, got {}", source,
                   detail::brief(value));
      for (const auto& [mkey, mvalue] : value.items()) {
        GRAMRL_CHECK(mvalue.is_string(), DataError, "{}: __metadata__.{}: expected a string, got {}", source, mkey,
                     detail::brief(mvalue));
        header.metadata.emplace(mkey, mvalue.get<std::string>());
      }
      continue;
    }
    header.tensors.push_back(parseTensorEntry(key, value, source));
  }

  // Tiling: sorted by (begin, end), each tensor starts where the previous one ended. Zero-byte
  // tensors (a 0 in the shape) take no room and may share an offset.
  std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : (a.end != b.end ? a.end < b.end : a.name < b.name);
  });
  uint64_t position = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& t : header.tensors) {
    if (t.begin < position) {
      throw DataError(fmt::format("{}: tensor '{}' (bytes [{}, {})) overlaps tensor '{}' (bytes [{}, {}))", source,
                                  t.name, t.begin, t.end, previous->name, previous->begin, previous->end));
    }
    GRAMRL_CHECK(t.begin == position, DataError,
                 "{}: {} bytes [{}, {}) of the data area belong to no tensor (before tensor '{}'); the format requires "
                 "the tensors to cover the data area exactly",
                 source, t.begin - position, position, t.begin, t.name);
    GRAMRL_CHECK(t.end <= data_bytes, DataError,
                 "{}: tensor '{}': data_offsets [{}, {}] run past the end of the {}-byte data area (truncated?)",
                 source, t.name, t.begin, t.end, data_bytes);
    position = t.end;
    previous = &t;
  }
  GRAMRL_CHECK(position == data_bytes, DataError,
               "{}: the tensors end at byte {} of the data area, but it holds {} bytes; the format requires the "
               "tensors to cover the data area exactly (trailing bytes?)",
               source, position, data_bytes);
  header.buildIndex();
  return header;
}

void checkWritable(const std::vector<TensorBytes>& tensors) {
  std::map<std::string_view, size_t> seen;
  for (const TensorBytes& t : tensors) {
    GRAMRL_CHECK(!t.name.empty() && t.name != "__metadata__", DataError,
                 "cannot write a safetensors tensor named \"{}\" (empty or reserved)", t.name);
    GRAMRL_CHECK(seen.emplace(t.name, 0).second, DataError, "cannot write two tensors named '{}'", t.name);
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      GRAMRL_CHECK(d >= 0, DataError, "tensor '{}': negative dimension in shape {}", t.name, shapeText(t.shape));
      GRAMRL_CHECK(!__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel), DataError,
                   "tensor '{}': shape {} overflows", t.name, shapeText(t.shape));
    }
    GRAMRL_CHECK(numel * dtypeSize(t.dtype) == t.bytes && (t.bytes == 0 || t.data != nullptr), DataError,
                 "tensor '{}': {} bytes given for shape {} of {}", t.name, t.bytes, shapeText(t.shape),
                 dtypeName(t.dtype));
  }
}

}  // namespace

std::string_view dtypeName(DType dtype) { return kDTypes[static_cast<size_t>(dtype)].name; }

size_t dtypeSize(DType dtype) { return kDTypes[static_cast<size_t>(dtype)].size; }

std::optional<DType> dtypeFromName(std::string_view name) {
  for (const DTypeEntry& e : kDTypes) {
    if (e.name == name) return e.dtype;
  }
  return std::nullopt;
}

std::string supportedDtypeNames() {
  std::vector<std::string_view> names;
  for (const DTypeEntry& e : kDTypes) names.push_back(e.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

const TensorInfo* SafetensorsHeader::find(std::string_view name) const {
  auto it = by_name.find(name);
  return it == by_name.end() ? nullptr : &tensors[it->second];
}

void SafetensorsHeader::buildIndex() {
  by_name.clear();
  for (size_t i = 0; i < tensors.size(); ++i) {
    // The JSON parser already rejected duplicate keys; this catches hand-built headers.
    GRAMRL_CHECK(by_name.emplace(tensors[i].name, i).second, DataError, "two tensors named '{}'", tensors[i].name);
  }
}

SafetensorsHeader parseSafetensors(const uint8_t* file, size_t file_size, std::string_view source,
                                   uint64_t max_header_bytes) {
  const uint64_t n = checkHeaderLength(file, file_size, source, max_header_bytes);
  const std::string_view text(reinterpret_cast<const char*>(file + 8), static_cast<size_t>(n));
  return parseHeaderText(text, file_size - 8 - n, source);
}

SafetensorsHeader readSafetensorsHeader(const ReadOnlyFile& file, uint64_t max_header_bytes) {
  uint8_t first8[8] = {};
  if (file.size() >= 8) file.readAt(first8, 8, 0);
  const uint64_t n = checkHeaderLength(first8, file.size(), file.path(), max_header_bytes);
  std::string text(static_cast<size_t>(n), '\0');
  file.readAt(text.data(), text.size(), 8);
  return parseHeaderText(text, file.size() - 8 - n, file.path());
}

SafetensorsHeader readSafetensorsHeader(const std::string& path, uint64_t max_header_bytes) {
  return readSafetensorsHeader(ReadOnlyFile(path), max_header_bytes);
}

void sortCanonical(std::vector<TensorBytes>& tensors) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorBytes& a, const TensorBytes& b) {
    return a.dtype != b.dtype ? a.dtype > b.dtype : a.name < b.name;
  });
}

std::string encodeSafetensorsHeader(const std::vector<TensorBytes>& tensors,
                                    const std::map<std::string, std::string>& metadata) {
  checkWritable(tensors);
  nlohmann::ordered_json root = nlohmann::ordered_json::object();
  if (!metadata.empty()) root["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorBytes& t : tensors) {
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = dtypeName(t.dtype);
    entry["shape"] = t.shape;
    entry["data_offsets"] = {offset, offset + t.bytes};
    offset += t.bytes;
    root[t.name] = std::move(entry);
  }
  std::string text = root.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + text;
}

std::string serializeSafetensors(std::vector<TensorBytes> tensors, const std::map<std::string, std::string>& metadata) {
  sortCanonical(tensors);
  std::string out = encodeSafetensorsHeader(tensors, metadata);
  for (const TensorBytes& t : tensors) out.append(static_cast<const char*>(t.data), t.bytes);
  return out;
}

uint64_t writeSafetensorsFile(const std::string& path, std::vector<TensorBytes> tensors,
                              const std::map<std::string, std::string>& metadata) {
  sortCanonical(tensors);
  const std::string header = encodeSafetensorsHeader(tensors, metadata);
  AtomicFileWriter writer(path);
  writer.write(header);
  for (const TensorBytes& t : tensors) writer.write(t.data, t.bytes);
  const uint64_t size = writer.bytesWritten();
  writer.commit();
  return size;
}

}  // namespace gramrl::checkpoint
