#include <kbk/util/log.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <regex>
#include <set>

#include <kbk/util/strings.hpp>

namespace kbk::log {
namespace {

std::atomic<int> g_verbosity{0};
std::mutex g_mutex;
FILE* g_file = nullptr;
std::function<void(std::string_view)> g_sink;
std::function<void()> g_before_stderr;
std::set<std::string> g_once;

const char* prefix(Level level) {
  switch (level) {
    case Level::error: return "error: ";
    case Level::warning: return "warning: ";
    case Level::info: return "";
    case Level::debug: return "debug: ";
  }
  return "";
}

}  // namespace

void set_verbosity(int v) { g_verbosity = v; }
int verbosity() { return g_verbosity; }
bool enabled(int v) { return g_verbosity >= v; }

bool set_log_file(const std::string& path) {
  std::lock_guard lock(g_mutex);
  if (g_file) {
    std::fclose(g_file);
    g_file = nullptr;
  }
  if (path.empty()) return true;
  // 0600 like every file kbk writes: a log names objects, hosts and errors of the cluster.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) return false;
  g_file = ::fdopen(fd, "a");
  if (!g_file) {
    int e = errno;
    ::close(fd);
    errno = e;
  }
  return g_file != nullptr;
}

void set_sink(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(g_mutex);
  g_sink = std::move(sink);
}

void set_before_stderr(std::function<void()> hook) {
  std::lock_guard lock(g_mutex);
  g_before_stderr = std::move(hook);
}

const char* level_name(Level level) {
  switch (level) {
    case Level::error: return "ERROR";
    case Level::warning: return "WARN";
    case Level::info: return "INFO";
    case Level::debug: return "DEBUG";
  }
  return "INFO";
}

int recorded_verbosity() { return std::max(g_verbosity.load(), 2); }

std::string format_line(Level level, std::string_view message) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t tt = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char stamp[48];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  char head[80];
  std::snprintf(head, sizeof head, "%s.%03dZ %-5s ", stamp, static_cast<int>(ms), level_name(level));
  std::string line = head;
  line += message;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  line += '\n';
  return line;
}

