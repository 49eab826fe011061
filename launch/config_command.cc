// gramrl config check FILE [overrides...] | gramrl config reference
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/config/config_loader.h"
#include "launch/commands.h"

namespace gramrl::cli {
namespace {

struct ConfigCheckArgs {
  std::vector<std::string> positional;  // as given; split into files and overrides after parsing
  std::vector<std::string> files;
  std::vector<std::string> overrides;
  bool quiet = false;
};

// Positional arguments containing '=' are overrides; the others are config files. Each file is
// checked with every override; the resolved config goes to stdout, errors to stderr.
int runConfigCheck(const ConfigCheckArgs& args) {
  int failed = 0;
  for (const auto& file : args.files) {
    ConfigLoadResult result = checkExperimentConfig(file, args.overrides);
    if (result.ok()) {
      if (!args.quiet) {
        if (args.files.size() > 1) std::cout << "# " << file << "\n";
        std::cout << toYaml(result.config);
      }
      std::cerr << file << ": ok\n";
      continue;
    }
    ++failed;
    for (const auto& issue : result.issues) std::cerr << "error: " << issue.describe() << "\n";
    std::cerr << file << ": " << result.issues.size() << " error" << (result.issues.size() == 1 ? "" : "s") << "\n";
  }
  return failed == 0 ? 0 : 2;
}

}  // namespace

void addConfigCommands(CLI::App& app, Action& run) {
  CLI::App* config = app.add_subcommand("config", "Check experiment configs and print the config reference");
  config->require_subcommand(1);

  auto args = std::make_shared<ConfigCheckArgs>();
  CLI::App* check = config->add_subcommand(
      "check", "Validate config files (with dotted overrides such as learner.ppo.clip=0.1) and print the resolved config");
  check->add_option("args", args->positional, "Config files and section.key=value overrides")->required();
  check->add_flag("-q,--quiet", args->quiet, "Print only ok or the errors, not the resolved config");
  check->callback([&run, args]() {
    args->files.clear();
    args->overrides.clear();
    for (const auto& a : args->positional) {
      (a.find('=') != std::string::npos ? args->overrides : args->files).push_back(a);
    }
    run = [args]() {
      if (args->files.empty()) {
        std::cerr << "error: config check needs at least one config file\n";
        return 2;
      }
      return runConfigCheck(*args);
    };
  });

  CLI::App* reference = config->add_subcommand("reference", "Print every config key with its type, default and meaning (markdown)");
  reference->callback([&run]() {
    run = []() {
      std::cout << configReferenceMarkdown();
      return 0;
    };
  });
}

}  // namespace gramrl::cli
