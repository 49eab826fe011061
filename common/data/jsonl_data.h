// Training and evaluation data from JSONL files: preference pairs, unlabeled response pairs,
// prompts and SFT demonstrations, in the shapes Hugging Face datasets have when exported with
// `dataset.to_json(path)` (one JSON object per line).
//
// NOTE [Accepted JSONL shapes]
// Every row is one JSON object; keys not named here are ignored (HF exports carry many columns),
// and a key whose value is null counts as absent (to_json writes missing columns as null).
// Prompts are one user turn with an optional system message, the only shape our chat templates
// render (common/tokenizer/chat_template.h); a longer history is a DataError ("multi-turn prompts
// are not supported yet"). Wherever a prompt is read, "prompt" may also be a message list
// [{"role": "system"|"user"|"assistant", "content": str}, ...] holding [system] + user, and
// "content" may be a list of {"type": "text", "text": str} parts (concatenated). The example's
// category is the first string among "category", "subset" (RewardBench), "family", "task".
//
// Preference pairs (readPreferencePairs):
//  (a) plain:  {"prompt": "2+2?", "chosen": "4", "rejected": "5", "system": "Be brief.", "subset": "math"}
//      ("question" is accepted for "prompt").
//  (b) conversational, whole conversations (HF chat / TRL implicit prompt):
//      {"chosen": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
//       "rejected": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}]}
//      The response is the final message, which must be an assistant turn; the turns before it
//      are the prompt and must be the same in "chosen" and "rejected".
//      TRL explicit prompt: {"prompt": [{"role": "user", "content": "2+2?"}],
//       "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]}
//      When both "prompt" and prompt turns inside "chosen" are given, they must agree.
//  (c) A/B labeled: {"question": "2+2?", "response_a": "5", "response_b": "4", "winner": "model_b"}
//      Prompt under "prompt" or "question"; responses under response_a/response_b, answer_a/answer_b
//      or response_1/response_2; label under "label", "preference" or "winner" (first present):
//      "A"/"B", "a"/"b", "model_a"/"model_b", "response_a"/"response_b"; integers 0/1 (0 = A)
//      with _a/_b responses, 1/2 (1 = A) with _1/_2 responses (digit strings count as integers).
//      A tie ("tie", "tie (bothbad)", "both", "none", "equal") is a DataError.
// Response pairs (readResponsePairs), for GRAM stage 1:
//      {"prompt": "2+2?", "response_a": "4", "response_b": "5"}  (any (c) key names; a label is
//      ignored) or {"prompt": "2+2?", "responses": ["4", "5"]} (exactly two).
// Prompts (readPrompts):
//      {"prompt": "2+2?", "reference": "4"}, {"question": "2+2?", "answer": "#### 4"},
//      {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]}
//      The reference is the first of "reference", "answer", "label" (only when a string),
//      "solution"; a number is kept as its JSON text ("answer": 4 -> "4"). A "messages" list may
//      end with an assistant turn, which is the reference when no reference key is given.
// Demonstrations (readDemonstrations):
//      {"prompt": "2+2?", "response": "4"}, {"prompt": "2+2?", "completion": "4"} (TRL; both may
//      be message lists), or {"messages": [{"role": "user", "content": "2+2?"},
//      {"role": "assistant", "content": "4"}]} ending with the assistant turn.
//
// Errors: every malformed row is a DataError "<source>: <what> (field 'x')", where source is
// "path:line" and x names the field, with a path into lists ("chosen[1].content").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace gramrl::data {

// One preference pair.
struct PreferencePair {
  std::optional<std::string> system;
  std::string prompt;
  std::string chosen;
  std::string rejected;
  std::string category;  // "" when the row has none
  std::string source;    // "file:line"
};

// An unlabeled pair of responses (GRAM stage 1).
struct ResponsePair {
  std::optional<std::string> system;
  std::string prompt;
  std::string response_a;
  std::string response_b;
  std::string category;
  std::string source;
};

// A prompt, with an optional reference answer (for rule rewards / SFT targets).
struct PromptExample {
  std::optional<std::string> system;
  std::string prompt;
  std::optional<std::string> reference;
  std::string category;
  std::string source;
};

// An SFT demonstration.
struct Demonstration {
  std::optional<std::string> system;
  std::string prompt;
  std::string response;
  std::string category;
  std::string source;
};

struct ReadOptions {
  // Count and skip malformed lines instead of throwing on the first; a summary is logged.
  bool skip_bad_lines = false;
  // A longer line is an error (or skipped); the reader never holds more than this per line.
  int64_t max_line_bytes = 16 << 20;
  // Stop after this many examples; 0 reads all.
  int64_t max_examples = 0;
};

struct ReadReport {
  int64_t lines = 0;                // non-empty lines read (examples + skipped, unless max_examples stopped early)
  int64_t examples = 0;             // examples returned
  int64_t skipped = 0;              // bad lines skipped (only with skip_bad_lines)
  std::vector<std::string> errors;  // the first 20 skipped lines' error messages
};

// Readers. Threads: any; each call reads its own file. Blocks on file I/O for the whole file.
// Returns the examples in file order. Empty (whitespace-only) lines are ignored; a UTF-8 byte
// order mark at the start and "\r\n" line ends are accepted. `report`, when given, is overwritten.
// Throws DataError: the file is missing or unreadable (naming the path and the errno text); a
// line is not valid JSON (including invalid UTF-8 in a string), not an object, lacks a field or
// has a wrong type (naming path:line and the field; with skip_bad_lines such lines are skipped);
// a line is longer than max_line_bytes (likewise); the file yields no examples at all.
// ConfigError for out-of-range options.
std::vector<PreferencePair> readPreferencePairs(const std::string& path, const ReadOptions& options = {},
                                                ReadReport* report = nullptr);
std::vector<ResponsePair> readResponsePairs(const std::string& path, const ReadOptions& options = {},
                                            ReadReport* report = nullptr);
std::vector<PromptExample> readPrompts(const std::string& path, const ReadOptions& options = {},
                                       ReadReport* report = nullptr);
std::vector<Demonstration> readDemonstrations(const std::string& path, const ReadOptions& options = {},
                                              ReadReport* report = nullptr);

// Parsers of one JSON row in the shapes of NOTE [Accepted JSONL shapes]. `source` names the row
// in errors and is copied into the result. Threads: pure functions. Throws DataError
// "<source>: <what> (field 'x')".
PreferencePair parsePreferencePair(const nlohmann::json& row, const std::string& source);
ResponsePair parseResponsePair(const nlohmann::json& row, const std::string& source);
PromptExample parsePrompt(const nlohmann::json& row, const std::string& source);
Demonstration parseDemonstration(const nlohmann::json& row, const std::string& source);

// The indices rank `rank` of `world_size` owns when sharding a list of n examples by index:
// those with i % world_size == rank, ascending. Every index belongs to exactly one rank; ranks
// differ in size by at most one. (Trainers mostly shard batches instead; this is for evaluation
// and precomputation.) Throws ConfigError unless 0 <= rank < world_size.
std::vector<int64_t> shardIndices(int64_t n, int rank, int world_size);

// Writes each row as one line of compact JSON (UTF-8, not ASCII-escaped), atomically: readers
// see the old file or the whole new one (NOTE [Atomic checkpoint files] in
// common/checkpoint/file_io.h). The directory must exist. Threads: one writer per path.
// Throws DataError for a string that is not valid UTF-8 (naming the row), SystemError for I/O.
void writeJsonl(const std::string& path, const std::vector<nlohmann::json>& rows);

}  // namespace gramrl::data
