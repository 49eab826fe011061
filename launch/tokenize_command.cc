// gramrl tokenize [--chat-template NAME [--system TEXT]] [--decode] [--jsonl] TEXT...
#include "launch/tokenize_command.h"

#include <algorithm>
#include <cctype>
#include <iostream>

#include <nlohmann/json.hpp>

#include "common/core/errors.h"
#include "common/tokenizer/chat_template.h"
#include "common/tokenizer/tokenizer.h"
#include "common/tokenizer/unicode.h"

namespace gramrl::cli {
namespace {

// ordered_json keeps the keys in the documented order (text, ids, pieces).
using json = nlohmann::ordered_json;
using tokenizer::TokenId;

// JSON text of a string; bytes that are not UTF-8 become U+FFFD instead of an exception.
std::string quoted(const std::string& s) { return json(s).dump(-1, ' ', false, json::error_handler_t::replace); }

// "1 2 3", "1,2,3" or "[1, 2, 3]" -> ids.
std::vector<TokenId> parseIds(const std::string& line, size_t number) {
  auto isSeparator = [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '[' || c == ']';
  };
  auto isDigit = [](char c) { return c >= '0' && c <= '9'; };
  std::vector<TokenId> ids;
  for (size_t pos = 0; pos < line.size();) {
    if (isSeparator(line[pos])) {
      ++pos;
      continue;
    }
    size_t end = pos;
    while (end < line.size() && !isSeparator(line[end])) ++end;
    const std::string word = line.substr(pos, end - pos);
    const bool digits = word.size() <= 10 && std::all_of(word.begin(), word.end(), isDigit);
    GRAMRL_CHECK(digits && std::stoll(word) <= INT32_MAX, DataError, "input {}: \"{}\" is not a token id", number,
                 word);
    ids.push_back(static_cast<TokenId>(std::stoll(word)));
    pos = end;
  }
  return ids;
}

void printEncoding(const tokenizer::Tokenizer& tok, const std::string& text, const std::vector<TokenId>& ids,
                   bool jsonl, std::ostream& out) {
  std::vector<std::string> pieces;
  pieces.reserve(ids.size());
  for (TokenId id : ids) pieces.push_back(tok.idToPiece(id));
  if (jsonl) {
    json line = {{"text", text}, {"ids", ids}, {"pieces", pieces}};
    out << line.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    return;
  }
  out << "text:   " << quoted(text) << "\n";
  out << "ids:    " << json(ids).dump() << "  (" << ids.size() << (ids.size() == 1 ? " token)\n" : " tokens)\n");
  out << "pieces: [";
  for (size_t i = 0; i < pieces.size(); ++i) out << (i ? ", " : "") << quoted(pieces[i]);
  out << "]\n\n";
}

}  // namespace

int runTokenize(const TokenizeArgs& args, std::istream& in, std::ostream& out) {
  // A system message has no place in plain text: ignoring it would encode other text than asked.
  GRAMRL_CHECK(args.system.empty() || !args.chat_template.empty(), ConfigError,
               "tokenize: --system needs --chat-template (a template name or auto) to put it in; without a "
               "template the input is encoded as plain text");
  const std::unique_ptr<tokenizer::Tokenizer> tok = tokenizer::loadTokenizer(args.tokenizer);
  std::string chat_template = args.chat_template;
  if (chat_template == "auto") {
    chat_template = tok->chatTemplateName();
    GRAMRL_CHECK(!chat_template.empty(), ConfigError,
                 "--chat-template auto: the chat template of {} is not one we know; name one explicitly",
                 tok->source());
  }

  auto handle = [&](const std::string& input, size_t number) {
    if (args.decode) {
      const std::vector<TokenId> ids = parseIds(input, number);
      const std::string text = tokenizer::toValidUtf8(tok->decode(ids));
      if (args.jsonl) {
        out << json{{"ids", ids}, {"text", text}}.dump() << "\n";
      } else {
        out << text << "\n";
      }
      return;
    }
    if (chat_template.empty()) {
      printEncoding(*tok, input, tok->encode(input, args.add_special_tokens), args.jsonl, out);
      return;
    }
    tokenizer::ChatMessages messages;
    if (!args.system.empty()) messages.system = args.system;
    messages.user = input;
    const std::string prompt = tokenizer::renderChat(chat_template, messages);
    printEncoding(*tok, prompt, tok->encode(prompt, /*add_special_tokens=*/false), args.jsonl, out);
  };

  if (!args.texts.empty()) {
    for (size_t i = 0; i < args.texts.size(); ++i) handle(args.texts[i], i + 1);
  } else {
    std::string line;
    for (size_t number = 1; std::getline(in, line); ++number) handle(line, number);
  }
  out.flush();
  return 0;
}

int runTokenize(const TokenizeArgs& args) { return runTokenize(args, std::cin, std::cout); }

}  // namespace gramrl::cli
