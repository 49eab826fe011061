// gramrl config check FILE [overrides...] | gramrl config reference
#include <iostream>
#include <string>
#include <vector>

#include "common/config/config_loader.h"
#include "launch/commands.h"
#include "launch/port_check.h"

namespace gramrl::cli {

ConfigCheckArgs splitConfigCheckArgs(const std::vector<std::string>& positional, bool quiet, bool check_ports) {
  ConfigCheckArgs args;
  args.quiet = quiet;
  args.check_ports = check_ports;
  for (const auto& a : positional) (a.find('=') != std::string::npos ? args.overrides : args.files).push_back(a);
  return args;
}

// Each file is checked with every override; the resolved config goes to stdout, errors to
// stderr, one line each.
int runConfigCheck(const ConfigCheckArgs& args) {
  if (args.files.empty()) {
    std::cerr << "error: config check needs at least one config file\n";
    return 2;
  }
  int failed = 0;
  for (const auto& file : args.files) {
    ConfigLoadResult result = checkExperimentConfig(file, args.overrides);
    // NOTE [Ports are checked before anything starts]; only a valid config has ports to try.
    if (result.ok() && args.check_ports) result.issues = checkConfiguredPorts(result.config);
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

int runConfigReference() {
  std::cout << configReferenceMarkdown();
  return 0;
}

}  // namespace gramrl::cli
