// gramrl world generate | score | candidates: write the synthetic world's data sets as JSONL, and grade
// responses against the world's gold judge (common/world/world.h). Plain functions over plain
// structs, like the other subcommands (commands.h); only main.cc sees CLI11.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace gramrl::cli {

// gramrl world generate KIND --n N --seed S --families a,b --exclude-families rev,inc
//                            --correct-prob p --label-noise e --out FILE
struct WorldGenerateArgs {
  std::string kind;  // prompts | sft | unlabeled | labeled | test
  int64_t n = 1000;
  uint64_t seed = 0;
  std::vector<std::string> families;          // empty = all six
  std::vector<std::string> exclude_families;  // removed from `families`, e.g. the held-out rev,inc
  double correct_prob = 0.4;
  double label_noise = 0.1;
  std::string out;  // "-" or empty = stdout
};

// Writes n JSONL rows to args.out (atomically: a temporary file renamed over it, so a reader never
// sees a partial data set) or to stdout, and a one-line summary to stderr: rows, rows per family,
// the fraction of correct responses, flipped labels. Returns 0.
// Throws ConfigError (unknown kind or family, no family left, probabilities outside [0, 1]),
// SystemError (the output file cannot be written).
int runWorldGenerate(const WorldGenerateArgs& args);
// The same, writing the rows to `out` whatever args.out says (for tests).
int runWorldGenerate(const WorldGenerateArgs& args, std::ostream& out);

// gramrl world score FILE
struct WorldScoreArgs {
  std::string in;  // JSONL; "-" or empty = stdin
};

// Reads rows holding "prompt" and "response", or "chosen" and "rejected", or "response_a" and
// "response_b", and prints for each one JSON line with its line number, family and gold scores
// ({"line": 3, "family": "srt", "score": 0.75}, or "chosen_score"/"rejected_score" and "agrees":
// whether chosen scores at least as high). A one-line summary goes to stderr. Returns 0.
// Throws DataError naming file:line for a row that is not JSON, lacks those fields or has a prompt
// that is not a world prompt, and for a file that cannot be opened.
int runWorldScore(const WorldScoreArgs& args);
int runWorldScore(const WorldScoreArgs& args, std::istream& in, std::ostream& out);

// gramrl world candidates GENERATED.jsonl --out CANDIDATES.jsonl [--pairs-out PAIRS.jsonl]
//                         [--pairs-per-prompt K]
// Turns a policy's samples (the rows of `gramrl generate --jsonl --samples N`: "prompt_index",
// "sample_index", "prompt", "text") into best-of-n candidate sets graded by the world's gold judge,
// one row per prompt in prompt_index order:
//   {"prompt", "family", "candidates": [text of sample 0, 1, ...], "gold": [gold score of each]}
// (the input of `gramrl gram eval --best-of-n`), and optionally into "policy-sampled" preference
// pairs for the accuracy table: per prompt, the first K of the disjoint sample pairs (0, 1),
// (2, 3), ... whose gold scores differ, chosen = the higher score, as rows
//   {"prompt", "chosen", "rejected", "family", "chosen_score", "rejected_score", "contains_correct"}
// (the world's test-pair shape). Consecutive disjoint pairs are independent draws of the policy
// conditioned on differing scores, the way the world's test pairs are drawn from its response
// distribution. A one-line summary goes to stderr. Returns 0.
struct WorldCandidatesArgs {
  std::string in;         // JSONL from `gramrl generate --jsonl`; "-" or empty = stdin
  std::string out;        // candidate sets; "-" or empty = stdout
  std::string pairs_out;  // optional preference pairs
  int64_t pairs_per_prompt = 1;
};

// Throws DataError naming file:line for a row that is not JSON or lacks those fields, a prompt
// that is not a world prompt, a prompt index whose samples are not 0..N-1 or whose rows disagree
// on the prompt, and prompts with different numbers of samples; ConfigError for
// pairs_per_prompt < 1; SystemError when an output cannot be written.
int runWorldCandidates(const WorldCandidatesArgs& args);
// The same on streams (for tests): candidate rows to `out`, pair rows to `pairs` when not null.
int runWorldCandidates(const WorldCandidatesArgs& args, std::istream& in, std::ostream& out, std::ostream* pairs);

}  // namespace gramrl::cli
