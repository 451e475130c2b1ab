// Small string helpers shared by every module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kbk::util {

std::vector<std::string> split(std::string_view s, char sep, bool skip_empty = true);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
// Shell-style glob: '*' any run, '?' one char, '[...]' classes. Used for namespace and resource filters.
bool glob_match(std::string_view pattern, std::string_view text);
// Percent-encoding for URL query values and path segments (RFC 3986 unreserved kept).
std::string url_encode(std::string_view s);
std::string url_decode(std::string_view s);
std::string hex_encode(const void* data, size_t n);
std::optional<std::string> hex_decode(std::string_view hex);
std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view b64);
// Human formats: 1.5 MiB, 2m3s.
std::string human_bytes(uint64_t bytes);
std::string human_duration(double seconds);
// Text from outside (names and strings read from a backup, a server, a log) as it may be shown on a terminal or
// in a one-line message: control characters (C0, DEL, C1), invalid UTF-8 and the Unicode controls that reorder or
// break displayed text (bidirectional overrides and isolates, line and paragraph separators) are written as
// \xNN or \u{NNNN}; with Newlines::keep, '\n' and '\t' stay as they are (a log's lines). Longer than max_bytes:
// cut there and "..." appended (0 = no limit).
enum class Newlines { escape, keep };
std::string printable(std::string_view s, size_t max_bytes = 0, Newlines newlines = Newlines::escape);
// Whether s is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s);
// The one duration syntax of every duration flag: Go's time.ParseDuration ("300ms", "1.5h", "2h45m", "1m30s";
// units ns, us/µs, ms, s, m, h) plus "d" (24h), and a bare number meaning seconds ("60", kbk's older flags took
// seconds). Seconds; nullopt when malformed or negative.
std::optional<double> parse_duration(std::string_view s);
// Go's Duration.String() at millisecond precision: "720h0m0s", "1m30s", "1.5s", "250ms", "0s".
std::string format_duration(double seconds);
// Seconds rounded to milliseconds, for JSON numbers without float noise (0.031497650000000002 -> 0.031).
double round_seconds(double seconds);
// Levenshtein distance, and the candidates within max_distance of word (or starting with it), closest first:
// "did you mean" for commands, flags and names.
size_t edit_distance(std::string_view a, std::string_view b);
std::vector<std::string> suggestions(std::string_view word, const std::vector<std::string>& candidates,
                                     size_t max_distance = 2);

}  // namespace kbk::util
