#include <kbk/util/strings.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace kbk::util {

std::vector<std::string> split(std::string_view s, char sep, bool skip_empty) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) pos = s.size();
    std::string_view part = s.substr(start, pos - start);
    if (!part.empty() || !skip_empty) out.emplace_back(part);
    start = pos + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

namespace {
// Matches a [...] class at p (p points after '['); sets consumed to the class length incl. ']'.
bool match_class(std::string_view p, char c, size_t& consumed, bool& ok) {
  size_t i = 0;
  bool negate = false;
  if (i < p.size() && (p[i] == '!' || p[i] == '^')) {
    negate = true;
    ++i;
  }
  bool matched = false;
  bool first = true;
  while (i < p.size() && (first || p[i] != ']')) {
    first = false;
    char lo = p[i];
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      char hi = p[i + 2];
      if (c >= lo && c <= hi) matched = true;
      i += 3;
    } else {
      if (c == lo) matched = true;
      ++i;
    }
  }
  if (i >= p.size()) {  // no closing bracket: treat '[' literally
    ok = false;
    return false;
  }
  ok = true;
  consumed = i + 1;
  return matched != negate;
}
}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      char pc = pattern[p];
      if (pc == '*') {
        star_p = p++;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        size_t consumed = 0;
        bool well_formed = false;
        bool m = match_class(pattern.substr(p + 1), text[t], consumed, well_formed);
        if (well_formed) {
          if (m) {
            p += 1 + consumed;
            ++t;
            continue;
          }
        } else if (text[t] == '[') {
          ++p;
          ++t;
          continue;
        }
      } else if (pc == text[t]) {
        ++p;
        ++t;
        continue;
      }
    }
    if (star_p != std::string_view::npos) {
      p = star_p + 1;
      t = ++star_t;
      continue;
    }
    return false;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string url_encode(std::string_view s) {
  static const char* k_hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += k_hex[c >> 4];
      out += k_hex[c & 15];
    }
  }
  return out;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string hex_encode(const void* data, size_t n) {
  static const char* k_hex = "0123456789abcdef";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = k_hex[p[i] >> 4];
    out[2 * i + 1] = k_hex[p[i] & 15];
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = val(hex[2 * i]), lo = val(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::string base64_encode(std::string_view data) {
  static const char* k_tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(data[i])) << 16) | (uint32_t(uint8_t(data[i + 1])) << 8) | uint8_t(data[i + 2]);
    out += k_tab[(v >> 18) & 63];
    out += k_tab[(v >> 12) & 63];
    out += k_tab[(v >> 6) & 63];
    out += k_tab[v & 63];
  }
  if (i < data.size()) {
    uint32_t v = uint32_t(uint8_t(data[i])) << 16;
    if (i + 1 < data.size()) v |= uint32_t(uint8_t(data[i + 1])) << 8;
    out += k_tab[(v >> 18) & 63];
    out += k_tab[(v >> 12) & 63];
    out += (i + 1 < data.size()) ? k_tab[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view b64) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : b64) {
    if (c == '\n' || c == '\r' || c == ' ') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) return std::nullopt;  // data after padding
    int v = val(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (pad > 2) return std::nullopt;
  return out;
}

std::string human_bytes(uint64_t bytes) {
  static const char* k_units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, k_units[u]);
  return buf;
}

std::string human_duration(double seconds) {
  char buf[48];
  if (seconds < 1) {
    std::snprintf(buf, sizeof buf, "%dms", static_cast<int>(std::lround(seconds * 1000)));
  } else if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else if (seconds < 3600) {
    long s = std::lround(seconds);
    std::snprintf(buf, sizeof buf, "%ldm%lds", s / 60, s % 60);
  } else {
    long s = std::lround(seconds);
    std::snprintf(buf, sizeof buf, "%ldh%ldm%lds", s / 3600, (s % 3600) / 60, s % 60);
  }
  return buf;
}

