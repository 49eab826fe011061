// The converter registry and the conversion driver (NOTE [Converted products]).
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/core/errors.h"
#include "common/data/convert/conversation.h"
#include "common/data/convert/dataset_converter.h"
#include "common/data/convert/json_row_reader.h"
#include "common/data/json_line.h"

namespace gramrl::data::convert {
namespace {

constexpr int64_t kMaxRowBytesLimit = int64_t{1} << 30;  // --max-row-bytes may not exceed 1 GiB
constexpr int64_t kMaxRowsLimit = int64_t{1} << 40;

using Winner = Comparison::Winner;

// One output file, written atomically when the conversion succeeds.
struct ProductWriter {
  ProductReport* report = nullptr;
  std::unique_ptr<checkpoint::AtomicFileWriter> file;

  void write(const nlohmann::ordered_json& row) {
    std::string line = row.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
    line.push_back('\n');
    file->write(line);
    ++report->written;
  }
};

// Keeps the first kMaxProblems named problems and counts the rest.
void noteProblem(ConvertReport& report, std::string message) {
  if (report.problems.size() < kMaxProblems) {
    report.problems.push_back(std::move(message));
  } else {
    ++report.problems_not_listed;
  }
}

nlohmann::ordered_json baseRow(const FlatPrompt& prompt) {
  nlohmann::ordered_json row;
  if (prompt.system) row["system"] = *prompt.system;
  row["prompt"] = prompt.user;
  return row;
}

void addTags(nlohmann::ordered_json& row, const ConvertedRow& converted, const std::string& category) {
  if (!category.empty()) row["category"] = category;
  if (!converted.id.empty()) row["id"] = converted.id;
}

class Driver {
 public:
  Driver(const ConvertOptions& options, ConvertReport& report) : options_(options), report_(report) {}

  void open(const DatasetConverter& converter) {
    std::set<std::string> paths;
    const std::vector<Product> made = converter.products();
    for (const auto& [product, path] : options_.outputs) {
      GRAMRL_CHECK(std::find(made.begin(), made.end(), product) != made.end(), ConfigError,
                   "data convert: --from {} does not make {} (it makes: {})", converter.name(), productName(product),
                   productList(made));
      GRAMRL_CHECK(paths.insert(path).second, ConfigError, "data convert: two products would be written to {}", path);
      checkOutputFile(path, fmt::format("data convert ({})", productName(product)));
      std::error_code ec;
      GRAMRL_CHECK(!std::filesystem::equivalent(path, options_.input, ec), ConfigError,
                   "data convert: the {} output {} is the input file", productName(product), path);
    }
    // Reports in the order of NOTE [Converted products], then writers (the reports do not move).
    report_.products.reserve(options_.outputs.size());
    for (const auto& [product, path] : options_.outputs) report_.products.push_back(ProductReport{product, path});
    for (ProductReport& report : report_.products) {
      writers_[report.product] = ProductWriter{&report, std::make_unique<checkpoint::AtomicFileWriter>(report.path)};
    }
  }

  void row(const ConvertedRow& converted, const std::string& source) {
    std::optional<FlatPrompt> prompt =
        flattenPrompt(converted.prompt_turns, options_.multi_turn, source, converted.prompt_field);
    if (!prompt) {
      ++report_.multi_turn_skipped;
      noteProblem(report_, fmt::format("{}: a multi-turn prompt, skipped (--multi-turn skip) (field '{}')", source,
                                       converted.prompt_field));
      return;
    }
    if (prompt->flattened) ++report_.flattened;
    const std::string category = converted.category.empty() ? options_.default_category : converted.category;
    for (auto& [product, writer] : writers_) {
      switch (product) {
        case Product::kPairs: writePair(writer, converted, *prompt, category, source); break;
        case Product::kUnlabeled: writeUnlabeled(writer, converted, *prompt, category, source); break;
        case Product::kSft: writeSft(writer, converted, *prompt, category, source); break;
        case Product::kPrompts: writePrompt(writer, converted, *prompt, category); break;
      }
    }
  }

  void commit() {
    for (auto& [product, writer] : writers_) writer.file->commit();
  }

 private:
  static std::string productList(const std::vector<Product>& products) {
    std::string out;
    for (Product p : products) out += (out.empty() ? "" : ", ") + std::string(productName(p));
    return out;
  }

