// restic's keep rules as flags (--keep-last, --keep-hourly, ..., --keep-within), declared and read in one place for
// the commands that apply storage/retention.hpp: kbk prune (to backups) and kbk repo forget (to snapshots).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include <kbk/storage/retention.hpp>

namespace kbk::cli {

struct KeepFlags {
  std::string last, hourly, daily, weekly, monthly, yearly, within;
};

// Adds the seven --keep-* options; `noun` is what is kept ("backup" or "snapshot"), `within_help` the --keep-within
// text (what "within" is measured from differs).
void add_keep_flags(CLI::App* cmd, KeepFlags& f, const std::string& noun, const std::string& within_help);

// The keep rules the flags give (expired unset). Throws Fatal(usage) naming a bad count or span. An empty policy
// (no flag given) is the caller's to refuse or accept.
storage::retention::Policy keep_policy(const KeepFlags& f, const std::string& noun);

}  // namespace kbk::cli
