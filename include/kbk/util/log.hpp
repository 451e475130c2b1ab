// Logging to stderr (and optionally a log file) with kubectl's numeric verbosity and secret redaction.
//
// Levels: errors and warnings always; -v 1..3 informational; -v 4+ debug; -v 6 request URLs; -v 8 headers
// (redacted) and bodies, as kubectl. Every line passes through redact() before it is written, so a secret
// that slips into a message is still masked; code should not rely on that and never log secrets.
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
// Also append every line (at any verbosity up to max(verbosity, 4)) to this file; "" turns it off.
// Returns false with errno set when the file cannot be opened.
bool set_log_file(const std::string& path);
// Extra sink (tests; upload of the run's log). Called with each redacted line.
void set_sink(std::function<void(std::string_view)> sink);

// Called (under the log's lock) just before a line goes to stderr: a progress line redrawn in place on a TTY
// clears itself there, so log lines never land in the middle of it. nullptr removes it.
void set_before_stderr(std::function<void()> hook);

void write(Level level, std::string_view message);
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
