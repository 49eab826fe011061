// Converters from public preference and benchmark data sets, exported with the Hugging Face
// `datasets` library (`Dataset.to_json(path)`: JSONL; `to_json(path, lines=False)`: one JSON
// array), into the JSONL shapes the trainers and `gram eval` read (NOTE [Accepted JSONL shapes]
// in common/data/jsonl_data.h). `gramrl data convert` is the command; docs/data.md the guide,
// with each data set's fields and where they were checked.
//
// NOTE [Converted products]
// A converter turns one input row into a ConvertedRow: the prompt turns, an optional comparison
// of two responses (with the winner, a tie, or no label), an optional demonstration and an
// optional reference answer. convertFile() makes up to four products from those rows, each one
// JSONL file:
//   pairs      {"prompt", "chosen", "rejected"}   labelled pairs: GRAM stage 2, DPO, BT, gram eval
//   unlabeled  {"prompt", "response_a", "response_b"}   GRAM stage 1 (labels dropped, ties kept)
//   sft        {"prompt", "response"}             demonstrations (the row's demonstration, else the
//                                                 winner of its comparison)
//   prompts    {"prompt", "reference"?}           RLHF and best-of-n prompts (exact repeats dropped)
// Every row also carries "system" (when the prompt has one), "category" and "id" (when known).
// A row a product cannot use is skipped for that product and counted with its reason (a tie for
// pairs, an empty response, identical responses, a repeated prompt); a row the converter cannot
// read at all is a bad row, counted and named "file:line: what (field 'x')". Nothing is dropped
// without a count. With `strict`, the first bad row stops the conversion instead.
//
// Prompts with several user turns cannot be rendered by our chat templates (one user turn with an
// optional system message). With MultiTurn::kFlatten (the default) the history becomes one user
// message, "User: q1\n\nAssistant: a1\n\nUser: q2" (the form GRAM's judge prompt shows as
// "[User Question]"); with kSkip such rows are skipped and counted.
//
// Threads: converters are stateless and may be used from any thread; convertFile() reads and
// writes files on the calling thread and blocks until done.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace gramrl::data::convert {

enum class Product { kPairs, kUnlabeled, kSft, kPrompts };
std::string_view productName(Product product);
// Throws ConfigError naming the accepted names.
Product parseProduct(std::string_view name);

struct Turn {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// Two responses to the same prompt, and which one the data set prefers.
struct Comparison {
  enum class Winner { kA, kB, kTie, kUnlabeled };
  std::string a;
  std::string b;
  Winner winner = Winner::kUnlabeled;
  // Fields named in skip messages: the input fields holding a and b, and the label.
  std::string a_field;
  std::string b_field;
  std::string label_field;
  std::string tie_detail;  // "conv_A_rating = conv_B_rating = 5" for a tie
};

struct ConvertedRow {
  // [system] user (assistant user)*: the conversation before the response(s).
  std::vector<Turn> prompt_turns;
  std::string prompt_field;  // the input field the prompt came from, for messages
  std::string category;      // "" when the row has none
  std::string id;            // "" when the row has none; numbers as their JSON text
  std::optional<Comparison> comparison;
  std::optional<std::string> demonstration;  // an SFT target other than the comparison's winner
  std::string demonstration_field;
  std::optional<std::string> reference;  // a reference answer for the prompts product
};

// One data set's row format. Implementations are stateless.
class DatasetConverter {
 public:
  virtual ~DatasetConverter() = default;
  virtual std::string_view name() const = 0;     // the --from name: "hh-rlhf"
  virtual std::string_view dataset() const = 0;  // the Hub id it was written for: "Anthropic/hh-rlhf"
  // The products it can make; the first is written when none is asked for.
  virtual std::vector<Product> products() const = 0;
  // Throws DataError "<source>: <what> (field 'x')" for a row it cannot read.
  virtual ConvertedRow convert(const nlohmann::json& row, const std::string& source) const = 0;
};

// The converters, in --from order. The returned objects live for the whole program.
const std::vector<const DatasetConverter*>& converters();
// Throws ConfigError naming the known formats.
const DatasetConverter& findConverter(std::string_view name);

enum class MultiTurn { kFlatten, kSkip };

struct ConvertOptions {
  std::string format;  // a converter name
  std::string input;   // JSONL, or one JSON array
  // Product -> output path; at least one, each a product the converter makes, no path twice.
  std::map<Product, std::string> outputs;
  MultiTurn multi_turn = MultiTurn::kFlatten;
  std::string default_category;  // for rows without one ("" = none)
  bool strict = false;           // the first bad row is an error
  int64_t max_row_bytes = 16 << 20;
  int64_t max_rows = 0;  // stop after reading this many rows; 0 = all
};

struct ProductReport {
  Product product = Product::kPairs;
  std::string path;
  int64_t written = 0;
  std::map<std::string, int64_t> skipped;  // reason -> rows
};

struct ConvertReport {
  int64_t rows = 0;       // rows read (good and bad)
  int64_t bad_rows = 0;   // rows the converter refused
  int64_t flattened = 0;  // multi-turn prompts made into one user message
  int64_t multi_turn_skipped = 0;
  std::vector<ProductReport> products;
  std::vector<std::string> problems;  // the first kMaxProblems bad or skipped rows, named
  int64_t problems_not_listed = 0;
};
inline constexpr size_t kMaxProblems = 20;

// Reads options.input, converts every row and writes each product atomically (a reader sees the
// old file or the whole new one). Output paths are checked before the first row is read.
// Throws ConfigError for bad options (an unknown format or a product it does not make, a bound
// out of range, two products to one path), DataError for an unreadable input, a malformed JSON
// array, a bad row with `strict`, and when no row could be converted at all; SystemError when
// an output cannot be written.
ConvertReport convertFile(const ConvertOptions& options);

// The report as text: one line per product, the skip reasons and the named problems.
std::string formatReport(const ConvertReport& report);

}  // namespace gramrl::data::convert
