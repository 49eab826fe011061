// Conversation helpers shared by the converters (internal to common/data/convert).
//
// Threads: pure functions. Throw DataError "<source>: <what> (field 'x')" through the RowView.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/data/convert/dataset_converter.h"
#include "common/data/json_row.h"

namespace gramrl::data::convert {

// A message list ([{"role", "content"}]) under `field`, checked as common/data reads them.
std::vector<Turn> messageTurns(const detail::RowView& row, const nlohmann::json& value, const std::string& field);

// A conversation split at its final message, which must be the assistant's.
struct SplitTurns {
  std::vector<Turn> prompt;
  std::string response;
};
SplitTurns splitFinalReply(const detail::RowView& row, std::vector<Turn> turns, const std::string& field);

// The prompt turns of two conversations that must share them (a and b name the fields).
// Throws naming the first message that differs.
std::vector<Turn> sharedPrompt(const detail::RowView& row, const SplitTurns& a, const std::string& a_field,
                               const SplitTurns& b, const std::string& b_field);

// An Anthropic HH-RLHF transcript ("\n\nHuman: ...\n\nAssistant: ...") as turns. Speaker markers
// are "\n\nHuman:" and "\n\nAssistant:" (one space after the colon is part of the marker); the
// text must start with the first one and the speakers must alternate, starting with Human.
std::vector<Turn> hhTranscriptTurns(const detail::RowView& row, std::string_view text, const std::string& field);

// The prompt turns as the single user message our chat templates render, or nullopt when they
// hold several user turns and multi_turn is kSkip. `flattened` is set when they were joined
// (NOTE [Converted products]). Throws (naming `field`) unless the turns are [system] user
// (assistant user)*.
struct FlatPrompt {
  std::optional<std::string> system;
  std::string user;
  bool flattened = false;
};
std::optional<FlatPrompt> flattenPrompt(const std::vector<Turn>& turns, MultiTurn multi_turn, const std::string& source,
                                        const std::string& field);

// A JSON id (string or number) as text; "" for null or absent.
std::string idText(const nlohmann::json* value);

// The converters, one definition each (preference_converters.cc, benchmark_converters.cc); the
// registry is converters() in convert_file.cc.
const DatasetConverter& unifiedFeedbackConverter();
const DatasetConverter& hhRlhfConverter();
const DatasetConverter& ultrafeedbackConverter();
const DatasetConverter& tldrConverter();
const DatasetConverter& rewardBenchConverter();
const DatasetConverter& judgeBenchConverter();
const DatasetConverter& alpacaEvalConverter();
const DatasetConverter& gramReleasedConverter();  // gram_released_converter.cc

}  // namespace gramrl::data::convert
