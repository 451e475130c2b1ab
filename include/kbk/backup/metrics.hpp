// `backup create --metrics-file FILE`: the run's outcome as a Prometheus text-format file (exposition format 0.0.4),
// for node_exporter's textfile collector or a POST to a Pushgateway, so cron and monitoring see the state of a
// scheduled backup (docs/fleet.md, "Metrics"; the metric names are that page's, version 1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <kbk/util/error.hpp>

namespace kbk::backup {

struct RunMetrics {
  std::string cluster;  // the `cluster` label: the recorded cluster name ("" when none)
  std::string backup;   // the backup's name (a label of kbk_backup_last_run_info only: it changes every run)
  std::string phase;    // Completed, PartiallyFailed, or Failed (the run ended without a complete backup)
  bool success = false;  // the run exited 0 (--fail-on decides whether warnings or a partial failure count)
  double started = 0;    // Unix seconds
  double finished = 0;
  uint64_t items = 0, bytes = 0, volumes = 0, warnings = 0, errors = 0;
  uint64_t volumes_with_data = 0, volume_bytes = 0;  // volumes whose data is in the backup, their logical bytes
};

// The file's text. `previous`: the file as an earlier run left it ("" when none); its
// kbk_backup_last_success_timestamp_seconds is carried over when this run did not succeed, so the time of the last
// success survives failures (alert on `time() - kbk_backup_last_success_timestamp_seconds > 26*3600`).
std::string metrics_text(const RunMetrics& metrics, std::string_view previous);

// Reads the file's previous content (if any), writes metrics_text atomically (a temporary file renamed over it, so
// a collector never reads half a file), mode 0600. Errc::io naming the file.
Result<void> write_metrics_file(const std::string& path, const RunMetrics& metrics);

}  // namespace kbk::backup
