// The row parsers on inline rows: every shape of NOTE [Accepted JSONL shapes] and every error,
// with the exact message (source, what, field).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/data/jsonl_data.h"
#include "tests/common/data/test_util.h"

namespace gramrl::data {
namespace {

using testing::dataErrorOf;
using ::testing::HasSubstr;
using testing::row;

const std::string kSrc = "f.jsonl:7";

PreferencePair pref(const char* text) { return parsePreferencePair(row(text), kSrc); }
std::string prefError(const char* text) {
  return dataErrorOf([&] { parsePreferencePair(row(text), kSrc); });
}

// --- preference pairs, shape (a) ---

TEST(PreferencePairTest, PlainRowWithSystemAndCategory) {
  PreferencePair p = pref(R"({"prompt": "P", "chosen": "C", "rejected": "R", "system": "S", "subset": "x", "id": 3})");
  EXPECT_EQ(p.system, std::optional<std::string>("S"));
  EXPECT_EQ(p.prompt, "P");
  EXPECT_EQ(p.chosen, "C");
  EXPECT_EQ(p.rejected, "R");
  EXPECT_EQ(p.category, "x");
  EXPECT_EQ(p.source, kSrc);
}

TEST(PreferencePairTest, QuestionKeyAndNoSystemOrCategory) {
  PreferencePair p = pref(R"({"question": "Q", "chosen": "C", "rejected": "", "system": null})");
  EXPECT_EQ(p.prompt, "Q");
  EXPECT_FALSE(p.system.has_value());
  EXPECT_EQ(p.rejected, "");
  EXPECT_EQ(p.category, "");
}

TEST(PreferencePairTest, CategoryIsTheFirstPresentKey) {
  EXPECT_EQ(pref(R"({"prompt":"p","chosen":"c","rejected":"r","task":"t","family":"f"})").category, "f");
  EXPECT_EQ(pref(R"({"prompt":"p","chosen":"c","rejected":"r","task":"t","subset":"s","family":"f"})").category, "s");
  EXPECT_EQ(pref(R"({"prompt":"p","chosen":"c","rejected":"r","subset":"s","category":"c"})").category, "c");
  EXPECT_EQ(pref(R"({"prompt":"p","chosen":"c","rejected":"r","category":null,"task":"t"})").category, "t");
  EXPECT_EQ(prefError(R"({"prompt":"p","chosen":"c","rejected":"r","subset":3})"),
            "f.jsonl:7: expected a string, got an integer (field 'subset')");
}

TEST(PreferencePairTest, PlainRowErrors) {
  EXPECT_EQ(prefError(R"({"chosen": "C", "rejected": "R"})"),
            "f.jsonl:7: required field is missing: expected 'prompt' or 'question' (field 'prompt')");
  EXPECT_EQ(prefError(R"({"prompt": "P", "chosen": "C"})"),
            "f.jsonl:7: required field is missing ('chosen' is present) (field 'rejected')");
  EXPECT_EQ(prefError(R"({"prompt": "P", "rejected": "R", "chosen": null})"),
            "f.jsonl:7: required field is missing ('rejected' is present) (field 'chosen')");
  EXPECT_EQ(prefError(R"({"prompt": 5, "chosen": "C", "rejected": "R"})"),
            "f.jsonl:7: expected a string or a message list, got an integer (field 'prompt')");
  EXPECT_EQ(prefError(R"({"prompt": "P", "chosen": 1, "rejected": 2})"),
            "f.jsonl:7: expected a string or a message list, got an integer (field 'chosen')");
  EXPECT_EQ(prefError(R"({"prompt": "P", "chosen": "C", "rejected": "R", "system": ["S"]})"),
            "f.jsonl:7: expected a string, got an array (field 'system')");
  EXPECT_EQ(prefError(R"({"prompt": "P", "text": "T"})"),
            "f.jsonl:7: no preference pair: expected 'chosen' and 'rejected', or 'response_a'/'response_b' (or "
            "answer_a/answer_b, response_1/response_2) with a label (field 'chosen')");
  EXPECT_EQ(dataErrorOf([] { parsePreferencePair(nlohmann::json::array({1}), kSrc); }),
            "f.jsonl:7: expected a JSON object, got an array");
}

// --- shape (b) ---

TEST(PreferencePairTest, WholeConversations) {
  PreferencePair p = pref(R"({
    "chosen": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "C"}],
    "rejected": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "R"}]})");
  EXPECT_EQ(p.system, std::optional<std::string>("S"));
  EXPECT_EQ(p.prompt, "U");
  EXPECT_EQ(p.chosen, "C");
  EXPECT_EQ(p.rejected, "R");
}

