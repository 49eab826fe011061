// The safetensors reader and writer, torch-free: canonical bytes checked against the reference
// implementation's own test vectors, and one test per rejected malformation with its message.
#include "common/checkpoint/safetensors.h"

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/checkpoint/file_io.h"
#include "common/core/errors.h"
#include "tests/common/checkpoint/test_util.h"

namespace gramrl::checkpoint {
namespace {

using namespace gramrl::checkpoint::testing;

SafetensorsHeader parse(const std::string& file, uint64_t max_header_bytes = kMaxHeaderBytes) {
  return parseSafetensors(reinterpret_cast<const uint8_t*>(file.data()), file.size(), "test.safetensors",
                          max_header_bytes);
}

std::string floatBytes(const std::vector<float>& values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// safetensors/src/tensor.rs test_serialization: {"attn.0": F32 [1, 2, 3]} is a 64-byte header
// with no padding, then the six floats.
TEST(SafetensorsWriter, MatchesReferenceVectorUnpadded) {
  const std::string data = floatBytes({0, 1, 2, 3, 4, 5});
  const std::string out = serializeSafetensors({{"attn.0", DType::kF32, {1, 2, 3}, data.data(), data.size()}}, {});
  const std::string json = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  ASSERT_EQ(json.size(), 64u);
  EXPECT_EQ(out, le64(64) + json + data);
}

// test_serialization_forced_alignement: a shorter name makes the JSON 65 bytes; seven spaces pad
// it to 72.
TEST(SafetensorsWriter, MatchesReferenceVectorPadded) {
  const std::string data = floatBytes({0, 1, 2, 3, 4, 5});
  const std::string out = serializeSafetensors({{"attn0", DType::kF32, {1, 1, 2, 3}, data.data(), data.size()}}, {});
  const std::string json = R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})";
  EXPECT_EQ(out, le64(72) + json + std::string(7, ' ') + data);
}

// test_empty: no tensors, with and without metadata.
TEST(SafetensorsWriter, MatchesReferenceVectorsEmpty) {
  EXPECT_EQ(serializeSafetensors({}, {}), le64(8) + "{}" + std::string(6, ' '));
  EXPECT_EQ(serializeSafetensors({}, {{"framework", "pt"}}),
            le64(40) + R"({"__metadata__":{"framework":"pt"}})" + std::string(5, ' '));
  EXPECT_TRUE(parse(serializeSafetensors({}, {})).tensors.empty());
}

TEST(SafetensorsWriter, CanonicalOrderIsLargestAlignmentFirstThenNameAndEveryTensorIsAligned) {
  std::vector<char> buffer(64, 1);
  std::vector<TensorBytes> tensors = {
      {"b_bool", DType::kBool, {3}, buffer.data(), 3}, {"a_f32", DType::kF32, {1}, buffer.data(), 4},
      {"z_i64", DType::kI64, {1}, buffer.data(), 8},   {"a_bf16", DType::kBF16, {3}, buffer.data(), 6},
      {"c_f16", DType::kF16, {1}, buffer.data(), 2},   {"a_u8", DType::kU8, {5}, buffer.data(), 5},
      {"b_f64", DType::kF64, {2}, buffer.data(), 16},  {"a_i32", DType::kI32, {1}, buffer.data(), 4},
      {"a_i16", DType::kI16, {1}, buffer.data(), 2},   {"a_i8", DType::kI8, {1}, buffer.data(), 1},
      {"a_bool", DType::kBool, {1}, buffer.data(), 1},
  };
  const SafetensorsHeader header = parse(serializeSafetensors(tensors, {{"format", "pt"}}));
  std::vector<std::string> order;
  for (const TensorInfo& t : header.tensors) {
    order.push_back(t.name);
    EXPECT_EQ((header.dataOffset() + t.begin) % dtypeSize(t.dtype), 0u) << t.name;
  }
  EXPECT_EQ(order, (std::vector<std::string>{"z_i64", "b_f64", "a_f32", "a_i32", "a_bf16", "c_f16", "a_i16", "a_i8",
                                             "a_u8", "a_bool", "b_bool"}));
  EXPECT_EQ(header.header_bytes % 8, 0u);
  EXPECT_EQ(header.metadata.at("format"), "pt");
}

TEST(SafetensorsReader, ParsesWhatTheWriterWrote) {
  std::vector<uint16_t> bf16(12, 0x3f80);
  std::vector<int64_t> ids = {1, -2, 3};
  const std::string file = serializeSafetensors({{"w", DType::kBF16, {3, 4}, bf16.data(), 24},
                                                 {"ids", DType::kI64, {3}, ids.data(), 24},
                                                 {"scalar", DType::kF32, {}, bf16.data(), 4},
                                                 {"empty", DType::kF32, {0, 7}, nullptr, 0}},
                                                {{"format", "pt"}, {"note", "x"}});
  const SafetensorsHeader h = parse(file);
  ASSERT_EQ(h.tensors.size(), 4u);
  const TensorInfo* w = h.find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, DType::kBF16);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(w->byteSize(), 24u);
  EXPECT_EQ(0, std::memcmp(file.data() + h.dataOffset() + h.find("ids")->begin, ids.data(), 24));
  EXPECT_EQ(h.find("scalar")->shape, std::vector<int64_t>{});
  EXPECT_EQ(h.find("empty")->byteSize(), 0u);
  EXPECT_EQ(h.find("missing"), nullptr);
  EXPECT_EQ(h.metadata.size(), 2u);
  EXPECT_EQ(h.dataOffset() + h.data_bytes, file.size());
}

