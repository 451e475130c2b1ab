#include <kbk/util/time.hpp>

#include <cstdio>
#include <ctime>

namespace kbk::util {
namespace {
class SystemClock final : public Clock {
public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
};
}  // namespace

const Clock& system_clock() {
  static SystemClock clock;
  return clock;
}

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_compact(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s) {
  std::tm tm{};
  int y, mo, d, h, mi;
  double sec;
  char tail[16] = {0};
  std::string str(s);
  int n = std::sscanf(str.c_str(), "%d-%d-%dT%d:%d:%lf%15s", &y, &mo, &d, &h, &mi, &sec, tail);
  if (n < 6) return std::nullopt;
  // Only what a system_clock time point (nanoseconds in 64 bits: 1678..2262) can hold: a far year from outside (an
  // S3 listing's LastModified, a marker's timestamp) overflowed from_time_t (signed overflow, found by fuzzing).
  if (y < 1678 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
      !(sec >= 0 && sec < 61))
    return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = static_cast<int>(sec);
  std::time_t tt = timegm(&tm);
  long offset = 0;
  std::string tz(tail);
  if (!tz.empty() && tz != "Z" && tz != "z") {
    int oh = 0, om = 0;
    char sign = tz[0];
    if ((sign == '+' || sign == '-') && std::sscanf(tz.c_str() + 1, "%d:%d", &oh, &om) >= 1 && oh >= 0 && oh <= 23 &&
        om >= 0 && om <= 59) {
      offset = (oh * 3600 + om * 60) * (sign == '+' ? 1 : -1);
    } else {
      return std::nullopt;
    }
  }
  return std::chrono::system_clock::from_time_t(tt - offset);
}

}  // namespace kbk::util
