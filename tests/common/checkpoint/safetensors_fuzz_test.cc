// Seeded fuzzing of the checkpoint readers: random bytes and mutations of valid files must either
// parse (and then satisfy the format's invariants) or throw DataError. Nothing else may escape and
// nothing may crash. Reproduce a failure with GRAMRL_TEST_SEED=<the printed seed>.
#include <cctype>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/checkpoint.h"
#include "common/checkpoint/hf_config.h"
#include "common/checkpoint/safetensors.h"
#include "common/core/errors.h"
#include "tests/common/checkpoint/test_util.h"

namespace gramrl::checkpoint {
namespace {

using namespace gramrl::checkpoint::testing;

constexpr int kIterations = 20000;

struct Outcome {
  int accepted = 0;
  int rejected = 0;
};

// Parses `file`; on success checks that every tensor lies inside the file, has the size its
// shape says, and that the tensors tile the data area.
void parseAndCheck(const std::string& file, Outcome& outcome, uint64_t seed, int iteration) {
  try {
    const SafetensorsHeader h =
        parseSafetensors(reinterpret_cast<const uint8_t*>(file.data()), file.size(), "fuzz.safetensors", 1 << 20);
    uint64_t position = 0;
    for (const TensorInfo& t : h.tensors) {
      uint64_t numel = 1;
      for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
      EXPECT_EQ(t.begin, position) << "seed " << seed << " iteration " << iteration;
      EXPECT_EQ(t.byteSize(), numel * dtypeSize(t.dtype)) << "seed " << seed << " iteration " << iteration;
      position = t.end;
    }
    EXPECT_EQ(h.dataOffset() + position, file.size()) << "seed " << seed << " iteration " << iteration;
    ++outcome.accepted;
  } catch (const DataError&) {
    ++outcome.rejected;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "seed " << seed << " iteration " << iteration << ": unexpected exception: " << e.what();
  } catch (...) {
    ADD_FAILURE() << "seed " << seed << " iteration " << iteration << ": unexpected non-std exception";
  }
}

const char* const kFragments[] = {
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\"w\"",
    "\"dtype\"",
    "\"shape\"",
    "0",
    "1",
    "8",
    "-1",
    "1e3",
    "2.5",
    "\"F32\"",
    "\"BF16\"",
    "\"BOOL\"",
    "null",
    "\"data_offsets\"",
    "\"__metadata__\"",
    "true",
    "18446744073709551615",
    "99999999999999999999",
    " ",
    "\\u0000",
    "\"\\ud800\"",
    "\xff",
    "[0,4]",
};

std::string randomHeaderText(std::mt19937_64& rng) {
  std::string text = rng() % 4 == 0 ? "" : "{";
  const size_t pieces = rng() % 40;
  for (size_t i = 0; i < pieces; ++i) text += kFragments[rng() % (sizeof(kFragments) / sizeof(kFragments[0]))];
  return text;
}

TEST(SafetensorsFuzz, RandomBytesAreRejectedOrParsedNeverCrash) {
  const uint64_t seed = testSeed();
  std::mt19937_64 rng(seed);
  Outcome outcome;
  for (int it = 0; it < kIterations && !::testing::Test::HasFailure(); ++it) {
    std::string file;
    switch (rng() % 3) {
      case 0: {  // pure noise
        file.resize(rng() % 64);
        for (char& c : file) c = static_cast<char>(rng());
        break;
      }
      case 1: {  // a plausible length prefix over JSON-ish fragments, then noise
        const std::string text = randomHeaderText(rng);
        const uint64_t n = rng() % 8 == 0 ? rng() : text.size() + (rng() % 3) - 1;
        file = le64(n) + text;
        file.resize(file.size() + rng() % 16, static_cast<char>(rng()));
        break;
      }
      default: {  // a well-formed header with random numbers
        const std::string dtypes[] = {"F32", "BF16", "I64", "BOOL", "U8", "F8_E5M2"};
        std::string text = "{";
        const int count = static_cast<int>(rng() % 4);
        uint64_t offset = 0;
        for (int t = 0; t < count; ++t) {
          const uint64_t dim = rng() % 5;
          const uint64_t begin = rng() % 4 == 0 ? rng() % 64 : offset;
          const uint64_t end = rng() % 4 == 0 ? rng() % 64 : begin + dim * 4;
          text += fmt::format("{}\"t{}\":{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}", t ? "," : "",
                              rng() % 3, dtypes[rng() % 6], dim, begin, end);
          offset = end;
        }
        text += "}";
        file = le64(text.size()) + text + std::string(rng() % 40, 'd');
        break;
      }
    }
    parseAndCheck(file, outcome, seed, it);
  }
  std::cout << "[ fuzz     ] random files: " << outcome.accepted << " accepted, " << outcome.rejected << " rejected"
            << std::endl;
  EXPECT_GT(outcome.rejected, 0);
  EXPECT_GT(outcome.accepted, 0);
}

// A valid file with random tensors.
std::string randomValidFile(std::mt19937_64& rng, std::vector<std::string>& storage) {
  std::vector<TensorBytes> tensors;
  const int count = 1 + static_cast<int>(rng() % 5);
  storage.clear();
  storage.reserve(count);
  for (int t = 0; t < count; ++t) {
    const auto dtype = static_cast<DType>(rng() % 10);
    std::vector<int64_t> shape(rng() % 3);
    uint64_t numel = 1;
    for (int64_t& d : shape) {
      d = static_cast<int64_t>(rng() % 4);
      numel *= static_cast<uint64_t>(d);
    }
    storage.emplace_back(numel * dtypeSize(dtype), '\x01');
    tensors.push_back({fmt::format("layer.{}.weight", t), dtype, shape, storage.back().data(), storage.back().size()});
  }
  std::map<std::string, std::string> metadata;
  if (rng() % 2) metadata["format"] = "pt";
  return serializeSafetensors(std::move(tensors), metadata);
}

// Replaces the n-th run of digits in `text` with `replacement`.
void replaceNumber(std::string& text, size_t n, const std::string& replacement) {
  size_t seen = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(text[i])) &&
        (i == 0 || !std::isdigit(static_cast<unsigned char>(text[i - 1])))) {
      if (seen++ == n) {
        size_t j = i;
        while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
        text.replace(i, j - i, replacement);
        return;
      }
    }
  }
}