std::optional<double> parse_duration(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  if (s[0] == '+') s.remove_prefix(1);
  if (s.empty() || s[0] == '-') return std::nullopt;  // no negative spans
  // A bare number is seconds (kbk's flags took seconds before they took durations: --crd-timeout 60).
  if (s.find_first_not_of("0123456789.") == std::string_view::npos) {
    if (s == "." || std::count(s.begin(), s.end(), '.') > 1) return std::nullopt;
    try {
      return std::stod(std::string(s));
    } catch (...) {
      return std::nullopt;
    }
  }
  double total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    std::string_view number = s.substr(start, i - start);
    if (number.empty() || number == "." || std::count(number.begin(), number.end(), '.') > 1) return std::nullopt;
    double num = 0;
    try {
      num = std::stod(std::string(number));
    } catch (...) {
      return std::nullopt;
    }
    size_t ustart = i;
    while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.') ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    double mult = 0;
    if (unit == "h") mult = 3600;
    else if (unit == "m") mult = 60;
    else if (unit == "s") mult = 1;
    else if (unit == "ms") mult = 1e-3;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") mult = 1e-6;  // us, µs (U+00B5, U+03BC)
    else if (unit == "ns") mult = 1e-9;
    else if (unit == "d") mult = 86400;  // not Go, but what people type (--ttl 30d)
    else return std::nullopt;            // a missing unit inside a sequence ("1h30") is an error, as in Go
    total += num * mult;
  }
  return total;
}

std::string format_duration(double seconds) {
  if (!(seconds > 0)) return "0s";
  if (seconds < 1) {
    // Milliseconds with up to three decimals (Go prints "1.5ms", "250ms", "750µs"; kbk keeps ms).
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", seconds * 1000);
    std::string s = buf;
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s + "ms";
  }
  // Whole milliseconds, so 1.5 stays "1.5s" and float noise never shows.
  const auto ms = static_cast<int64_t>(std::llround(seconds * 1000));
  const int64_t h = ms / 3600000, m = (ms / 60000) % 60, sec = (ms / 1000) % 60, frac = ms % 1000;
  std::string out;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(sec);
  if (frac) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(frac));
    std::string f = buf;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "s";
}

double round_seconds(double seconds) { return std::round(seconds * 1000) / 1000; }

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> suggestions(std::string_view word, const std::vector<std::string>& candidates,
                                     size_t max_distance) {
  std::vector<std::pair<size_t, std::string>> scored;
  const std::string lower = to_lower(word);
  for (const auto& c : candidates) {
    if (c == word) continue;
    const std::string lc = to_lower(c);
    size_t d = edit_distance(lower, lc);
    // A prefix of a candidate counts as close ("cre" -> "create"), as cobra's suggestions do; so does a word that
    // only adds a suffix to the candidate ("--include-namespacess").
    const bool prefix = lower.size() >= 2 && starts_with(lc, lower);
    if (d <= max_distance || prefix) scored.emplace_back(prefix ? std::min<size_t>(d, 1) : d, c);
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (auto& [d, c] : scored)
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(std::move(c));
  return out;
}

namespace {

// The length of the UTF-8 sequence at s[i] and its code point, or 0 when it is not valid UTF-8.
size_t utf8_at(std::string_view s, size_t i, uint32_t& cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n = 0;
  uint32_t min = 0;
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F, min = 0x800;
  else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07, min = 0x10000;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

bool hides_text(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) ||                      // C1 controls (CSI is 0x9B)
         cp == 0x061C || cp == 0x200E || cp == 0x200F ||    // direction marks
         (cp >= 0x202A && cp <= 0x202E) ||                  // embeddings and overrides
         (cp >= 0x2066 && cp <= 0x2069) ||                  // isolates
         cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF;      // line/paragraph separators, BOM
}

}  // namespace

bool valid_utf8(std::string_view s) {
  uint32_t cp = 0;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_at(s, i, cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string printable(std::string_view s, size_t max_bytes, Newlines newlines) {
  std::string out;
  out.reserve(std::min(s.size(), max_bytes ? max_bytes : s.size()) + 8);
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    if (max_bytes && out.size() >= max_bytes) {
      out += "...";
      break;
    }
    uint32_t cp = 0;
    size_t n = utf8_at(s, i, cp);
    if (n == 0) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(s[i])));
      out += buf;
      ++i;
      continue;
    }
    if (n == 1 && (cp < 0x20 || cp == 0x7F)) {
      if (newlines == Newlines::keep && (cp == '\n' || cp == '\t')) out += static_cast<char>(cp);
      else {
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
        out += buf;
      }
    } else if (hides_text(cp)) {
      std::snprintf(buf, sizeof buf, "\\u{%04x}", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace kbk::util
