// Subcommands of the `gramrl` command line. Each add*Commands() registers its subcommands on
// the CLI11 app and sets `run` to the action chosen by the parse; main() calls it.
// Actions return the process exit code and let gramrl::Error escape (main maps it).
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace gramrl::cli {

using Action = std::function<int()>;

void addConfigCommands(CLI::App& app, Action& run);
void addSelftestCommands(CLI::App& app, Action& run);

}  // namespace gramrl::cli
