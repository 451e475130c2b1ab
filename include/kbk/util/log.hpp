// Logging to stderr (and optionally a log file) with kubectl's numeric verbosity and secret redaction.
//
// Levels: errors and warnings always; -v 1..3 informational; -v 4+ debug; -v 6 request URLs; -v 8 headers
// (redacted) and bodies, as kubectl. Every line passes through redact() before it is written, so a secret
// that slips into a message is still masked; code should not rely on that and never log secrets.
//
// Two audiences: stderr is for the person at the terminal ("kbk: warning: ..." lines, only what -v asks for);
// the log file (--log-file) and sinks (the stored backup and restore logs) are read later, by cron users and by
// `kbk backup logs`, so they get every line up to max(-v, 2) (errors, warnings, info and per-item detail) with an
// RFC 3339 timestamp and a level: "2026-11-26T07:16:34.123Z INFO  backup nightly: collecting".
#pragma once

#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>

namespace kbk::log {

enum class Level { error, warning, info, debug };

void set_verbosity(int v);
int verbosity();
bool enabled(int v);
// Also append every line up to max(verbosity, 2) to this file, timestamped (format_line); "" turns it off.
// Returns false with errno set when the file cannot be opened.
bool set_log_file(const std::string& path);
// Extra sink (tests; upload of the run's log). Called with each redacted, timestamped line (as the log file).
void set_sink(std::function<void(std::string_view)> sink);
// The verbosity up to which the log file and sinks take info lines: max(verbosity, 2).
int recorded_verbosity();
// "2026-11-26T07:16:34.123Z WARN  message\n": a line of the log file and of stored logs, at the current time.
std::string format_line(Level level, std::string_view message);
const char* level_name(Level level);  // ERROR, WARN, INFO, DEBUG

// Called (under the log's lock) just before a line goes to stderr: a progress line redrawn in place on a TTY
// clears itself there, so log lines never land in the middle of it. nullptr removes it.
void set_before_stderr(std::function<void()> hook);

void write(Level level, std::string_view message);
// A line for the log file and stored logs that stderr shows only at -v >= stderr_v: per-item outcomes a command's
// summary lists on stdout anyway, so a terminal never shows the same failure twice.
void record(Level level, std::string_view message, int stderr_v = 2);
void error(std::string_view message);
void warning(std::string_view message);
// Printed once per distinct text for the life of the process (server Warning headers, "unencrypted Secrets").
void warning_once(std::string_view message);
void info(int v, std::string_view message);
void debug(std::string_view message);

// Masks secrets: Authorization/Proxy-Authorization/X-Amz-Security-Token/Cookie header values, bearer tokens,
// "token":"..." / "password":"..." JSON members, AWS secret-like query values (X-Amz-Signature, X-Amz-Credential
// keeps the key id prefix only), PEM private key blocks.
std::string redact(std::string_view text);

}  // namespace kbk::log