TEST(SafetensorsReader, AcceptsUnpaddedHeadersAndZeroSizedTensorsSharingAnOffset) {
  const std::string file = rawFile(R"({"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},)"
                                   R"("e1":{"dtype":"F32","shape":[0],"data_offsets":[3,3]},)"
                                   R"("e2":{"dtype":"F64","shape":[2,0],"data_offsets":[3,3]},)"
                                   R"("b":{"dtype":"I16","shape":[1],"data_offsets":[3,5]}})",
                                   "abcde");
  const SafetensorsHeader h = parse(file);
  EXPECT_EQ(h.tensors.size(), 4u);
  EXPECT_EQ(h.find("b")->begin, 3u);
}

TEST(SafetensorsReader, ReadsTheHeaderOfAFileOnDisk) {
  TempDir dir;
  float x = 2.5f;
  writeSafetensorsFile(dir.file("a.safetensors"), {{"x", DType::kF32, {1}, &x, 4}}, {});
  const SafetensorsHeader h = readSafetensorsHeader(dir.file("a.safetensors"));
  EXPECT_EQ(h.find("x")->shape, std::vector<int64_t>{1});
  EXPECT_THROW_WITH(readSafetensorsHeader(dir.file("nope.safetensors")), DataError, "cannot open", "nope.safetensors");
}

// Each malformation, with the words of its message.
struct BadFile {
  const char* what;
  std::string file;
  std::vector<std::string> message;
};

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offs) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offs + "}";
}

