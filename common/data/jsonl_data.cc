#include "common/data/jsonl_data.h"

#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/data/json_line.h"
#include "common/data/json_row.h"
#include "common/data/line_reader.h"

namespace gramrl::data {
namespace {

constexpr size_t kMaxReportedErrors = 20;

bool isBlank(const std::string& text) { return text.find_first_not_of(" \t\r\f\v") == std::string::npos; }

nlohmann::json parseLine(const std::string& text, const std::string& source) {
  return parseJsonLine(text, source);  // strict: a repeated key or a NUL byte is an error
}

// The loop shared by the four readers: lines -> JSON objects -> `parse`, with the error policy
// of ReadOptions.
template <typename Example, typename Parse>
std::vector<Example> readJsonl(const std::string& path, const ReadOptions& options, ReadReport* report_out,
                               Parse parse) {
  GRAMRL_CHECK(options.max_line_bytes > 0, ConfigError, "ReadOptions.max_line_bytes: expected > 0, got {} (reading {})",
               options.max_line_bytes, path);
  GRAMRL_CHECK(options.max_examples >= 0, ConfigError, "ReadOptions.max_examples: expected >= 0, got {} (reading {})",
               options.max_examples, path);
  ReadReport report;
  std::vector<Example> examples;
  LineReader reader(path, options.max_line_bytes);
  Line line;
  while ((options.max_examples == 0 || static_cast<int64_t>(examples.size()) < options.max_examples) &&
         reader.next(&line)) {
    if (!line.too_long && isBlank(line.text)) continue;
    ++report.lines;
    const std::string source = fmt::format("{}:{}", path, line.number);
    try {
      GRAMRL_CHECK(!line.too_long, DataError,
                   "{}: line of {} bytes is longer than the limit of {} (ReadOptions.max_line_bytes); is this a "
                   "JSONL file?",
                   source, line.bytes, options.max_line_bytes);
      const nlohmann::json row = parseLine(line.text, source);
      try {
        examples.push_back(parse(row, source));
      } catch (const nlohmann::json::exception& e) {
        // The parsers check types before reading values; this keeps a missed check a DataError.
        throw DataError(fmt::format("{}: {}", source, e.what()));
      }
    } catch (const DataError& e) {
      if (!options.skip_bad_lines) throw;
      ++report.skipped;
      if (report.errors.size() < kMaxReportedErrors) report.errors.emplace_back(e.what());
    }
  }
  report.examples = static_cast<int64_t>(examples.size());
  if (report.skipped > 0) {
    log::warn("skipped {} of {} lines of {} (first: {})", report.skipped, report.lines, path, report.errors.front());
  }
  if (report_out) *report_out = report;
  GRAMRL_CHECK(!examples.empty(), DataError, "{}: no examples in {} non-empty lines{}", path, report.lines,
               report.skipped > 0 ? fmt::format(" ({} skipped; first: {})", report.skipped, report.errors.front())
                                  : std::string());
  return examples;
}

}  // namespace

std::vector<PreferencePair> readPreferencePairs(const std::string& path, const ReadOptions& options,
                                                ReadReport* report) {
  return readJsonl<PreferencePair>(path, options, report, parsePreferencePair);
}

std::vector<ResponsePair> readResponsePairs(const std::string& path, const ReadOptions& options, ReadReport* report) {
  return readJsonl<ResponsePair>(path, options, report, parseResponsePair);
}

std::vector<PromptExample> readPrompts(const std::string& path, const ReadOptions& options, ReadReport* report) {
  return readJsonl<PromptExample>(path, options, report, parsePrompt);
}

std::vector<Demonstration> readDemonstrations(const std::string& path, const ReadOptions& options, ReadReport* report) {
  return readJsonl<Demonstration>(path, options, report, parseDemonstration);
}

std::vector<int64_t> shardIndices(int64_t n, int rank, int world_size) {
  GRAMRL_CHECK(world_size >= 1, ConfigError, "shardIndices: world_size must be >= 1, got {}", world_size);
  GRAMRL_CHECK(rank >= 0 && rank < world_size, ConfigError, "shardIndices: rank {} is outside [0, {})", rank,
               world_size);
  GRAMRL_ASSERT(n >= 0, "shardIndices: n = {}", n);
  std::vector<int64_t> indices;
  indices.reserve(static_cast<size_t>(n / world_size + 1));
  for (int64_t i = rank; i < n; i += world_size) indices.push_back(i);
  return indices;
}

void writeJsonl(const std::string& path, const std::vector<nlohmann::json>& rows) {
  checkpoint::AtomicFileWriter writer(path);
  std::string text;
  for (size_t i = 0; i < rows.size(); ++i) {
    try {
      text = rows[i].dump();  // strict: invalid UTF-8 throws rather than writing a line no reader accepts
    } catch (const nlohmann::json::exception& e) {
      throw DataError(fmt::format("{}: cannot write row {}: {}", path, i, e.what()));
    }
    text += '\n';
    writer.write(text);
  }
  writer.commit();
}

}  // namespace gramrl::data
