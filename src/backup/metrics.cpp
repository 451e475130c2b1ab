// backup create --metrics-file (metrics.hpp).
#include <kbk/backup/metrics.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <kbk/util/fs.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::backup {

namespace {

constexpr std::string_view k_last_success = "kbk_backup_last_success_timestamp_seconds";

// A label value as the text format escapes it: backslash, double quote and line feed.
std::string escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// The value of the last-success sample in an earlier file, or a negative number when there is none.
double previous_success(std::string_view previous) {
  for (std::string_view line : util::split(previous, '\n')) {
    if (line.substr(0, k_last_success.size()) != k_last_success) continue;
    if (line.size() == k_last_success.size() || (line[k_last_success.size()] != '{' && line[k_last_success.size()] != ' '))
      continue;
    const size_t space = line.rfind(' ');
    if (space == std::string_view::npos) continue;
    const std::string value(line.substr(space + 1));
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(value.c_str(), &end);
    if (errno == 0 && end && *end == '\0' && v >= 0) return v;
  }
  return -1;
}

}  // namespace

std::string metrics_text(const RunMetrics& m, std::string_view previous) {
  const std::string labels = "{cluster=\"" + escape(m.cluster) + "\"}";
  std::string out;
  auto gauge = [&](const char* name, const char* help, const std::string& value, const std::string& l) {
    out += std::string("# HELP ") + name + " " + help + "\n";
    out += std::string("# TYPE ") + name + " gauge\n";
    out += std::string(name) + l + " " + value + "\n";
  };
  auto count = [](uint64_t v) { return std::to_string(v); };
  const double last_success = m.success ? m.finished : previous_success(previous);
  gauge("kbk_backup_last_run_timestamp_seconds", "When the last backup run ended (Unix seconds).", number(m.finished),
        labels);
  if (last_success >= 0)
    gauge("kbk_backup_last_success_timestamp_seconds", "When the last successful backup run ended (Unix seconds).",
          number(last_success), labels);
  gauge("kbk_backup_last_run_success", "1 when the last run exited 0 (see --fail-on), else 0.", m.success ? "1" : "0",
        labels);
  gauge("kbk_backup_last_duration_seconds", "How long the last run took.", number(m.finished - m.started), labels);
  gauge("kbk_backup_last_items", "Objects in the last backup.", count(m.items), labels);
  gauge("kbk_backup_last_bytes", "Stored size of the last backup's archive.", count(m.bytes), labels);
  gauge("kbk_backup_last_volumes", "Volumes the last backup's objects name.", count(m.volumes), labels);
  gauge("kbk_backup_last_volumes_with_data", "Volumes whose data is in the last backup (repository or CSI snapshot).",
        count(m.volumes_with_data), labels);
  gauge("kbk_backup_last_volume_bytes", "Logical bytes of the volume data the last backup moved.", count(m.volume_bytes),
        labels);
  gauge("kbk_backup_last_warnings", "Warnings of the last run.", count(m.warnings), labels);
  gauge("kbk_backup_last_errors", "Failures of the last run (items that failed, or 1 when the run failed as a whole).",
        count(m.errors), labels);
  gauge("kbk_backup_last_run_info", "The last run's backup name and phase (Completed, PartiallyFailed, Failed).", "1",
        "{cluster=\"" + escape(m.cluster) + "\",backup=\"" + escape(m.backup) + "\",phase=\"" + escape(m.phase) + "\"}");
  return out;
}

Result<void> write_metrics_file(const std::string& path, const RunMetrics& m) {
  std::string previous;
  if (auto old = util::read_file(path)) previous = std::move(*old);
  auto w = util::write_file_atomic(path, metrics_text(m, previous), 0600);
  if (!w) return unexpected(Errc::io, "--metrics-file " + path + ": " + w.error().message);
  return {};
}

}  // namespace kbk::backup
