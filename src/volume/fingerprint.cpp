// The metadata fingerprint (fingerprint.hpp).
#include <kbk/volume/fingerprint.hpp>

#include <charconv>
#include <chrono>

#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::volume {

// Only stat -c specifiers GNU coreutils and busybox print alike (%Z %Y %i %f %s %u %g %h %n); no nanoseconds (busybox
// prints none), which the racy rule makes up for. find's and stat's errors go into the same stream: awk flags every
// line that does not start with a number (an error message, the second line of a name with a newline), and a find
// that failed adds one, so the line says "bad" and kbk runs the mover. Only the digest and two numbers leave the pod.
const char* const k_fingerprint_script =
    "if [ \"$6\" != - ]; then fp=; "
    "if command -v find >/dev/null 2>&1 && command -v stat >/dev/null 2>&1 && command -v awk >/dev/null 2>&1 && "
    "command -v sha256sum >/dev/null 2>&1 && command -v date >/dev/null 2>&1; then "
    "f='%Z %Y %i %f %s %u %g %h %n'; if [ \"$6\" = n ]; then f='%Z %Y %f %s %u %g %h %n'; fi; "
    "t=$(date +%s); fp=$(cd \"$7\" 2>/dev/null && { find . -exec stat -c \"$f\" {} + 2>&1 || echo kbk-fail; } | "
    "awk -v t=\"$t\" '{ if ($1 !~ /^[0-9]+$/) b = 1; else if ($1 + 0 > m) m = $1 + 0; print | \"sha256sum\" } "
    "END { close(\"sha256sum\"); if (b) print \"bad\"; else print \"end \" t \" \" m }'); fi; "
    "echo kbk-fp $fp; fi; ";

namespace {

std::optional<int64_t> to_int(std::string_view s) {
  int64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

std::optional<FingerprintProbe> parse_fingerprint_line(std::string_view line) {
  // "kbk-fp HEX - end START MAX": sha256sum's "HEX  -" and awk's last line, joined by the shell's word splitting.
  const std::vector<std::string> words = util::split(line, ' ');
  if (words.size() != 6 || words[0] != "kbk-fp" || words[2] != "-" || words[3] != "end") return std::nullopt;
  if (words[1].size() != 64 || words[1].find_first_not_of("0123456789abcdef") != std::string_view::npos)
    return std::nullopt;
  auto started = to_int(words[4]);
  auto max = to_int(words[5]);
  if (!started || !max) return std::nullopt;
  return FingerprintProbe{*started, std::string(words[1]), *max};
}

bool fingerprint_recordable(const FingerprintProbe& probe) { return probe.max_ctime < probe.started - 1; }

bool fingerprint_unchanged(const repo::Snapshot& parent, const FingerprintProbe& probe, bool inode) {
  const auto& f = parent.fingerprint;
  return f && f->version == k_fingerprint_version && f->inode == inode && !probe.digest.empty() &&
         f->digest == probe.digest;
}

repo::Snapshot unchanged_snapshot(const repo::Snapshot& parent, std::string host,
                                  std::vector<std::pair<std::string, std::string>> tags, std::string backup) {
  repo::Snapshot s;
  const auto now = std::chrono::system_clock::now();
  s.time = util::format_rfc3339(now);
  s.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  s.host = std::move(host);
  s.source = parent.source;
  s.path = parent.path;
  s.tree = parent.tree;
  s.parent = parent.id;
  s.tags = std::move(tags);
  s.backup = std::move(backup);
  s.chunker = parent.chunker;
  s.compression = parent.compression;
  s.summary.files = parent.summary.files;
  s.summary.dirs = parent.summary.dirs;
  s.summary.files_unchanged = parent.summary.files;
  s.summary.bytes_total = parent.summary.bytes_total;
  s.fingerprint = parent.fingerprint;
  return s;
}

}  // namespace kbk::volume