TEST(PreferencePairTest, TrlExplicitPromptAndSystemBeside) {
  PreferencePair p = pref(R"({"prompt": [{"role": "user", "content": "U"}], "system": "S",
    "chosen": [{"role": "assistant", "content": "C"}], "rejected": [{"role": "assistant", "content": "R"}]})");
  EXPECT_EQ(p.system, std::optional<std::string>("S"));
  EXPECT_EQ(p.prompt, "U");
  EXPECT_EQ(p.chosen, "C");
  EXPECT_EQ(p.rejected, "R");
  // A string prompt with assistant-only lists.
  p = pref(R"({"prompt": "U2", "chosen": [{"role": "assistant", "content": "C"}],
               "rejected": [{"role": "assistant", "content": "R"}]})");
  EXPECT_EQ(p.prompt, "U2");
  EXPECT_FALSE(p.system.has_value());
}

TEST(PreferencePairTest, ExplicitPromptMustAgreeWithConversation) {
  const char* agree =
      R"({"prompt": "U", "chosen": [{"role": "user", "content": "U"}, {"role": "assistant", "content": "C"}],
    "rejected": [{"role": "user", "content": "U"}, {"role": "assistant", "content": "R"}]})";
  EXPECT_EQ(pref(agree).prompt, "U");
  EXPECT_EQ(
      prefError(R"({"prompt": "X", "chosen": [{"role": "user", "content": "U"}, {"role": "assistant", "content": "C"}],
    "rejected": [{"role": "user", "content": "U"}, {"role": "assistant", "content": "R"}]})"),
      "f.jsonl:7: differs from the prompt turns in 'chosen' (field 'prompt')");
  EXPECT_EQ(prefError(R"({"prompt": [{"role": "system", "content": "A"}, {"role": "user", "content": "U"}],
    "system": "B", "chosen": [{"role": "assistant", "content": "C"}], "rejected": [{"role": "assistant", "content": "R"}]})"),
            "f.jsonl:7: differs from the system message in 'prompt' (field 'system')");
}

TEST(PreferencePairTest, MultiTurnPromptIsNotSupported) {
  EXPECT_EQ(prefError(R"({
    "chosen": [{"role": "user", "content": "U1"}, {"role": "assistant", "content": "A1"}, {"role": "user", "content": "U2"}, {"role": "assistant", "content": "C"}],
    "rejected": [{"role": "user", "content": "U1"}, {"role": "assistant", "content": "A1"}, {"role": "user", "content": "U2"}, {"role": "assistant", "content": "R"}]})"),
            "f.jsonl:7: multi-turn prompts are not supported yet (3 prompt turns; expected an optional system message "
            "and one user message) (field 'chosen')");
  EXPECT_EQ(prefError(R"({"prompt": [{"role": "user", "content": "U1"}, {"role": "user", "content": "U2"}],
    "chosen": [{"role": "assistant", "content": "C"}], "rejected": [{"role": "assistant", "content": "R"}]})"),
            "f.jsonl:7: multi-turn prompts are not supported yet (2 prompt turns; expected an optional system message "
            "and one user message) (field 'prompt')");
}

TEST(PreferencePairTest, MismatchedPromptTurns) {
  EXPECT_EQ(prefError(R"({"chosen": [{"role": "user", "content": "U"}, {"role": "assistant", "content": "C"}],
    "rejected": [{"role": "user", "content": "V"}, {"role": "assistant", "content": "R"}]})"),
            "f.jsonl:7: prompt turns differ between 'chosen' and 'rejected' (1 vs 1 prompt turns, first difference at "
            "message 0) (field 'rejected[0]')");
  EXPECT_EQ(
      prefError(
          R"({"chosen": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "C"}],
    "rejected": [{"role": "system", "content": "S"}, {"role": "assistant", "content": "R"}]})"),
      "f.jsonl:7: prompt turns differ between 'chosen' and 'rejected' (2 vs 1 prompt turns, first difference at "
      "message 1) (field 'rejected[1]')");
}

