// Writes sample event files for scripts/reference/tensorboard/read_events.py (see
// read_events_check.cmake, which the ctest metrics_read_events_py runs):
//   <dir>/good.tfevents      scalars of several steps, including 0, negatives, NaN, a huge step
//   <dir>/expected.jsonl     what the reader must print for good.tfevents
//   <dir>/flipped.tfevents   good.tfevents with one data byte of its second record flipped
//   <dir>/truncated.tfevents good.tfevents without its last 3 bytes
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/metrics/tensorboard_writer.h"

namespace {

void writeBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <output dir>\n";
    return 2;
  }
  const std::string dir = argv[1];
  try {
    std::filesystem::create_directories(dir);
    using Scalars = std::vector<std::pair<std::string, double>>;
    const std::vector<std::pair<int64_t, Scalars>> steps = {
        {0, {{"loss", 2.5}, {"reward/mean", -0.125}}},
        {1, {{"loss", 0.1}, {"kl", 0.0}, {"lr", 3e-6}}},
        {2, {{"loss", std::nan("")}, {"grad_norm", 1e30}}},
        {-7, {{"neg_step", -1.0}}},
        {(int64_t{1} << 40) + 3, {{"big/\xc3\xa9tape", 123456.789}}},  // UTF-8 tag
    };
    std::string events_path;
    std::ofstream expected(dir + "/expected.jsonl", std::ios::trunc);
    {
      gramrl::metrics::TensorBoardWriter writer(dir + "/run");
      events_path = writer.path();
      double wall_time = 1732622400.125;
      for (const auto& [step, scalars] : steps) {
        writer.addScalars(step, wall_time, scalars);
        for (const auto& [tag, value] : scalars) {
          const float stored = static_cast<float>(value);  // simple_value is a float
          nlohmann::json line = {{"step", step}, {"wall_time", wall_time}, {"tag", tag}};
          line["value"] = std::isfinite(stored) ? nlohmann::json(static_cast<double>(stored)) : nlohmann::json(nullptr);
          expected << line.dump() << "\n";
        }
        wall_time += 1.5;
      }
    }
    expected.close();
    std::ifstream in(events_path, std::ios::binary);
    const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::vector<std::string> records = gramrl::metrics::readTfRecords(events_path);
    writeBytes(dir + "/good.tfevents", good);
    std::string flipped = good;
    flipped[12 + records[0].size() + 4 + 12 + 5] ^= 0x10;
    writeBytes(dir + "/flipped.tfevents", flipped);
    writeBytes(dir + "/truncated.tfevents", good.substr(0, good.size() - 3));
    std::cout << "wrote " << dir << " from " << events_path << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