std::vector<BadFile> badFiles() {
  const std::string ok = entry("w", "F32", "[2]", "[0,8]");
  const std::string data8(8, 'x');
  std::string rank33 = "[1";
  for (int i = 1; i < 33; ++i) rank33 += ",1";
  rank33 += "]";
  return {
      {"shorter than the length prefix", "abc", {"test.safetensors", "3 bytes, too short", "truncated"}},
      {"header length past the end", le64(100) + "{}", {"header length 100 runs past the end", "truncated"}},
      {"header length over the cap", le64(uint64_t{1} << 40) + "{}", {"more than the limit of 100000000"}},
      {"truncated data area",
       rawFile("{" + ok + "}", "1234"),
       {"tensor 'w'", "data_offsets [0, 8] run past the end of the 4-byte data area", "truncated"}},
      {"not JSON", rawFile("{\"w\": nope}", ""), {"test.safetensors: header: invalid JSON", "parse error"}},
      {"not an object", rawFile("[1, 2]", ""), {"does not start with '{'"}},
      {"NUL in the header", rawFile(std::string("{}\0garbage", 10), ""), {"NUL byte at offset 2"}},
      {"unknown dtype",
       rawFile("{" + entry("w", "F8_E4M3", "[2]", "[0,2]") + "}", "ab"),
       {"tensor 'w'", "unsupported dtype \"F8_E4M3\"", "BOOL, U8, I8, I16, F16, BF16, I32, F32, F64, I64"}},
      {"dtype not a string",
       rawFile(R"({"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", data8),
       {"tensor 'w': dtype: expected a string, got 4"}},
      {"negative dimension",
       rawFile("{" + entry("w", "F32", "[-2]", "[0,8]") + "}", data8),
       {"tensor 'w': shape [-2]: dimensions must be non-negative integers"}},
      {"fractional dimension",
       rawFile("{" + entry("w", "F32", "[2.0]", "[0,8]") + "}", data8),
       {"dimensions must be non-negative integers"}},
      {"shape overflow",
       rawFile("{" + entry("w", "U8", "[4294967296,4294967296]", "[0,8]") + "}", data8),
       {"tensor 'w'", "element count overflows 64 bits"}},
      {"zero elements but strides overflow",
       rawFile("{" + entry("w", "U8", "[0,4294967296,4294967296]", "[0,0]") + "}", ""),
       {"tensor 'w'", "shape [0,4294967296,4294967296]", "element count overflows 64 bits"}},
      {"byte size overflow",
       rawFile("{" + entry("w", "F64", "[4611686018427387904]", "[0,8]") + "}", data8),
       {"tensor 'w'", "byte size overflows 64 bits"}},
      {"offsets not a pair",
       rawFile("{" + entry("w", "F32", "[2]", "[0,8,9]") + "}", data8),
       {"tensor 'w': data_offsets: expected [begin, end]"}},
      {"negative offset",
       rawFile("{" + entry("w", "F32", "[2]", "[-1,7]") + "}", data8),
       {"tensor 'w': data_offsets: expected [begin, end]"}},
      {"begin after end",
       rawFile("{" + entry("w", "F32", "[0]", "[8,0]") + "}", data8),
       {"tensor 'w': data_offsets [8, 0]: begin is after end"}},
      {"size does not match shape",
       rawFile("{" + entry("w", "F32", "[3]", "[0,8]") + "}", data8),
       {"tensor 'w': data_offsets [0, 8] hold 8 bytes, but shape [3] of F32 needs 12"}},
      {"overlap",
       rawFile("{" + ok + "," + entry("v", "F32", "[2]", "[4,12]") + "}", std::string(12, 'x')),
       {"tensor 'v' (bytes [4, 12)) overlaps tensor 'w' (bytes [0, 8))"}},
      {"gap",
       rawFile("{" + entry("w", "F32", "[1]", "[4,8]") + "}", data8),
       {"4 bytes [0, 4) of the data area belong to no tensor (before tensor 'w')", "cover the data area exactly"}},
      {"trailing bytes",
       rawFile("{" + ok + "}", data8 + "more"),
       {"the tensors end at byte 8 of the data area, but it holds 12 bytes", "trailing bytes"}},
      {"duplicate name", rawFile("{" + ok + "," + ok + "}", data8), {"duplicate key \"w\""}},
      {"duplicate field",
       rawFile(R"({"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data8),
       {"duplicate key \"dtype\""}},
      {"unknown field",
       rawFile(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"scale":2}})", data8),
       {"tensor 'w': unknown field \"scale\""}},
      {"missing field",
       rawFile(R"({"w":{"dtype":"F32","shape":[2]}})", data8),
       {"tensor 'w': missing field \"data_offsets\""}},
      {"entry not an object", rawFile(R"({"w":[1,2]})", ""), {"tensor 'w': expected an object"}},
      {"metadata not strings",
       rawFile(R"({"__metadata__":{"format":1}})", ""),
       {"__metadata__.format: expected a string, got 1"}},
      {"metadata not an object", rawFile(R"({"__metadata__":"pt"})", ""), {"__metadata__: expected an object"}},
      {"nesting too deep", rawFile(R"({"__metadata__":{"a":[[[[[[[[[1]]]]]]]]]}})", ""), {"nested deeper than 8"}},
      {"rank over the limit",
       rawFile("{" + entry("w", "U8", rank33, "[0,1]") + "}", "x"),
       {"tensor 'w': shape has 33 dimensions, more than 32"}},
      {"invalid UTF-8", rawFile("{\"\xff\":1}", ""), {"invalid JSON"}},
  };
}