TEST(PreferencePairTest, MessageListErrors) {
  EXPECT_EQ(prefError(R"({"chosen": [{"role": "user", "content": "U"}, {"role": "user", "content": "C"}],
    "rejected": [{"role": "user", "content": "U"}, {"role": "assistant", "content": "R"}]})"),
            "f.jsonl:7: the final message must be the assistant's reply, got 'user' (field 'chosen[1].role')");
  EXPECT_EQ(prefError(R"({"chosen": [], "rejected": []})"), "f.jsonl:7: empty message list (field 'chosen')");
  EXPECT_EQ(prefError(R"({"chosen": [{"role": "tool", "content": "U"}], "rejected": []})"),
            "f.jsonl:7: unknown role 'tool': expected 'system', 'user' or 'assistant' (field 'chosen[0].role')");
  EXPECT_EQ(prefError(R"({"chosen": [{"content": "U"}], "rejected": []})"),
            "f.jsonl:7: required field is missing (field 'chosen[0].role')");
  EXPECT_EQ(prefError(R"({"chosen": [{"role": "user", "content": "U"}, {"role": "assistant"}], "rejected": []})"),
            "f.jsonl:7: required field is missing (field 'chosen[1].content')");
  EXPECT_EQ(prefError(R"({"chosen": [{"role": "user", "content": 3}], "rejected": []})"),
            "f.jsonl:7: expected a string, got an integer (field 'chosen[0].content')");
  EXPECT_EQ(prefError(R"({"chosen": ["hi"], "rejected": []})"),
            "f.jsonl:7: expected a message object, got a string (field 'chosen[0]')");
  EXPECT_EQ(
      prefError(
          R"({"chosen": [{"role": "assistant", "content": "C"}], "rejected": [{"role": "assistant", "content": "R"}]})"),
      "f.jsonl:7: required field is missing: 'chosen' holds only the reply and there is no 'prompt' or "
      "'question' (field 'prompt')");
  EXPECT_EQ(
      prefError(
          R"({"chosen": [{"role": "user", "content": "U"}, {"role": "system", "content": "S"}, {"role": "assistant", "content": "C"}],
    "rejected": [{"role": "user", "content": "U"}, {"role": "system", "content": "S"}, {"role": "assistant", "content": "R"}]})"),
      "f.jsonl:7: a system message must come first (field 'chosen[1].role')");
  EXPECT_EQ(prefError(R"({"prompt": "P", "chosen": "C", "rejected": [{"role": "assistant", "content": "R"}]})"),
            "f.jsonl:7: 'chosen' is a string but 'rejected' is an array; give both as strings or both as message "
            "lists (field 'rejected')");
}

TEST(PreferencePairTest, TextPartsAreConcatenated) {
  PreferencePair p = pref(R"({
    "chosen": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, {"role": "assistant", "content": "C"}],
    "rejected": [{"role": "user", "content": [{"type": "text", "text": "ab"}]}, {"role": "assistant", "content": "R"}]})");
  EXPECT_EQ(p.prompt, "ab");  // equal after concatenation, so the prompts agree
  EXPECT_EQ(prefError(R"({"chosen": [{"role": "user", "content": [{"type": "image", "url": "x"}]}], "rejected": []})"),
            "f.jsonl:7: expected a text part {\"type\": \"text\", \"text\": ...} (field 'chosen[0].content[0]')");
}

// --- shape (c) ---