std::string mutate(std::string file, std::mt19937_64& rng) {
  const uint64_t n = [&] {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(file[i]);
    return v;
  }();
  switch (rng() % 7) {
    case 0:  // flip bytes anywhere
      for (int k = 0, flips = 1 + static_cast<int>(rng() % 4); k < flips; ++k) {
        file[rng() % file.size()] ^= static_cast<char>(1 << (rng() % 8));
      }
      break;
    case 1:  // a different header length
      file.replace(0, 8, le64(rng() % 2 ? n + (rng() % 17) - 8 : rng()));
      break;
    case 2:  // truncate
      file.resize(rng() % file.size());
      break;
    case 3:  // append
      file.append(1 + rng() % 16, static_cast<char>(rng()));
      break;
    case 4: {  // corrupt the JSON text: delete or duplicate a slice
      const size_t before = file.size();
      const size_t at = 8 + rng() % n;
      const size_t len = std::min<size_t>(1 + rng() % 8, 8 + n - at);
      if (rng() % 2) {
        file.erase(at, len);
      } else {
        file.insert(at, file.substr(at, len));
      }
      if (rng() % 2) file.replace(0, 8, le64(n + file.size() - before));  // keep the prefix consistent
      break;
    }
    default: {  // change a number (a dimension or an offset) and keep the length prefix right
      std::string text = file.substr(8, n);
      const std::string values[] = {
          "0", "1", "3", "7", "8", "64", "4294967296", "18446744073709551615", std::to_string(rng() % 100)};
      replaceNumber(text, rng() % 12, values[rng() % 9]);
      file = le64(text.size()) + text + file.substr(8 + n);
      break;
    }
  }
  return file;
}

