#include <kbk/output/output.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <unistd.h>

#include <kbk/output/jsonpath.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::output {

namespace {

std::vector<Format::Kind> kinds_of(const std::vector<Format>& allowed) {
  std::vector<Format::Kind> kinds;
  for (const Format& f : allowed) {
    kinds.push_back(f.kind);
    if (f.kind == Format::json) {
      kinds.push_back(Format::yaml);
      kinds.push_back(Format::jsonpath);
    }
  }
  return kinds;
}

bool has(const std::vector<Format::Kind>& kinds, Format::Kind k) {
  return std::find(kinds.begin(), kinds.end(), k) != kinds.end();
}

}  // namespace

std::string supported_formats(const std::vector<Format>& allowed) {
  const auto kinds = kinds_of(allowed);
  std::vector<std::string> names;
  if (has(kinds, Format::json)) names.push_back("json");
  if (has(kinds, Format::yaml)) names.push_back("yaml");
  if (has(kinds, Format::jsonpath)) {
    names.push_back("jsonpath=TEMPLATE");
    names.push_back("jsonpath-file=FILE");
  }
  if (has(kinds, Format::wide)) names.push_back("wide");
  if (has(kinds, Format::name)) names.push_back("name");
  return names.empty() ? std::string("none (text only)") : util::join(names, ", ");
}

Result<Format> parse_format(const std::string& s, const std::vector<Format>& allowed) {
  Format f;
  std::string tmpl;
  if (s.empty() || s == "text") {
    return f;
  } else if (s == "json") {
    f.kind = Format::json;
  } else if (s == "yaml") {
    f.kind = Format::yaml;
  } else if (s == "wide") {
    f.kind = Format::wide;
  } else if (s == "name") {
    f.kind = Format::name;
  } else if (util::starts_with(s, "jsonpath=") || util::starts_with(s, "jsonpath-as-text=")) {
    f.kind = Format::jsonpath;
    tmpl = s.substr(s.find('=') + 1);
  } else if (util::starts_with(s, "jsonpath-file=")) {
    f.kind = Format::jsonpath;
    const std::string file = s.substr(14);
    auto text = util::read_file(file, util::k_max_input_file);
    if (!text) return unexpected(Errc::config, "-o jsonpath-file: " + text.error().message);  // names the file
    tmpl = *text;
    while (!tmpl.empty() && (tmpl.back() == '\n' || tmpl.back() == '\r')) tmpl.pop_back();
  } else {
    return unexpected(Errc::config, "unknown output format \"" + s + "\": this command supports " +
                                        supported_formats(allowed));
  }
  if (!has(kinds_of(allowed), f.kind))
    return unexpected(Errc::config, "output format \"" + s + "\" is not supported by this command; it supports " +
                                        supported_formats(allowed));
  if (f.kind == Format::jsonpath) {
    if (tmpl.empty()) return unexpected(Errc::config, "-o jsonpath: the template is empty (jsonpath='{.items[*].name}')");
    auto parsed = JsonPath::parse(tmpl);  // checked now, so a bad template fails before the command does anything
    if (!parsed) return unexpected(Errc::config, "-o " + parsed.error().message);
    f.template_text = std::move(tmpl);
  }
  return f;
}

void print(const json::Value& doc, const Format& format) {
  if (format.kind == Format::yaml) {
    print_yaml(doc);
  } else if (format.kind == Format::jsonpath) {
    auto path = JsonPath::parse(format.template_text);  // parse_format checked it
    std::string out = path ? path->execute(doc) : std::string();
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  } else {
    print_json(doc);
  }
}

Table::Table(std::vector<std::string> headers) : m_headers(std::move(headers)) {}

void Table::add_row(std::vector<std::string> row) {
  row.resize(m_headers.size());
  m_rows.push_back(std::move(row));
}