TEST(PreferencePairTest, AbLabels) {
  struct Case {
    const char* row;
    const char* chosen;
  };
  const Case cases[] = {
      {R"({"prompt":"p","response_a":"A","response_b":"B","label":"A"})", "A"},
      {R"({"prompt":"p","response_a":"A","response_b":"B","label":"b"})", "B"},
      {R"({"prompt":"p","response_a":"A","response_b":"B","label":0})", "A"},
      {R"({"prompt":"p","response_a":"A","response_b":"B","label":1})", "B"},
      {R"({"prompt":"p","response_a":"A","response_b":"B","label":"1"})", "B"},
      {R"({"prompt":"p","response_a":"A","response_b":"B","label":1.0})", "B"},
      {R"({"prompt":"p","answer_a":"A","answer_b":"B","preference":"model_a"})", "A"},
      {R"({"prompt":"p","answer_a":"A","answer_b":"B","winner":"model_b"})", "B"},
      {R"({"prompt":"p","answer_a":"A","answer_b":"B","winner":"Response_B"})", "B"},
      {R"({"question":"p","response_1":"A","response_2":"B","label":1})", "A"},
      {R"({"question":"p","response_1":"A","response_2":"B","label":2})", "B"},
      {R"({"question":"p","response_1":"A","response_2":"B","label":"2"})", "B"},
      // "label" comes before "winner".
      {R"({"prompt":"p","response_a":"A","response_b":"B","label":"a","winner":"model_b"})", "A"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.row);
    PreferencePair p = pref(c.row);
    EXPECT_EQ(p.prompt, "p");
    EXPECT_EQ(p.chosen, c.chosen);
    EXPECT_EQ(p.rejected, std::string(c.chosen) == "A" ? "B" : "A");
  }
}

TEST(PreferencePairTest, AbErrors) {
  EXPECT_EQ(prefError(R"({"prompt":"p","response_a":"A","response_b":"B","winner":"tie"})"),
            "f.jsonl:7: the label 'tie' is a tie, not a preference (field 'winner')");
  EXPECT_EQ(prefError(R"j({"prompt":"p","response_a":"A","response_b":"B","winner":"tie (bothbad)"})j"),
            "f.jsonl:7: the label 'tie (bothbad)' is a tie, not a preference (field 'winner')");
  EXPECT_EQ(prefError(R"({"prompt":"p","response_a":"A","response_b":"B","label":"C"})"),
            "f.jsonl:7: unknown label 'C': expected A/B, a/b, model_a/model_b, or 0 or 1 (0 = A) (field 'label')");
  EXPECT_EQ(prefError(R"({"prompt":"p","response_a":"A","response_b":"B","label":2})"),
            "f.jsonl:7: unknown label 2: expected 0 or 1 (0 = A) (field 'label')");
  EXPECT_EQ(prefError(R"({"prompt":"p","response_1":"A","response_2":"B","label":0})"),
            "f.jsonl:7: unknown label 0: expected 1 or 2 (with response_1/response_2) (field 'label')");
  EXPECT_EQ(prefError(R"({"prompt":"p","response_a":"A","response_b":"B","label":0.5})"),
            "f.jsonl:7: unknown label 0.5: expected 0 or 1 (0 = A) (field 'label')");
  EXPECT_EQ(prefError(R"({"prompt":"p","response_a":"A","response_b":"B","label":true})"),
            "f.jsonl:7: expected a string or an integer label, got a boolean (field 'label')");
  EXPECT_EQ(prefError(R"({"prompt":"p","response_a":"A","response_b":"B"})"),
            "f.jsonl:7: required field is missing: expected one of 'label', 'preference', 'winner' for an A/B pair "
            "(field 'label')");
  EXPECT_EQ(prefError(R"({"prompt":"p","response_a":"A","label":"A"})"),
            "f.jsonl:7: required field is missing ('response_a' is present) (field 'response_b')");
  EXPECT_EQ(prefError(R"({"prompt":"p","response_a":"A","response_b":7,"label":"A"})"),
            "f.jsonl:7: expected a string, got an integer (field 'response_b')");
  EXPECT_EQ(prefError(R"({"response_a":"A","response_b":"B","label":"A"})"),
            "f.jsonl:7: required field is missing: expected 'prompt' or 'question' (field 'prompt')");
}

// --- response pairs ---

