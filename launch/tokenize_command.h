// gramrl tokenize: encode text, or decode ids, with a tokenizer; for looking at what a model
// is fed. A plain function over a plain struct, like the other subcommands (commands.h); only
// main.cc sees CLI11.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace gramrl::cli {

struct TokenizeArgs {
  std::string tokenizer;           // a directory holding tokenizer.json[.gz], or "builtin:bytes"
  std::string chat_template;       // "", a template name (llama3, qwen2.5, qwen3, plain), or "auto"
                                   // (the one the tokenizer's files ship): render each input as the
                                   // user message of a single-turn prompt before encoding
  std::string system;              // the system message with chat_template; "" = none
  bool decode = false;             // inputs are ids (separated by spaces or commas); print the text
  bool jsonl = false;              // one JSON object per input instead of the readable form
  bool add_special_tokens = true;  // plain encoding only; chat prompts carry their own
  std::vector<std::string> texts;  // from the command line; when empty, stdin, one per line
};

// Reads inputs from args.texts or `in`, writes results to `out`. For each input it prints, in
// the readable form, the (JSON-quoted) text, the ids and the pieces; with jsonl,
// {"text": ..., "ids": [...], "pieces": [...]} (text is the rendered prompt with a template).
// --decode prints the text of each line of ids (invalid UTF-8 shown as U+FFFD), or
// {"ids": [...], "text": ...} with jsonl. Returns 0.
// Throws: DataError (unreadable tokenizer, a line that is not ids, an id outside the
// vocabulary, text that is not UTF-8), ConfigError (unknown chat template).
int runTokenize(const TokenizeArgs& args, std::istream& in, std::ostream& out);
// The same on stdin and stdout.
int runTokenize(const TokenizeArgs& args);

}  // namespace gramrl::cli
