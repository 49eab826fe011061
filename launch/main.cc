// gramrl: one command for every role. Thin by design: parse, run the chosen subcommand,
// map exceptions to exit codes (see exitCodeFor in common/core/errors.h).
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "common/core/errors.h"
#include "common/core/logging.h"
#include "launch/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"gramrl: RLHF experiments with GRAM, the generative foundation reward model"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "gramrl 0.1.0");
  gramrl::cli::Action run;
  gramrl::cli::addConfigCommands(app, run);
  gramrl::cli::addSelftestCommands(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run ? run() : 0;
  } catch (const gramrl::Error& e) {
    gramrl::log::error("{}", e.what());
    return gramrl::exitCodeFor(e);
  } catch (const std::exception& e) {
    gramrl::log::error("unexpected error: {}", e.what());
    return 1;
  }
}
