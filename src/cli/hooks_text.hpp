// The "Hooks:" section of backup describe and restore describe (docs/hooks.md section 5): counts, each pod (its
// window for a backup), and each hook; without details only the hooks that did not end ok.
#pragma once

#include <kbk/json/json.hpp>

namespace kbk::cli {

void print_hooks(const json::Value& hooks, bool details);

}  // namespace kbk::cli
