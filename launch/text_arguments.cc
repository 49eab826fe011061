#include "launch/text_arguments.h"

#include <utility>

#include <CLI/CLI.hpp>

namespace gramrl::cli {
namespace {

struct Declared {
  bool found = false;
  bool takes_value = false;
};

Declared findLong(const CLI::App& sub, const std::string& name) {
  for (const CLI::Option* o : sub.get_options()) {
    if (o->get_positional()) continue;
    for (const auto& l : o->get_lnames()) {
      if (l == name) return {true, o->get_expected_min() > 0};
    }
  }
  return {};
}

Declared findShort(const CLI::App& sub, char name) {
  for (const CLI::Option* o : sub.get_options()) {
    if (o->get_positional()) continue;
    for (const auto& s : o->get_snames()) {
      if (s.size() == 1 && s[0] == name) return {true, o->get_expected_min() > 0};
    }
  }
  return {};
}

}  // namespace

std::vector<std::string> takeTextArguments(std::vector<std::string>& args, const CLI::App& app,
                                           const std::string& subcommand) {
  if (args.size() < 2 || args[1] != subcommand) return {};
  const CLI::App* sub = nullptr;
  try {
    sub = app.get_subcommand(subcommand);
  } catch (const CLI::OptionNotFound&) {
    return {};
  }
  std::vector<std::string> kept(args.begin(), args.begin() + 2);
  std::vector<std::string> texts;
  for (std::size_t i = 2; i < args.size(); ++i) {
    std::string& a = args[i];
    if (a == "--") {
      for (++i; i < args.size(); ++i) texts.push_back(std::move(args[i]));
      break;
    }
    if (a.size() > 2 && a[0] == '-' && a[1] == '-') {
      const auto eq = a.find('=');
      const Declared d = findLong(*sub, a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2));
      if (d.found && d.takes_value && eq == std::string::npos && i + 1 < args.size()) {
        // "--system -be terse": the value is the next argument, whatever it starts with.
        kept.push_back(std::move(a) + "=" + args[++i]);
      } else {
        kept.push_back(std::move(a));  // declared, or a typo that CLI11 will name
      }
      continue;
    }
    if (a.size() >= 2 && a[0] == '-' && a[1] != '-') {
      const Declared d = findShort(*sub, a[1]);
      if (d.found && a.size() == 2) {
        kept.push_back(std::move(a));
        if (d.takes_value && i + 1 < args.size()) {
          // "-t -x": CLI11 would read "-x" as an option; "-t-x" is -t with the value "-x".
          std::string& value = args[++i];
          if (!value.empty() && value[0] == '-') {
            kept.back() += value;
          } else {
            kept.push_back(std::move(value));
          }
        }
        continue;
      }
      if (d.found && d.takes_value) {
        kept.push_back(std::move(a));  // "-n4"
        continue;
      }
    }
    texts.push_back(std::move(a));
  }
  args = std::move(kept);
  return texts;
}

}  // namespace gramrl::cli
