// Presentation: output formats, kubectl-style tables, JSON/YAML printing, progress on a TTY or as JSON lines.
// No logic lives here; commands hand it finished data.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/util/error.hpp>
#include <kbk/util/progress.hpp>

namespace kbk::output {

enum class Format { text, json, yaml, wide, name };
// Parses -o: "", "text", "json", "yaml", "wide", "name". Errc::config for anything else.
Result<Format> parse_format(const std::string& s, const std::vector<Format>& allowed);

// kubectl-style table: upper-case headers, columns separated by three spaces, no borders.
class Table {
public:
  explicit Table(std::vector<std::string> headers);
  void add_row(std::vector<std::string> row);
  std::string render() const;
  bool empty() const { return m_rows.empty(); }

private:
  std::vector<std::string> m_headers;
  std::vector<std::vector<std::string>> m_rows;
};

// Writes v to stdout as pretty JSON (with a trailing newline) or YAML.
void print_json(const json::Value& v);
void print_yaml(const json::Value& v);

enum class ProgressMode { automatic, tty, json, none };
// A progress sink: a redrawn line on a TTY (items, items/s, bytes, bytes/s, ETA, current; a transfer, which
// reports bytes only, as "upload: 12.0 MiB of 64.0 MiB (19%), 8.0 MiB/s, ETA 6s  KEY"), JSON lines on stderr with
// ProgressMode::json (the state plus elapsedSeconds, itemsPerSecond, bytesPerSecond, etaSeconds or null, done;
// rates are measured per phase from its first report), nothing otherwise. automatic = tty when stderr is a
// terminal, else none.
std::unique_ptr<util::ProgressSink> make_progress(ProgressMode mode);
Result<ProgressMode> parse_progress_mode(const std::string& s);

}  // namespace kbk::output
