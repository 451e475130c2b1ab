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

// -o. Every command that prints a JSON document with -o json also takes yaml, jsonpath=TEMPLATE and
// jsonpath-file=FILE, printed from that same document by print() (docs/output.md): a command builds its document
// once and never formats YAML or JSONPath itself. wide and name are table variants a command prints itself.
struct Format {
  enum Kind { text, json, yaml, wide, name, jsonpath };
  Kind kind = text;
  std::string template_text;  // the template of Kind::jsonpath (the file's content for jsonpath-file=FILE)

  Format(Kind k = text) : kind(k) {}  // NOLINT: a Kind is a Format (output::Format::json)
  bool operator==(Kind k) const { return kind == k; }
  bool operator!=(Kind k) const { return kind != k; }
  // json, yaml or jsonpath: the command prints its JSON document through print().
  bool structured() const { return kind == json || kind == yaml || kind == jsonpath; }
};
// Parses -o: "" (the command's text), "json", "yaml", "jsonpath=TEMPLATE", "jsonpath-file=FILE", "wide", "name".
// `allowed` lists the kinds besides text the command prints; json brings yaml and jsonpath with it. Anything else is
// Errc::config naming the formats this command supports; a malformed template names its column.
Result<Format> parse_format(const std::string& s, const std::vector<Format>& allowed);
// The -o values a command with these kinds accepts, for --help and messages: "json, yaml, jsonpath=TEMPLATE".
std::string supported_formats(const std::vector<Format>& allowed);

// Prints a command's JSON document in a structured format: pretty JSON, kubectl-style YAML, or the JSONPath
// template's output. One document per command run; stdout holds nothing else.
void print(const json::Value& doc, const Format& format);

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
