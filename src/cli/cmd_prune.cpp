// Placeholder until the command lands; registers nothing.
#include "commands.hpp"

namespace kbk::cli {
void register_prune(CLI::App&, GlobalOptions&, RunState&) {}
}  // namespace kbk::cli
