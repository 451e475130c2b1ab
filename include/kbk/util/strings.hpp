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
// Go duration syntax as Velero's --ttl takes it: "720h", "1h30m", "90s". nullopt when malformed.
std::optional<double> parse_duration(std::string_view s);

}  // namespace kbk::util
