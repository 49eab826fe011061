#include "launch/data_command.h"

#include <iostream>

#include <fmt/core.h>

#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/data/convert/dataset_converter.h"

namespace gramrl::cli {

namespace dc = data::convert;

int runDataConvert(const DataConvertArgs& args) {
  const dc::DatasetConverter& converter = dc::findConverter(args.from);
  dc::ConvertOptions options;
  options.format = args.from;
  options.input = args.input;
  options.strict = args.strict;
  options.max_rows = args.max_rows;
  options.max_row_bytes = args.max_row_bytes;
  options.default_category = args.category;
  GRAMRL_CHECK(args.multi_turn == "flatten" || args.multi_turn == "skip", ConfigError,
               "data convert: --multi-turn must be flatten or skip, got '{}'", args.multi_turn);
  options.multi_turn = args.multi_turn == "skip" ? dc::MultiTurn::kSkip : dc::MultiTurn::kFlatten;
  auto add = [&](dc::Product product, const std::string& path) {
    if (path.empty()) return;
    const auto [it, added] = options.outputs.emplace(product, path);
    GRAMRL_CHECK(added, ConfigError, "data convert: the {} product is asked for twice ({} and {})",
                 dc::productName(product), it->second, path);
  };
  add(args.product.empty() ? converter.products().front() : dc::parseProduct(args.product), args.output);
  add(dc::Product::kPairs, args.pairs_out);
  add(dc::Product::kUnlabeled, args.unlabeled_out);
  add(dc::Product::kSft, args.sft_out);
  add(dc::Product::kPrompts, args.prompts_out);
  log::info("data convert: {} ({}) from {}", converter.name(), converter.dataset(), args.input);
  const dc::ConvertReport report = dc::convertFile(options);
  std::cerr << dc::formatReport(report) << std::flush;
  return 0;
}

int runDataFormats() {
  for (const dc::DatasetConverter* converter : dc::converters()) {
    std::string products;
    for (dc::Product p : converter->products())
      products += (products.empty() ? "" : ",") + std::string(dc::productName(p));
    std::cout << fmt::format("{:<26} {:<46} {}\n", converter->name(), converter->dataset(), products);
  }
  return 0;
}

}  // namespace gramrl::cli