namespace {

// to_stderr: the line goes to the terminal too; the file and the sinks always get it (callers check the level).
void emit(Level level, std::string_view message, bool to_stderr) {
  if (!to_stderr) {
    std::lock_guard lock(g_mutex);
    if (!g_file && !g_sink) return;  // nobody records it: skip the redaction
  }
  // Messages carry names and text from outside (archive entries, server messages): what could move the cursor,
  // recolour the terminal or fake another line is escaped. Errors and warnings are one line; debug output
  // (request and response bodies at -v 8) keeps its newlines.
  if (!message.empty() && message.back() == '\n') message.remove_suffix(1);
  const bool one_line = level == Level::error || level == Level::warning;
  const std::string text =
      util::printable(redact(message), 0, one_line ? util::Newlines::escape : util::Newlines::keep);
  std::string line;
  if (to_stderr) {
    line = "kbk: ";
    line += prefix(level);
    line += text;
    if (line.empty() || line.back() != '\n') line += '\n';
  }
  std::lock_guard lock(g_mutex);
  if (to_stderr) {
    if (g_before_stderr) g_before_stderr();
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  if (g_file || g_sink) {
    const std::string stamped = format_line(level, text);
    if (g_file) {
      std::fwrite(stamped.data(), 1, stamped.size(), g_file);
      std::fflush(g_file);
    }
    if (g_sink) g_sink(stamped);
  }
}

}  // namespace

void write(Level level, std::string_view message) { emit(level, message, true); }

void record(Level level, std::string_view message, int stderr_v) { emit(level, message, enabled(stderr_v)); }

void error(std::string_view message) { write(Level::error, message); }
void warning(std::string_view message) { write(Level::warning, message); }

void warning_once(std::string_view message) {
  {
    std::lock_guard lock(g_mutex);
    if (!g_once.emplace(message).second) return;
  }
  write(Level::warning, message);
}

void info(int v, std::string_view message) {
  if (enabled(v)) emit(Level::info, message, true);
  else if (v <= recorded_verbosity()) emit(Level::info, message, false);  // the log file and stored logs only
}

void debug(std::string_view message) {
  if (enabled(4)) write(Level::debug, message);
}

namespace {

// The "data" and "stringData" objects of a text that holds a Secret (a response body logged at -v 8: a Secret, a
// SecretList, a watch event): each becomes {[REDACTED]}. Strings are skipped as strings, so a brace inside a value
// does not end the object; an object cut off (a body truncated for the log) is masked to the end.
std::string mask_secret_data(std::string s) {
  if (s.find("\"Secret") == std::string::npos) return s;
  static const std::regex k_is_secret(R"re("kind"\s*:\s*"Secret(List)?")re");
  if (!std::regex_search(s, k_is_secret)) return s;
  static const std::regex k_member(R"re("(?:data|stringData)"\s*:\s*\{)re");
  std::string out;
  size_t from = 0;
  std::smatch m;
  std::string::const_iterator it = s.cbegin();
  while (std::regex_search(it, s.cend(), m, k_member)) {
    const size_t open = static_cast<size_t>(m[0].second - s.cbegin()) - 1;  // the '{'
    out.append(s, from, open - from);
    int depth = 0;
    bool in_string = false;
    size_t i = open;
    for (; i < s.size(); ++i) {
      const char c = s[i];
      if (in_string) {
        if (c == '\\') ++i;
        else if (c == '"') in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{') {
        ++depth;
      } else if (c == '}' && --depth == 0) {
        break;
      }
    }
    out += "{[REDACTED]}";
    from = i < s.size() ? i + 1 : s.size();
    it = s.cbegin() + static_cast<std::ptrdiff_t>(from);
  }
  out.append(s, from, std::string::npos);
  return out;
}

}  // namespace

std::string redact(std::string_view text) {
  // Cheap pre-check: most lines hold nothing that looks secret.
  static const char* const k_markers[] = {"uthorization", "earer", "oken", "assword", "ASSWORD", "ecret", "ECRET",
                                          "Signature", "Credential", "PRIVATE KEY", "Cookie", "client-key", "asswd",
                                          "ASSWD", "pwd", "PWD", "_AUTH", "ysql", "YSQL", "ariadb", "ARIADB"};
  bool suspicious = false;
  for (const char* m : k_markers) {
    if (text.find(m) != std::string_view::npos) {
      suspicious = true;
      break;
    }
  }
  if (!suspicious) return std::string(text);
  static const std::regex k_header(
      R"(((?:Proxy-)?Authorization|X-Amz-Security-Token|x-amz-sso_bearer_token|Cookie|Set-Cookie)(\s*[:=]\s*)([^\r\n]*))",
      std::regex::icase);
  static const std::regex k_bearer(R"((Bearer|Basic)\s+[A-Za-z0-9\-._~+/=]+)", std::regex::icase);
  static const std::regex k_json(
      R"xx(("(?:token|password|secret|secretAccessKey|client-key-data|sessionToken|accessToken|refreshToken|aws_secret_access_key)"\s*:\s*")[^"]*("))xx",
      std::regex::icase);
  static const std::regex k_query(R"((X-Amz-Signature|X-Amz-Security-Token)=[^&\s]+)", std::regex::icase);
  // What database clients take and print, in a command line, a hook's output or an error: password=...,
  // --password=..., PGPASSWORD=..., MYSQL_PWD=..., REDISCLI_AUTH=..., secret=..., token=..., "password: ..." (a
  // value after a colon only for the password words: "secret: not found" is prose), and mysql's -pSECRET (its
  // password glued to -p) where a MySQL or MariaDB client is named (find -print is not a password).
  static const std::regex k_assign(
      R"re(((?:password|passwd|pwd|PGPASSWORD|MYSQL_PWD|REDISCLI_AUTH)\s*[=:]\s*|(?:secret|token)\s*=\s*))re"
      R"re((?:'[^']*'|"[^"]*"|[^\s'",;&]+))re",
      std::regex::icase);
  static const std::regex k_mysql_p(R"re((^|[\s'"=])-p(?:'[^']*'|"[^"]*"|[^\s'"]+))re");
  static const std::regex k_mysql(R"(mysql|mariadb)", std::regex::icase);
  static const std::regex k_pem(R"(-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----)");
  // A key whose end was cut off (a body truncated for the log): masked to the end of the text.
  static const std::regex k_pem_open(R"(-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*$)");
  std::string s(text);
  s = std::regex_replace(s, k_header, "$1$2[REDACTED]");
  s = std::regex_replace(s, k_bearer, "$1 [REDACTED]");
  s = std::regex_replace(s, k_json, "$1[REDACTED]$2");
  s = std::regex_replace(s, k_query, "$1=[REDACTED]");
  s = std::regex_replace(s, k_assign, "$1[REDACTED]");
  if (std::regex_search(s, k_mysql)) s = std::regex_replace(s, k_mysql_p, "$1-p[REDACTED]");
  s = std::regex_replace(s, k_pem, "[REDACTED PRIVATE KEY]");
  s = std::regex_replace(s, k_pem_open, "[REDACTED PRIVATE KEY]");
  return mask_secret_data(std::move(s));
}

}  // namespace kbk::log
