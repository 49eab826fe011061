// gramrl data convert: public data sets (as `datasets` exports them) to the JSONL the trainers
// and `gram eval` read (common/data/convert/dataset_converter.h, NOTE [Converted products];
// docs/data.md). Plain functions over plain structs, like the other subcommands (commands.h).
#pragma once

#include <cstdint>
#include <string>

namespace gramrl::cli {

// gramrl data convert --from FORMAT INPUT OUTPUT [--product P] [--pairs-out F] [--unlabeled-out F]
//                     [--sft-out F] [--prompts-out F] [--multi-turn flatten|skip] [--category C]
//                     [--strict] [--max-rows N] [--max-row-bytes B]
struct DataConvertArgs {
  std::string from;
  std::string input;
  std::string output;   // the `product` goes here
  std::string product;  // "" = the format's first product
  std::string pairs_out, unlabeled_out, sft_out, prompts_out;
  std::string multi_turn = "flatten";
  std::string category;
  bool strict = false;
  int64_t max_rows = 0;
  int64_t max_row_bytes = 16 << 20;
};

// Converts, prints the report (rows, per product written and skipped with reasons, the first
// named problems) to stderr and returns 0. Throws ConfigError for bad arguments (also a product
// given twice), DataError and SystemError as convertFile does.
int runDataConvert(const DataConvertArgs& args);

// gramrl data formats: one line per format: name, Hub data set, products (first = default).
int runDataFormats();

}  // namespace gramrl::cli