TEST(ResponsePairTest, Shapes) {
  ResponsePair r = parseResponsePair(row(R"({"prompt":"p","response_a":"A","response_b":"B","label":"B"})"), kSrc);
  EXPECT_EQ(r.prompt, "p");
  EXPECT_EQ(r.response_a, "A");  // the label is ignored: order stays as given
  EXPECT_EQ(r.response_b, "B");
  EXPECT_EQ(r.source, kSrc);
  r = parseResponsePair(row(R"({"question":"q","responses":["x","y"],"system":"S","category":"c"})"), kSrc);
  EXPECT_EQ(r.prompt, "q");
  EXPECT_EQ(r.system, std::optional<std::string>("S"));
  EXPECT_EQ(r.response_a, "x");
  EXPECT_EQ(r.response_b, "y");
  EXPECT_EQ(r.category, "c");
  r = parseResponsePair(row(R"({"prompt":"p","response_1":"one","response_2":"two"})"), kSrc);
  EXPECT_EQ(r.response_a, "one");
  EXPECT_EQ(r.response_b, "two");
}

TEST(ResponsePairTest, Errors) {
  auto error = [](const char* text) { return dataErrorOf([&] { parseResponsePair(row(text), kSrc); }); };
  EXPECT_EQ(error(R"({"prompt":"p","responses":["x","y","z"]})"),
            "f.jsonl:7: expected exactly 2 responses, got 3 (field 'responses')");
  EXPECT_EQ(error(R"({"prompt":"p","responses":["x",{}]})"),
            "f.jsonl:7: expected a string, got an object (field 'responses[1]')");
  EXPECT_EQ(error(R"({"prompt":"p","responses":"x"})"),
            "f.jsonl:7: expected a list of two strings, got a string (field 'responses')");
  EXPECT_EQ(error(R"({"prompt":"p","chosen":"x","rejected":"y"})"),
            "f.jsonl:7: no response pair: expected 'response_a'/'response_b' (or answer_a/answer_b, "
            "response_1/response_2) or 'responses' (field 'response_a')");
  EXPECT_EQ(error(R"({"responses":["x","y"]})"),
            "f.jsonl:7: required field is missing: expected 'prompt' or 'question' (field 'prompt')");
}

// --- prompts ---

