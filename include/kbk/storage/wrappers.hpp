// Backend wrappers: one concern each, implementing Backend around another Backend (kopia's and restic's layering).
//   wrap_bandwidth_limit  caps upload and download throughput (--limit-upload / --limit-download), shared by every
//                         stream of the backend, so parallel parts together stay under the cap. It paces the bytes
//                         handed to writers and taken from readers (an S3 writer sends each buffered part at
//                         full speed; the average over the transfer is what holds).
//   wrap_transfer_progress counts the bytes going through writers and readers and reports them to a
//                         util::ProgressSink (phase "upload" or "download"), for bytes/s on a TTY or as JSON lines.
// Retries live in the S3 backend itself, at the HTTP request, where a request body can be replayed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/storage/backend.hpp>
#include <kbk/util/progress.hpp>

namespace kbk::storage {

// A cap that follows the time of day (--limit-upload 50MiB@08:00-20:00,500MiB): during a window its rate, outside
// every window the base rate. Minutes since local midnight; a window whose end is before its start wraps midnight
// (22:00-06:00). The first window holding a time wins.
struct RateWindow {
  uint64_t bytes_per_second = 0;           // 0 = unlimited during the window
  int start_minute = 0, end_minute = 0;
};
struct RateSchedule {
  uint64_t base = 0;                       // outside the windows; 0 = unlimited
  std::vector<RateWindow> windows;
  bool empty() const { return base == 0 && windows.empty(); }
  uint64_t at(int minute_of_day) const;    // the rate in force at that minute
  std::string describe() const;            // "50.0 MiB/s 08:00-20:00, else 500.0 MiB/s (local time)"
};

struct BandwidthLimits {
  uint64_t upload_bytes_per_second = 0;    // 0 = unlimited
  uint64_t download_bytes_per_second = 0;
  // Time-of-day windows over the rates above (which are then the base rates outside the windows).
  std::vector<RateWindow> upload_windows, download_windows;
};

std::unique_ptr<Backend> wrap_bandwidth_limit(std::unique_ptr<Backend> inner, BandwidthLimits limits);

// The counts of one transfer progress: per direction, bytes moved so far and the bytes expected. Shared by every
// reader and writer of the wrapped backend (thread-safe); the caller keeps it to declare sizes and to finish.
class TransferProgress {
public:
  enum class Direction { upload, download };
  explicit TransferProgress(util::ProgressSink& sink) : m_sink(sink) {}

  // The size the next put_stream(key) will write (a file's size), so bytes_total is known for it; put() of a
  // buffer and get_stream() (from stat) learn their sizes themselves.
  void expect_upload(const std::string& key, uint64_t bytes);
  // Reports the final counts (ProgressSink::finish) of each direction that moved bytes. Call once, at the end.
  void finish();
  util::ProgressState state(Direction d) const;

  // Used by the wrapper.
  struct Transfer {
    Direction direction;
    std::string key;
    uint64_t expected = 0;  // 0 = unknown
    bool known = false;
  };
  std::optional<uint64_t> take_expected_upload(const std::string& key);
  void begin(const Transfer& t);
  void add(Direction d, const std::string& key, uint64_t bytes);
  // A transfer ended: its bytes are final (an unknown size becomes known). moved = bytes it actually moved.
  void end(const Transfer& t, uint64_t moved);

private:
  struct Counts {
    uint64_t done = 0;
    uint64_t total = 0;           // known sizes of started transfers (finished ones at what they moved)
    uint64_t unknown_running = 0; // transfers of unknown size in flight: total is unknown meanwhile
    bool used = false;
  };
  util::ProgressState state_locked(Direction d, const std::string& current) const;
  util::ProgressSink& m_sink;
  mutable std::mutex m_mutex;
  Counts m_counts[2];
  std::map<std::string, uint64_t> m_expected;
};

// Reports every transfer of `inner` to `progress`. get_stream() asks stat() for the size first (one HEAD on S3).
std::unique_ptr<Backend> wrap_transfer_progress(std::unique_ptr<Backend> inner, std::shared_ptr<TransferProgress> progress);

// Fault injection for tests (the repository's crash and fault tests): every `fail_every`-th put fails with a network
// error before anything is stored; every `truncate_every`-th put stores only the first half of the object (as a
// non-atomic store cut off mid-write would) and then fails; every call waits `delay` first. 0 disables a fault.
struct FaultPlan {
  uint32_t fail_every = 0;
  uint32_t truncate_every = 0;
  std::chrono::milliseconds delay{0};
};
std::unique_ptr<Backend> wrap_faults(std::unique_ptr<Backend> inner, FaultPlan plan);

// "500KiB", "10MiB", "1.5M", "2G" (binary units; a bare number is KiB/s, as restic's flags). Errc::config otherwise.
Result<uint64_t> parse_rate(std::string_view text);
// A rate or a schedule: "10MiB", or comma-separated RATE@HH:MM-HH:MM windows with at most one bare RATE for the rest of
// the day ("50MiB@08:00-20:00,500MiB"; without one, the rest of the day is unlimited). Errc::config naming the entry.
Result<RateSchedule> parse_rate_schedule(std::string_view text);

// Wraps `inner` as OpenOptions::settings ask (limit-upload=RATE, limit-download=RATE); unchanged otherwise.
Result<std::unique_ptr<Backend>> apply_wrappers(std::unique_ptr<Backend> inner, const OpenOptions& options);

}  // namespace kbk::storage
