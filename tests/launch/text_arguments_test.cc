// NOTE [Text arguments are not parsed] (launch/text_arguments.h): the texts of a subcommand reach
// it byte for byte, and CLI11 then parses only the options. Checked here against a CLI11 app
// declared like main.cc's tokenize; tests/integration runs the real binary.
#include "launch/text_arguments.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <CLI/CLI.hpp>

namespace gramrl::cli {
namespace {

struct Parsed {
  std::vector<std::string> texts;
  std::string tokenizer, system;
  bool decode = false;
  int64_t n = 1;
};

Parsed parse(std::vector<std::string> args) {
  Parsed p;
  CLI::App app;
  CLI::App* c = app.add_subcommand("tokenize");
  c->add_option("-t,--tokenizer", p.tokenizer);
  c->add_option("--system", p.system);
  c->add_option("-n,--samples", p.n);
  c->add_flag("--decode", p.decode);
  std::vector<std::string> ignored;
  c->add_option("texts", ignored);
  args.insert(args.begin(), {"gramrl", "tokenize"});
  p.texts = takeTextArguments(args, app, "tokenize");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  EXPECT_TRUE(ignored.empty()) << "CLI11 saw a text";
  return p;
}

TEST(TextArguments, BracketsCommasAndDashesArriveUnchanged) {
  const Parsed p =
      parse({"-t", "builtin:bytes", "{x,y}", "[1,2]", "[]", "-v is text", "--decode", "", "-n3", "(a,b)", "-"});
  EXPECT_EQ(p.texts, (std::vector<std::string>{"{x,y}", "[1,2]", "[]", "-v is text", "", "(a,b)", "-"}));
  EXPECT_EQ(p.tokenizer, "builtin:bytes");
  EXPECT_TRUE(p.decode);
  EXPECT_EQ(p.n, 3);
}

TEST(TextArguments, OptionValuesAndTheEndOfOptions) {
  const Parsed p = parse({"--system", "-be brief", "-t", "-odd-dir", "--", "--decode", "-h", "[q]"});
  EXPECT_EQ(p.system, "-be brief");
  EXPECT_EQ(p.tokenizer, "-odd-dir");
  EXPECT_FALSE(p.decode);
  EXPECT_EQ(p.texts, (std::vector<std::string>{"--decode", "-h", "[q]"}));
  EXPECT_EQ(parse({"--system=[s,t]", "-hello"}).system, "[s,t]");
  EXPECT_EQ(parse({"--system=[s,t]", "-hello"}).texts, std::vector<std::string>{"-hello"});
}

TEST(TextArguments, AMistypedLongOptionIsStillAnError) {
  EXPECT_THROW(parse({"--sytem", "x", "text"}), CLI::ParseError);
}

TEST(TextArguments, OtherSubcommandsAreLeftAlone) {
  CLI::App app;
  app.add_subcommand("tokenize");
  std::vector<std::string> args{"gramrl", "config", "check", "[a,b]"};
  EXPECT_TRUE(takeTextArguments(args, app, "tokenize").empty());
  EXPECT_EQ(args.size(), 4u);
}

}  // namespace
}  // namespace gramrl::cli