TEST(SafetensorsFuzz, MutationsOfValidFilesAreRejectedOrParsedNeverCrash) {
  const uint64_t seed = testSeed();
  std::mt19937_64 rng(seed);
  Outcome outcome;
  std::vector<std::string> storage;
  for (int it = 0; it < kIterations && !::testing::Test::HasFailure(); ++it) {
    const std::string original = randomValidFile(rng, storage);
    parseAndCheck(mutate(original, rng), outcome, seed, it);
  }
  std::cout << "[ fuzz     ] mutated files: " << outcome.accepted << " accepted, " << outcome.rejected << " rejected"
            << std::endl;
  EXPECT_GT(outcome.rejected, 0);
  EXPECT_GT(outcome.accepted, 0);
}

// The LibTorch loader on mutated files on disk: its own checks (BOOL bytes, alignment) run on
// whatever the parser accepts.
TEST(SafetensorsFuzz, LoaderRejectsOrLoadsMutatedFilesNeverCrash) {
  const uint64_t seed = testSeed();
  std::mt19937_64 rng(seed);
  TempDir dir;
  Outcome outcome;
  std::vector<std::string> storage;
  for (int it = 0; it < 500 && !::testing::Test::HasFailure(); ++it) {
    const std::string path = dir.file("f.safetensors");
    writeBytes(path, mutate(randomValidFile(rng, storage), rng));
    try {
      LoadOptions options;
      options.mode = rng() % 2 ? LoadMode::kMap : LoadMode::kRead;
      const StateDict tensors = loadSafetensorsFile(path, options);
      for (const auto& [name, t] : tensors) {
        if (t.numel() > 0) t.sum();  // touches every element
      }
      ++outcome.accepted;
    } catch (const DataError&) {
      ++outcome.rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "seed " << seed << " iteration " << it << ": unexpected exception: " << e.what();
    }
  }
  std::cout << "[ fuzz     ] loaded files: " << outcome.accepted << " accepted, " << outcome.rejected << " rejected"
            << std::endl;
  EXPECT_GT(outcome.rejected, 0);
}

TEST(HfConfigFuzz, MutationsOfRealConfigsAreRejectedOrParsedNeverCrash) {
  const uint64_t seed = testSeed();
  std::mt19937_64 rng(seed);
  const std::string originals[] = {readBytes(dataDir() + "/qwen3_config.json"),
                                   readBytes(dataDir() + "/llama3.1_config.json")};
  const std::string values[] = {"0",
                                "-1",
                                "1e400",
                                "null",
                                "true",
                                "\"x\"",
                                "[]",
                                "{}",
                                "[1,2]",
                                "2.5",
                                "\"llama3\"",
                                "\"yarn\"",
                                "18446744073709551616"};
  Outcome outcome;
  for (int it = 0; it < 5000 && !::testing::Test::HasFailure(); ++it) {
    std::string text = originals[rng() % 2];
    if (rng() % 2) {  // replace a value after some colon
      size_t colon = 0;
      for (int skip = static_cast<int>(rng() % 30); skip >= 0; --skip) {
        const size_t next = text.find(':', colon + 1);
        if (next == std::string::npos) break;
        colon = next;
      }
      const size_t end = text.find_first_of(",}\n", colon + 1);
      if (end != std::string::npos) text.replace(colon + 1, end - colon - 1, values[rng() % 13]);
    } else {
      for (int k = 0; k < 3; ++k) text[rng() % text.size()] = static_cast<char>(rng());
    }
    try {
      const ModelConfig config = parseHfConfig(text, "fuzz/config.json");
      EXPECT_TRUE(modelConfigProblems(config).empty()) << "seed " << seed << " iteration " << it;
      ++outcome.accepted;
    } catch (const DataError&) {
      ++outcome.rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "seed " << seed << " iteration " << it << ": unexpected exception: " << e.what();
    }
  }
  std::cout << "[ fuzz     ] configs: " << outcome.accepted << " accepted, " << outcome.rejected << " rejected"
            << std::endl;
  EXPECT_GT(outcome.rejected, 0);
  EXPECT_GT(outcome.accepted, 0);
}

}  // namespace
}  // namespace gramrl::checkpoint