TEST(PromptTest, Shapes) {
  PromptExample p = parsePrompt(row(R"({"prompt":"p"})"), kSrc);
  EXPECT_EQ(p.prompt, "p");
  EXPECT_FALSE(p.reference.has_value());
  EXPECT_FALSE(p.system.has_value());
  p = parsePrompt(row(R"({"question":"q","answer":"#### 4","system":"S"})"), kSrc);
  EXPECT_EQ(p.prompt, "q");
  EXPECT_EQ(p.reference, std::optional<std::string>("#### 4"));
  EXPECT_EQ(p.system, std::optional<std::string>("S"));
  p = parsePrompt(row(R"({"messages":[{"role":"system","content":"S"},{"role":"user","content":"u"}]})"), kSrc);
  EXPECT_EQ(p.system, std::optional<std::string>("S"));
  EXPECT_EQ(p.prompt, "u");
  EXPECT_FALSE(p.reference.has_value());
  // A final assistant turn is the reference unless a reference key is given.
  p = parsePrompt(row(R"({"messages":[{"role":"user","content":"u"},{"role":"assistant","content":"a"}]})"), kSrc);
  EXPECT_EQ(p.reference, std::optional<std::string>("a"));
  p = parsePrompt(row(R"({"messages":[{"role":"user","content":"u"},{"role":"assistant","content":"a"}],
                          "solution":"s"})"),
                  kSrc);
  EXPECT_EQ(p.reference, std::optional<std::string>("s"));
  p = parsePrompt(row(R"({"prompt":[{"role":"user","content":"u"}]})"), kSrc);
  EXPECT_EQ(p.prompt, "u");
}

TEST(PromptTest, ReferenceKeys) {
  auto ref = [](const char* text) { return parsePrompt(row(text), kSrc).reference; };
  EXPECT_EQ(ref(R"({"prompt":"p","reference":"r","answer":"a","label":"l","solution":"s"})"), "r");
  EXPECT_EQ(ref(R"({"prompt":"p","answer":"a","label":"l","solution":"s"})"), "a");
  EXPECT_EQ(ref(R"({"prompt":"p","label":"l","solution":"s"})"), "l");
  EXPECT_EQ(ref(R"({"prompt":"p","label":3,"solution":"s"})"), "s");  // a non-string label is not a reference
  EXPECT_EQ(ref(R"({"prompt":"p","label":3})"), std::nullopt);
  EXPECT_EQ(ref(R"({"prompt":"p","answer":42})"), "42");
  EXPECT_EQ(ref(R"({"prompt":"p","answer":2.5})"), "2.5");
  EXPECT_EQ(ref(R"({"prompt":"p","reference":null,"answer":"a"})"), "a");
}

TEST(PromptTest, Errors) {
  auto error = [](const char* text) { return dataErrorOf([&] { parsePrompt(row(text), kSrc); }); };
  EXPECT_EQ(error(R"({"text":"t"})"),
            "f.jsonl:7: required field is missing: expected 'prompt', 'question' or 'messages' (field 'prompt')");
  EXPECT_EQ(error(R"({"prompt":"p","answer":["a"]})"),
            "f.jsonl:7: expected a string or a number, got an array (field 'answer')");
  EXPECT_EQ(
      error(
          R"({"messages":[{"role":"user","content":"u"},{"role":"assistant","content":"a"},{"role":"user","content":"v"}]})"),
      "f.jsonl:7: multi-turn prompts are not supported yet (3 prompt turns; expected an optional system message "
      "and one user message) (field 'messages')");
  EXPECT_EQ(error(R"({"messages":[{"role":"system","content":"s"}]})"),
            "f.jsonl:7: no user message in the prompt turns (field 'messages')");
  EXPECT_EQ(error(R"({"messages":{"role":"user"}})"),
            "f.jsonl:7: expected a message list, got an object (field 'messages')");
}

// --- demonstrations ---

TEST(DemonstrationTest, Shapes) {
  Demonstration d = parseDemonstration(row(R"({"prompt":"p","response":"r","family":"f"})"), kSrc);
  EXPECT_EQ(d.prompt, "p");
  EXPECT_EQ(d.response, "r");
  EXPECT_EQ(d.category, "f");
  d = parseDemonstration(row(R"({"prompt":"p","completion":"c","system":"S"})"), kSrc);
  EXPECT_EQ(d.response, "c");
  EXPECT_EQ(d.system, std::optional<std::string>("S"));
  d = parseDemonstration(row(R"({"messages":[{"role":"system","content":"S"},{"role":"user","content":"u"},
                                             {"role":"assistant","content":"a"}]})"),
                         kSrc);
  EXPECT_EQ(d.system, std::optional<std::string>("S"));
  EXPECT_EQ(d.prompt, "u");
  EXPECT_EQ(d.response, "a");
  d = parseDemonstration(row(R"({"prompt":[{"role":"user","content":"u"}],
                                 "completion":[{"role":"assistant","content":"c"}]})"),
                         kSrc);
  EXPECT_EQ(d.prompt, "u");
  EXPECT_EQ(d.response, "c");
}

TEST(DemonstrationTest, Errors) {
  auto error = [](const char* text) { return dataErrorOf([&] { parseDemonstration(row(text), kSrc); }); };
  EXPECT_EQ(error(R"({"prompt":"p"})"),
            "f.jsonl:7: required field is missing: expected 'response' or 'completion' (field 'response')");
  EXPECT_EQ(error(R"({"text":"t"})"),
            "f.jsonl:7: no demonstration: expected 'prompt' with 'response' or 'completion', or 'messages' "
            "(field 'messages')");
  EXPECT_EQ(error(R"({"messages":[{"role":"user","content":"u"}]})"),
            "f.jsonl:7: the final message must be the assistant's reply, got 'user' (field 'messages[0].role')");
  EXPECT_EQ(error(R"({"messages":[{"role":"assistant","content":"a"}]})"),
            "f.jsonl:7: no user message in the prompt turns (field 'messages')");
  EXPECT_EQ(error(R"({"prompt":"p","response":{"text":"r"}})"),
            "f.jsonl:7: expected a string or a message list, got an object (field 'response')");
  EXPECT_EQ(error(R"({"response":"r"})"),
            "f.jsonl:7: required field is missing: expected 'prompt' or 'question' (field 'prompt')");
}

}  // namespace
}  // namespace gramrl::data
