// CRC-32C against published vectors, and TFRecord framing byte for byte.
#include "common/metrics/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/core/errors.h"
#include "common/metrics/tfrecord.h"
#include "tests/support/seed.h"

namespace gramrl::metrics {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

uint32_t crcOf(const std::string& s) { return crc32c(s.data(), s.size()); }

// RFC 3720 (iSCSI) appendix B.4 test vectors.
TEST(Crc32cTest, Rfc3720Vectors) {
  std::string zeros(32, '\0');
  std::string ones(32, '\xff');
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(crcOf(zeros), 0x8A9136AAu);
  EXPECT_EQ(crcOf(ones), 0x62A8AB43u);
  EXPECT_EQ(crcOf(ascending), 0x46DD794Eu);
  EXPECT_EQ(crcOf(descending), 0x113FDB5Cu);
}

// The CRC catalogue's "check" value for CRC-32C.
TEST(Crc32cTest, CheckString) { EXPECT_EQ(crcOf("123456789"), 0xE3069283u); }

TEST(Crc32cTest, EmptyInputIsInit) {
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
  EXPECT_EQ(crc32c(nullptr, 0, 0x12345678u), 0x12345678u);
}

// Every split point of a buffer longer than the 8-byte fast path, at every alignment: chaining
// two calls equals one pass, and the tail loop agrees with the sliced loop.
TEST(Crc32cTest, ChainingEqualsOnePass) {
  std::mt19937_64 rng(testing::testSeed());
  std::string data(67, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t start = 0; start < 8; ++start) {
    const std::string s = data.substr(start);
    const uint32_t whole = crcOf(s);
    for (size_t split = 0; split <= s.size(); ++split) {
      const uint32_t first = crc32c(s.data(), split);
      EXPECT_EQ(crc32c(s.data() + split, s.size() - split, first), whole) << "start " << start << " split " << split;
    }
  }
  // The check string split unevenly still gives the published value.
  EXPECT_EQ(crc32c("56789", 5, crc32c("1234", 4)), 0xE3069283u);
}

TEST(Crc32cTest, MaskMatchesHandDerivation) {
  // ((0x8A9136AA >> 15) | (0x8A9136AA << 17)) = 0x00011522 | 0x6D540000 = 0x6D551522;
  // + 0xa282ead8 = 0x10FD7FFFA, truncated to 32 bits.
  EXPECT_EQ(maskCrc(0x8A9136AAu), 0x0FD7FFFAu);
  EXPECT_EQ(maskCrc(0), 0xa282ead8u);
}

// A record holding the 32 zero bytes of RFC 3720's first vector, built by hand. The length CRC
// (crc32c of 20 00 00 00 00 00 00 00 = 0x8128D713, masked 0x50A9ED29) comes from an independent
// bit-at-a-time implementation (scripts/reference/tensorboard/read_events.py's).
TEST(TfRecordTest, FramingByteForByte) {
  const std::string data(32, '\0');
  const std::string expected = bytes({0x20, 0, 0, 0, 0, 0, 0, 0}) +  // length 32, little endian
                               bytes({0x29, 0xed, 0xa9, 0x50}) +     // masked CRC of the length bytes
                               data +                                //
                               bytes({0xfa, 0xff, 0xd7, 0x0f});      // maskCrc(0x8A9136AA)
  EXPECT_EQ(frameTfRecord(data), expected);
  EXPECT_EQ(maskCrc(crcOf(bytes({0x20, 0, 0, 0, 0, 0, 0, 0}))), 0x50A9ED29u);

  const std::vector<std::string> records = parseTfRecords(expected + frameTfRecord("123456789"), "mem");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0], data);
  EXPECT_EQ(records[1], "123456789");
}

TEST(TfRecordTest, EmptyRecordAndEmptyInput) {
  EXPECT_TRUE(parseTfRecords("", "mem").empty());
  const std::string framed = frameTfRecord("");
  ASSERT_EQ(framed.size(), 16u);
  // Data CRC of nothing is 0, masked 0xa282ead8.
  EXPECT_EQ(framed.substr(12), bytes({0xd8, 0xea, 0x82, 0xa2}));
  EXPECT_EQ(parseTfRecords(framed, "mem"), std::vector<std::string>{""});
}

std::string errorOf(const std::string& bytes) {
  try {
    parseTfRecords(bytes, "f.tfevents");
  } catch (const DataError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(TfRecordTest, CorruptionNamesTheOffset) {
  const std::string a = frameTfRecord("first record");
  const std::string b = frameTfRecord("second");
  const std::string file = a + b;
  const std::string at_b = "byte offset " + std::to_string(a.size());

  std::string bad_length = file;
  bad_length[a.size() + 1] ^= 0x01;
  EXPECT_NE(errorOf(bad_length).find("bad length CRC"), std::string::npos) << errorOf(bad_length);
  EXPECT_NE(errorOf(bad_length).find(at_b), std::string::npos) << errorOf(bad_length);

  std::string bad_data = file;
  bad_data[a.size() + 12 + 2] ^= 0x40;
  EXPECT_NE(errorOf(bad_data).find("bad data CRC"), std::string::npos) << errorOf(bad_data);
  EXPECT_NE(errorOf(bad_data).find(at_b), std::string::npos) << errorOf(bad_data);

  std::string bad_footer = file;
  bad_footer[file.size() - 1] ^= 0x01;
  EXPECT_NE(errorOf(bad_footer).find("bad data CRC"), std::string::npos) << errorOf(bad_footer);

  // Every truncation inside the second record names it; a cut at a record boundary is valid.
  for (size_t cut = a.size() + 1; cut < file.size(); ++cut) {
    const std::string msg = errorOf(file.substr(0, cut));
    EXPECT_NE(msg.find("truncated"), std::string::npos) << "cut " << cut << ": " << msg;
    EXPECT_NE(msg.find(at_b), std::string::npos) << "cut " << cut << ": " << msg;
    EXPECT_NE(msg.find("f.tfevents"), std::string::npos) << msg;
  }
  EXPECT_EQ(parseTfRecords(file.substr(0, a.size()), "mem").size(), 1u);
}

}  // namespace
}  // namespace gramrl::metrics
