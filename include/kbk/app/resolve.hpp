// What applications take from a source, with each object's part and reason: app show (live cluster), restore --app
// and app diff (a backup's contents) run the walk with the applications as scope and keep this record, and the
// -o json documents come from here (docs/format-application.md section 8).
#pragma once

#include <set>
#include <string>
#include <vector>

#include <kbk/app/definition.hpp>
#include <kbk/app/walk.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/util/error.hpp>
#include <kbk/util/progress.hpp>

namespace kbk::app {

struct Selected {
  std::string group, version, resource, kind, ns, name;
  int part = -1;
  How how = How::matched;
  std::string reason;  // Reason::text()
  std::string from;    // followed: the object that led here
  std::string group_resource() const { return group.empty() ? resource : resource + "." + group; }
  std::string display() const { return display_key(group_resource(), ns, name); }
  std::string key() const { return item_key(group_resource(), ns, name); }
};

struct Resolution {
  std::vector<std::string> parts;   // the scope's part names, in definition order
  std::vector<Selected> objects;    // sorted by part, then group/resource, namespace, name
  std::vector<Outcome> outcomes;    // skipped, warnings and failures met on the way
  std::vector<std::string> warnings;  // the definition's (names resolving to nothing), then outcome lines that are
                                      // warnings or failures
  std::vector<std::string> explain;   // with ResolveOptions::explain: the verdict, the parts' answers, the walk's events
  size_t failures = 0;                // outcomes that are failures (403s, broken API groups): the answer is partial
  std::set<std::string> keys() const;  // item_key of every object
};

struct ResolveOptions {
  WalkOptions walk;
  std::string explain;                     // resource/namespace/name or resource/name: explain this object
  util::ProgressSink* progress = nullptr;  // objects selected so far, and the type being listed
  std::string phase = "app";               // the progress phase's name
};

// Runs the walk over source with the applications as scope. Errc::config for a definition that does not fit the
// source (a cluster-scoped type under resources); API failures are outcomes, counted in failures.
Result<Resolution> resolve(kube::Client& source, const kube::Discovery& discovery, const Application& app,
                           const ResolveOptions& options);
// With default options. An overload rather than a defaulted `= {}`: g++ 12 at -O3 (the Release build) calls the
// defaulted argument's temporary maybe-uninitialized in every caller, which -Werror stops.
Result<Resolution> resolve(kube::Client& source, const kube::Discovery& discovery, const Application& app);

// What the definition takes now that the backup lacks, and what the backup holds that it no longer takes.
struct Diff {
  std::vector<Selected> only_now;     // in `now`, not in `backup`
  std::vector<Selected> only_backup;  // in `backup`, not in `now`
  size_t common = 0;
};
Diff diff(const Resolution& now, const Resolution& backup);

// {"applications", "objects", "parts", "hooks", "warnings"} (docs/format-application.md section 8).
json::Document to_json(const Resolution& r, const Application& app);
json::Document to_json(const Diff& d);

}  // namespace kbk::app