std::string Table::render() const {
  std::vector<size_t> width(m_headers.size(), 0);
  for (size_t i = 0; i < m_headers.size(); ++i) width[i] = m_headers[i].size();
  for (const auto& r : m_rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < cells.size(); ++i) {
      l += cells[i];
      if (i + 1 < cells.size()) l += std::string(width[i] - cells[i].size() + 3, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(m_headers);
  for (const auto& r : m_rows) line(r);
  return out;
}

// Streamed in chunks: a large document (inspect --cat of a big item) is never held as text as well.
void print_json(const json::Value& v) {
  json::write_pretty(v, [](std::string_view s) { std::fwrite(s.data(), 1, s.size(), stdout); });
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void print_yaml(const json::Value& v) {
  std::fflush(stdout);
  json::write_yaml(v, std::cout);
  std::cout.flush();
}

namespace {

using SteadyClock = std::chrono::steady_clock;

// Rates and ETA of one phase, measured from the first report of that phase (a command that downloads and then
// restores shows each phase at its own pace).
struct Pace {
  double seconds = 0;
  double items_per_second = 0;
  double bytes_per_second = 0;
  double eta_seconds = -1;  // -1: unknown
};

class PhaseClock {
public:
  Pace pace(const util::ProgressState& s, SteadyClock::time_point now) {
    auto it = m_start.find(s.phase);
    if (it == m_start.end()) it = m_start.emplace(s.phase, now).first;
    Pace p;
    p.seconds = std::chrono::duration<double>(now - it->second).count();
    const double secs = p.seconds > 1e-3 ? p.seconds : 1e-3;
    p.items_per_second = static_cast<double>(s.items_done) / secs;
    p.bytes_per_second = static_cast<double>(s.bytes_done) / secs;
    // ETA from whichever total is known: bytes for transfers, items for engines.
    if (s.bytes_total && s.bytes_done && s.bytes_done <= s.bytes_total) {
      p.eta_seconds = secs * static_cast<double>(s.bytes_total - s.bytes_done) / static_cast<double>(s.bytes_done);
    } else if (s.items_total && s.items_done && s.items_done <= s.items_total) {
      p.eta_seconds = secs * static_cast<double>(s.items_total - s.items_done) / static_cast<double>(s.items_done);
    }
    return p;
  }

private:
  std::map<std::string, SteadyClock::time_point> m_start;
};

// A transfer reports bytes only; an engine reports items (and maybe bytes).
bool is_transfer(const util::ProgressState& s) { return s.items_done == 0 && s.items_total == 0; }

class TtyProgress final : public util::ProgressSink {
public:
  // A log line (a warning, the final error) clears the line being redrawn first; the next update draws it again
  // below. A sink destroyed with its line still open (the command failed) ends that line.
  TtyProgress() {
    log::set_before_stderr([this] {
      if (m_open.exchange(false)) std::fputs("\r\033[K", stderr);
    });
  }
  ~TtyProgress() override {
    log::set_before_stderr(nullptr);
    if (m_open.exchange(false)) std::fputs("\n", stderr);
  }
  TtyProgress(const TtyProgress&) = delete;
  TtyProgress& operator=(const TtyProgress&) = delete;

  void update(const util::ProgressState& s) override {
    std::lock_guard lock(m_mutex);
    auto now = SteadyClock::now();
    auto p = m_clock.pace(s, now);  // starts the phase's clock on its first report, drawn or not
    if (now - m_last < std::chrono::milliseconds(100)) return;
    m_last = now;
    draw(s, p);
  }
  void finish(const util::ProgressState& s) override {
    std::lock_guard lock(m_mutex);
    draw(s, m_clock.pace(s, SteadyClock::now()));
    std::fputs("\n", stderr);
    m_open = false;
  }

private:
  void draw(const util::ProgressState& s, const Pace& p) {
    std::string line = s.phase + ": ";
    if (is_transfer(s)) {
      line += util::human_bytes(s.bytes_done);
      if (s.bytes_total) {
        char pct[32];
        std::snprintf(pct, sizeof pct, " (%.0f%%)",
                      100.0 * static_cast<double>(s.bytes_done) / static_cast<double>(s.bytes_total));
        line += " of " + util::human_bytes(s.bytes_total) + pct;
      }
      line += ", " + util::human_bytes(static_cast<uint64_t>(p.bytes_per_second)) + "/s";
    } else {
      line += std::to_string(s.items_done);
      if (s.items_total) line += "/" + std::to_string(s.items_total);
      char rate[64];
      std::snprintf(rate, sizeof rate, " items (%.0f/s)", p.items_per_second);
      line += rate;
      if (s.bytes_done) {
        line += ", " + util::human_bytes(s.bytes_done) + " (" +
                util::human_bytes(static_cast<uint64_t>(p.bytes_per_second)) + "/s)";
      }
    }
    if (p.eta_seconds > 0) line += ", ETA " + util::human_duration(p.eta_seconds);
    if (s.errors) line += ", " + std::to_string(s.errors) + " errors";
    if (!s.current.empty()) line += "  " + s.current;
    if (line.size() > 118) line.resize(118);
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
    m_open = true;
  }
  std::mutex m_mutex;
  PhaseClock m_clock;
  SteadyClock::time_point m_last{};
  std::atomic<bool> m_open{false};
};

class JsonProgress final : public util::ProgressSink {
public:
  void update(const util::ProgressState& s) override {
    std::lock_guard lock(m_mutex);
    auto now = SteadyClock::now();
    auto p = m_clock.pace(s, now);
    if (now - m_last < std::chrono::milliseconds(500)) return;
    m_last = now;
    emit(s, p, false);
  }
  void finish(const util::ProgressState& s) override {
    std::lock_guard lock(m_mutex);
    emit(s, m_clock.pace(s, SteadyClock::now()), true);
  }

private:
  static void emit(const util::ProgressState& s, const Pace& p, bool done) {
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("phase", json::make_string(s.phase, a), a);
    d.AddMember("current", json::make_string(s.current, a), a);
    d.AddMember("itemsDone", s.items_done, a);
    d.AddMember("itemsTotal", s.items_total, a);
    d.AddMember("bytesDone", s.bytes_done, a);
    d.AddMember("bytesTotal", s.bytes_total, a);
    d.AddMember("warnings", s.warnings, a);
    d.AddMember("errors", s.errors, a);
    d.AddMember("elapsedSeconds", round3(p.seconds), a);
    d.AddMember("itemsPerSecond", round3(p.items_per_second), a);
    d.AddMember("bytesPerSecond", static_cast<uint64_t>(p.bytes_per_second), a);
    json::Value eta;  // null when unknown
    if (p.eta_seconds >= 0) eta.SetDouble(round3(p.eta_seconds));
    d.AddMember("etaSeconds", eta, a);
    d.AddMember("done", done, a);
    std::string line = json::to_string(d) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }
  static double round3(double v) { return static_cast<double>(static_cast<int64_t>(v * 1000 + 0.5)) / 1000; }
  std::mutex m_mutex;
  PhaseClock m_clock;
  SteadyClock::time_point m_last{};
};

}  // namespace

std::unique_ptr<util::ProgressSink> make_progress(ProgressMode mode) {
  if (mode == ProgressMode::automatic) mode = isatty(STDERR_FILENO) ? ProgressMode::tty : ProgressMode::none;
  switch (mode) {
    case ProgressMode::tty: return std::make_unique<TtyProgress>();
    case ProgressMode::json: return std::make_unique<JsonProgress>();
    default: break;
  }
  struct None final : util::ProgressSink {
    void update(const util::ProgressState&) override {}
    void finish(const util::ProgressState&) override {}
  };
  return std::make_unique<None>();
}

Result<ProgressMode> parse_progress_mode(const std::string& s) {
  if (s.empty() || s == "auto") return ProgressMode::automatic;
  if (s == "tty") return ProgressMode::tty;
  if (s == "json") return ProgressMode::json;
  if (s == "none") return ProgressMode::none;
  return unexpected(Errc::config, "unknown --progress mode \"" + s + "\" (auto, tty, json, none)");
}

}  // namespace kbk::output
