// The body of OpenRLHF's POST /get_reward and of its reply (reward/service/http_endpoint.h), as
// text in and out, without a server: field checks named by field and index, the request limits,
// NaN refused in replies. http_endpoint_test.cc has the endpoint itself.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/core/errors.h"
#include "reward/service/http_endpoint.h"

namespace gramrl::reward {
namespace {

using Json = nlohmann::json;

TEST(ParseGetRewardBody, OlderClientsQueryOnlyAndPromptMismatch) {
  const RequestLimits limits;
  // Before prompts and labels existed, OpenRLHF sent {"query": [...]} alone.
  ScoreRequest request = parseGetRewardBody(R"({"query": ["Q: 1+1? A: 2", ""]})", limits);
  ASSERT_EQ(request.pointwise.size(), 2u);
  EXPECT_EQ(request.pointwise[0].prompt, "");
  EXPECT_EQ(request.pointwise[0].response, "Q: 1+1? A: 2");
  EXPECT_EQ(request.pointwise[1].response, "");
  // Null prompts/labels are absent; number, boolean and null labels become text.
  request = parseGetRewardBody(R"({"query": ["Q? A", "Q? B", "Q? C", "Q? D"], "prompts": ["Q? ", "Q? ", "Q? ", "Q? "],)"
                               R"( "labels": [42, true, null, "x"], "metas": [{"a": 1}]})",
                               limits);
  ASSERT_EQ(request.pointwise.size(), 4u);
  EXPECT_EQ(request.pointwise[0].prompt, "Q? ");
  EXPECT_EQ(request.pointwise[0].response, "A");
  EXPECT_EQ(request.pointwise[1].response, "B");
  EXPECT_EQ(request.pointwise[0].label, "42");
  EXPECT_EQ(request.pointwise[0].reference, "42");
  EXPECT_EQ(request.pointwise[1].label, "true");
  EXPECT_EQ(request.pointwise[2].label, "");
  EXPECT_EQ(request.pointwise[3].reference, "x");
  request = parseGetRewardBody(R"({"query": ["a"], "prompts": null, "labels": null})", limits);
  EXPECT_EQ(request.pointwise.at(0).response, "a");
}

// Issue 15: a query that does not start with its prompt was scored whole (reward near 0) without
// a word; now it is an error naming the item and where they part.
TEST(ParseGetRewardBody, AQueryThatDoesNotStartWithItsPromptIsAnError) {
  const RequestLimits limits;
  try {
    parseGetRewardBody(R"({"query": ["User: hi\nBot: yo", "User: hey\nBot: ok"], )"
                       R"("prompts": ["User: hi\nBot: ", "User: hi\nBot: "]})",
                       limits);
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()),
              "query[1]: does not start with prompts[1] (they differ from byte 7), so the response cannot be told "
              "apart; send query = prompt + response");
  }
  // An empty prompt is a prefix of everything.
  EXPECT_EQ(parseGetRewardBody(R"({"query": ["whole"], "prompts": [""]})", limits).pointwise.at(0).response, "whole");
}

struct BadBody {
  std::string body;
  std::string message;  // a part of the error
};

TEST(ParseGetRewardBody, NamesTheFieldAndIndexOfBadInput) {
  const std::vector<BadBody> cases = {
      {"", "body: not valid JSON"},
      {R"({"query": ["a", )", "body: not valid JSON"},
      {"[1, 2]", "body: expected a JSON object with \"query\", got array"},
      {R"({"prompts": ["a"]})", "query: missing"},
      {R"({"query": null})", "query: missing"},
      {R"({"query": "just one string"})", "query: expected a list of strings, got string"},
      {R"({"query": ["a", 7]})", "query[1]: expected a string, got number"},
      {R"({"query": ["a", "b"], "prompts": ["a"]})", "prompts: 1 entries, but query has 2"},
      {R"({"query": ["a"], "prompts": "a"})", "prompts: expected a list of strings, got string"},
      {R"({"query": ["a", "b"], "prompts": ["a", {"x": 1}]})", "prompts[1]: expected a string, got object"},
      {R"({"query": ["a", "b", "c"], "labels": ["x", "y"]})", "labels: 2 entries, but query has 3"},
      {R"({"query": ["a", "b", "c"], "labels": ["x", "y", ["z"]]})",
       "labels[2]: expected a string, number, boolean or null, got array"},
      {"{\"query\": [\"\xff\"]}", "body: not valid JSON"},   // invalid UTF-8
      {R"({"query": ["\ud800"]})", "body: not valid JSON"},  // a lone surrogate
      {std::string(100, '[') + std::string(100, ']'), "nested deeper than 64"},
  };
  for (const auto& c : cases) {
    try {
      parseGetRewardBody(c.body, RequestLimits{});
      ADD_FAILURE() << "accepted: " << c.body;
    } catch (const RequestTooLarge& e) {
      ADD_FAILURE() << "RequestTooLarge for " << c.body << ": " << e.what();
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos)
          << "body " << c.body << "\n got: " << e.what() << "\n want: " << c.message;
    }
  }
}

TEST(ParseGetRewardBody, RefusesMoreItemsOrTextThanTheLimits) {
  RequestLimits limits;
  limits.max_items = 2;
  limits.max_text_bytes = 10;
  EXPECT_NO_THROW(parseGetRewardBody(R"({"query": ["12345", "67890"]})", limits));
  try {
    parseGetRewardBody(R"({"query": ["a", "b", "c"]})", limits);
    ADD_FAILURE() << "3 items accepted with max_items 2";
  } catch (const RequestTooLarge& e) {
    EXPECT_NE(std::string(e.what()).find("query: 3 items, more than the limit of 2"), std::string::npos) << e.what();
  }
  try {
    // 5 + 6 = 11 bytes of response text > 10.
    parseGetRewardBody(R"({"query": ["12345", "678901"]})", limits);
    ADD_FAILURE() << "11 text bytes accepted with max_text_bytes 10";
  } catch (const RequestTooLarge& e) {
    EXPECT_NE(std::string(e.what()).find("query[1]: the request's text passes 10 bytes"), std::string::npos)
        << e.what();
  }
}

TEST(FormatGetRewardReply, WritesRewardsAndScoresAndRefusesNaN) {
  EXPECT_EQ(Json::parse(formatGetRewardReply({0.5, -1.25})),
            Json::parse(R"({"rewards": [0.5, -1.25], "scores": [0.5, -1.25]})"));
  EXPECT_EQ(Json::parse(formatGetRewardReply({})), Json::parse(R"({"rewards": [], "scores": []})"));
  EXPECT_THROW(formatGetRewardReply({1.0, std::nan("")}), InternalError);
}

}  // namespace
}  // namespace gramrl::reward
