// Progress reporting interface. Engines report through it; the CLI chooses how to show it (a TTY line with
// items/s, bytes/s and ETA; JSON lines with --progress=json; nothing). The library never prints progress itself.
#pragma once

#include <cstdint>
#include <string>

namespace kbk::util {

struct ProgressState {
  std::string phase;          // "backup", "restore", "upload", ...
  std::string current;        // what is being worked on (resource type, object name)
  uint64_t items_done = 0;
  uint64_t items_total = 0;   // 0 when unknown
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;   // 0 when unknown
  uint64_t warnings = 0;
  uint64_t errors = 0;
};

class ProgressSink {
public:
  virtual ~ProgressSink() = default;
  // May be called often and from several threads; implementations throttle and lock.
  virtual void update(const ProgressState& state) = 0;
  virtual void finish(const ProgressState& state) = 0;
};

// A sink that does nothing.
ProgressSink& null_progress();

}  // namespace kbk::util
