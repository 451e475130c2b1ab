// Time helpers and the Clock interface (tests substitute a fake clock).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kbk::util {

class Clock {
public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
};
const Clock& system_clock();

// RFC 3339 UTC with whole seconds, as Kubernetes writes: 2026-11-26T07:16:34Z.
std::string format_rfc3339(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s);
// YYYYMMDDhhmmss in UTC, for default restore names.
std::string format_compact(std::chrono::system_clock::time_point t);

}  // namespace kbk::util