  void skip(ProductWriter& writer, const std::string& reason, const std::string& detail) {
    ++writer.report->skipped[reason];
    noteProblem(report_, fmt::format("{} [{} skipped]", detail, productName(writer.report->product)));
  }

  // false (and counted) when a response is empty or both are the same.
  bool usableResponses(ProductWriter& writer, const Comparison& c, const std::string& source) {
    if (c.a.empty() || c.b.empty()) {
      const std::string& field = c.a.empty() ? c.a_field : c.b_field;
      skip(writer, "empty response", fmt::format("{}: an empty response (field '{}')", source, field));
      return false;
    }
    if (c.a == c.b) {
      skip(writer, "identical responses",
           fmt::format("{}: both responses are the same text (field '{}')", source, c.b_field));
      return false;
    }
    return true;
  }

  void writePair(ProductWriter& writer, const ConvertedRow& converted, const FlatPrompt& prompt,
                 const std::string& category, const std::string& source) {
    const Comparison& c = *converted.comparison;
    if (c.winner == Winner::kTie || c.winner == Winner::kUnlabeled) {
      const bool tie = c.winner == Winner::kTie;
      skip(writer, tie ? "tie" : "no label",
           fmt::format("{}: {} (field '{}')", source, tie ? "a tie, not a preference: " + c.tie_detail : "no label",
                       c.label_field));
      return;
    }
    if (!usableResponses(writer, c, source)) return;
    nlohmann::ordered_json row = baseRow(prompt);
    row["chosen"] = c.winner == Winner::kA ? c.a : c.b;
    row["rejected"] = c.winner == Winner::kA ? c.b : c.a;
    addTags(row, converted, category);
    writer.write(row);
  }

  void writeUnlabeled(ProductWriter& writer, const ConvertedRow& converted, const FlatPrompt& prompt,
                      const std::string& category, const std::string& source) {
    const Comparison& c = *converted.comparison;
    if (!usableResponses(writer, c, source)) return;
    nlohmann::ordered_json row = baseRow(prompt);
    row["response_a"] = c.a;
    row["response_b"] = c.b;
    addTags(row, converted, category);
    writer.write(row);
  }

  void writeSft(ProductWriter& writer, const ConvertedRow& converted, const FlatPrompt& prompt,
                const std::string& category, const std::string& source) {
    std::string response;
    if (converted.demonstration) {
      if (converted.demonstration->empty()) {
        skip(writer, "empty response",
             fmt::format("{}: an empty response (field '{}')", source, converted.demonstration_field));
        return;
      }
      response = *converted.demonstration;
    } else if (converted.comparison) {
      const Comparison& c = *converted.comparison;
      if (c.winner != Winner::kA && c.winner != Winner::kB) {
        skip(writer, c.winner == Winner::kTie ? "tie" : "no label",
             fmt::format("{}: no preferred response to imitate (field '{}')", source, c.label_field));
        return;
      }
      response = c.winner == Winner::kA ? c.a : c.b;
      if (response.empty()) {
        skip(writer, "empty response",
             fmt::format("{}: the preferred response is empty (field '{}')", source,
                         c.winner == Winner::kA ? c.a_field : c.b_field));
        return;
      }
    } else {
      skip(writer, "no response", fmt::format("{}: no response to imitate", source));
      return;
    }
    nlohmann::ordered_json row = baseRow(prompt);
    row["response"] = std::move(response);
    addTags(row, converted, category);
    writer.write(row);
  }

  void writePrompt(ProductWriter& writer, const ConvertedRow& converted, const FlatPrompt& prompt,
                   const std::string& category) {
    // Preference sets repeat a prompt once per comparison; RLHF wants each prompt once. Repeats
    // are counted, not listed (they are expected).
    std::string key = prompt.system.value_or("");
    key.push_back('\0');
    key += prompt.user;
    if (!seen_prompts_.insert(std::move(key)).second) {
      ++writer.report->skipped["repeated prompt"];
      return;
    }
    nlohmann::ordered_json row = baseRow(prompt);
    if (converted.reference && !converted.reference->empty()) row["reference"] = *converted.reference;
    addTags(row, converted, category);
    writer.write(row);
  }