TEST(SafetensorsReader, RejectsEachMalformationWithAMessageNamingIt) {
  for (const BadFile& bad : badFiles()) {
    SCOPED_TRACE(bad.what);
    EXPECT_THROW_WITH(parse(bad.file), DataError, bad.message);
  }
}

TEST(SafetensorsReader, HeaderCapIsConfigurable) {
  const std::string file = serializeSafetensors({}, {{"k", std::string(100, 'v')}});
  EXPECT_NO_THROW(parse(file));
  EXPECT_THROW_WITH(parse(file, 64), DataError, "more than the limit of 64 bytes");
}

TEST(SafetensorsWriter, RejectsBadTensorLists) {
  float x[2] = {1, 2};
  EXPECT_THROW_WITH(serializeSafetensors({{"a", DType::kF32, {1}, x, 4}, {"a", DType::kF32, {1}, x, 4}}, {}), DataError,
                    "two tensors named 'a'");
  EXPECT_THROW_WITH(serializeSafetensors({{"__metadata__", DType::kF32, {1}, x, 4}}, {}), DataError, "reserved");
  EXPECT_THROW_WITH(serializeSafetensors({{"", DType::kF32, {1}, x, 4}}, {}), DataError, "empty or reserved");
  EXPECT_THROW_WITH(serializeSafetensors({{"a", DType::kF32, {2}, x, 4}}, {}), DataError,
                    "tensor 'a': 4 bytes given for shape [2] of F32");
  EXPECT_THROW_WITH(serializeSafetensors({{"a", DType::kF32, {-1}, x, 4}}, {}), DataError, "negative dimension");
}

TEST(AtomicFileWriter, CommitReplacesTheFileAndLeavesNoTemporary) {
  TempDir dir;
  writeFileAtomically(dir.file("f"), "old");
  {
    AtomicFileWriter writer(dir.file("f"));
    writer.write("new contents");
    EXPECT_EQ(readBytes(dir.file("f")), "old");  // not visible before commit
    writer.commit();
  }
  EXPECT_EQ(readBytes(dir.file("f")), "new contents");
  EXPECT_EQ(listDir(dir.path()), std::vector<std::string>{"f"});
}

TEST(AtomicFileWriter, AbandonedWriteLeavesTheOldFileAndNoTemporary) {
  TempDir dir;
  writeFileAtomically(dir.file("f"), "old");
  {
    AtomicFileWriter writer(dir.file("f"));
    writer.write("half of the new");
  }
  EXPECT_EQ(readBytes(dir.file("f")), "old");
  EXPECT_EQ(listDir(dir.path()), std::vector<std::string>{"f"});
  EXPECT_THROW_WITH(AtomicFileWriter(dir.file("no-such-dir/f")), SystemError, "cannot create", "no-such-dir");
}

TEST(FileIo, ReadFileEnforcesItsLimitAndNamesMissingFiles) {
  TempDir dir;
  writeFileAtomically(dir.file("f"), "0123456789");
  EXPECT_EQ(readFile(dir.file("f"), 10), "0123456789");
  EXPECT_THROW_WITH(readFile(dir.file("f"), 9), DataError, "10 bytes, more than the limit of 9");
  EXPECT_THROW_WITH(readFile(dir.file("g"), 9), DataError, "cannot open", "/g");
  EXPECT_THROW_WITH(readFile(dir.path(), 9), DataError, "not a regular file");
}

}  // namespace
}  // namespace gramrl::checkpoint
