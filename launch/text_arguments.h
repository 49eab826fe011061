// Free text on the command line (the texts of `gramrl tokenize`, the prompts of `gramrl
// generate`) must reach the program byte for byte. CLI11 does not promise that: it splits a
// vector argument written "[a,b]" into "a" and "b" (and "[]" into nothing), and reads text that
// starts with '-' as options ("-hello" is -h, the help). So these arguments are taken out of
// argv before CLI11 parses it.
//
// NOTE [Text arguments are not parsed]
// In the named subcommand, an argument is an option only when it is "--name", "--name=value",
// "-x" or "-xVALUE" for an option the subcommand declares (and the argument after a value-taking
// "--name" or "-x" is that option's value, whatever it starts with). "--" ends the options.
// Everything else is text, in order: "-x" for an undeclared x, "[a,b]", "". An undeclared
// "--name" is left to CLI11, which refuses it (a typo of an option must not become a prompt); text
// that starts with "--", or is exactly a declared option, goes after "--".
//
// Threads: plain functions. Throws nothing.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace gramrl::cli {

// When args[1] is `subcommand`, removes its text arguments from `args` (leaving its options for
// CLI11) and returns them; otherwise returns {} and leaves `args` as it is.
std::vector<std::string> takeTextArguments(std::vector<std::string>& args, const CLI::App& app,
                                           const std::string& subcommand);

}  // namespace gramrl::cli