  const ConvertOptions& options_;
  ConvertReport& report_;
  std::map<Product, ProductWriter> writers_;
  std::set<std::string> seen_prompts_;
};

}  // namespace

std::string_view productName(Product product) {
  switch (product) {
    case Product::kPairs: return "pairs";
    case Product::kUnlabeled: return "unlabeled";
    case Product::kSft: return "sft";
    case Product::kPrompts: return "prompts";
  }
  return "?";
}

Product parseProduct(std::string_view name) {
  for (Product p : {Product::kPairs, Product::kUnlabeled, Product::kSft, Product::kPrompts}) {
    if (productName(p) == name) return p;
  }
  throw ConfigError(fmt::format("unknown product '{}': expected pairs, unlabeled, sft or prompts", name));
}

const std::vector<const DatasetConverter*>& converters() {
  static const std::vector<const DatasetConverter*> all = {
      &unifiedFeedbackConverter(), &hhRlhfConverter(),     &ultrafeedbackConverter(), &tldrConverter(),
      &rewardBenchConverter(),     &judgeBenchConverter(), &alpacaEvalConverter(),    &gramReleasedConverter(),
  };
  return all;
}

const DatasetConverter& findConverter(std::string_view name) {
  std::string known;
  for (const DatasetConverter* converter : converters()) {
    if (converter->name() == name) return *converter;
    known += (known.empty() ? "" : ", ") + std::string(converter->name());
  }
  throw ConfigError(fmt::format("data convert: unknown format '{}' (known: {})", name, known));
}

ConvertReport convertFile(const ConvertOptions& options) {
  const DatasetConverter& converter = findConverter(options.format);
  GRAMRL_CHECK(options.max_row_bytes >= 1 && options.max_row_bytes <= kMaxRowBytesLimit, ConfigError,
               "data convert: --max-row-bytes must be in 1..{}, got {}", kMaxRowBytesLimit, options.max_row_bytes);
  GRAMRL_CHECK(options.max_rows >= 0 && options.max_rows <= kMaxRowsLimit, ConfigError,
               "data convert: --max-rows must be in 0..{} (0 = all), got {}", kMaxRowsLimit, options.max_rows);
  GRAMRL_CHECK(!options.outputs.empty(), ConfigError, "data convert: no output file given");
  ConvertReport report;
  Driver driver(options, report);
  driver.open(converter);
  JsonRowReader reader(options.input, options.max_row_bytes);
  RowText text;
  int64_t good = 0;
  while ((options.max_rows == 0 || report.rows < options.max_rows) && reader.next(&text)) {
    ++report.rows;
    try {
      GRAMRL_CHECK(!text.too_long, DataError, "{}: the row is longer than --max-row-bytes ({} bytes)", text.source,
                   options.max_row_bytes);
      const nlohmann::json row = parseJsonLine(text.text, text.source);
      driver.row(converter.convert(row, text.source), text.source);
      ++good;
    } catch (const DataError& e) {
      if (options.strict) throw;
      ++report.bad_rows;
      noteProblem(report, e.what());
    }
  }
  GRAMRL_CHECK(good > 0, DataError, "{}: no row could be converted as {} ({} rows read{})", options.input,
               converter.name(), report.rows,
               report.problems.empty() ? std::string() : "; first problem: " + report.problems.front());
  driver.commit();
  return report;
}

std::string formatReport(const ConvertReport& report) {
  std::ostringstream out;
  out << fmt::format("{} rows read, {} bad", report.rows, report.bad_rows);
  if (report.flattened > 0) out << fmt::format(", {} multi-turn prompts flattened", report.flattened);
  if (report.multi_turn_skipped > 0) out << fmt::format(", {} multi-turn rows skipped", report.multi_turn_skipped);
  out << "\n";
  for (const ProductReport& product : report.products) {
    out << fmt::format("  {}: {} rows -> {}", productName(product.product), product.written, product.path);
    std::string skipped;
    for (const auto& [reason, count] : product.skipped) {
      skipped += fmt::format("{}{} {}", skipped.empty() ? "" : ", ", count, reason);
    }
    if (!skipped.empty()) out << " (skipped: " << skipped << ")";
    out << "\n";
  }
  for (const std::string& problem : report.problems) out << "  " << problem << "\n";
  if (report.problems_not_listed > 0) out << fmt::format("  ... and {} more\n", report.problems_not_listed);
  return out.str();
}

}  // namespace gramrl::data::convert
