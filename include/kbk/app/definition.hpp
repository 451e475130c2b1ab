// Application definitions (docs/format-application.md, apiVersion kbk.io/v1, kind Application): files that say what
// an application is made of, read strictly (json::YamlReader: every problem as FILE:LINE:COL), composed through
// includes (by file or by name along a search path, cycles refused naming the cycle) into one Application that the
// walk (walk.hpp) selects objects with.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/util/error.hpp>

namespace kbk::app {

inline constexpr const char* k_api_version = "kbk.io/v1";
inline constexpr const char* k_kind = "Application";

// One entry of a list in a definition, with where it was written (for errors found when it is resolved).
struct Entry {
  std::string text;
  std::string where;  // FILE:LINE:COL
};

// A part's filters, or an exclude (the same fields; an exclude matches when any field matches).
struct Filter {
  std::vector<Entry> namespaces;         // globs
  std::vector<Entry> resources;          // namespaced types: kubectl names or <plural>.<group> globs
  std::vector<Entry> cluster_resources;  // cluster-scoped types
  std::vector<Entry> names;              // resource/namespace/name or resource/name, globs
  std::string selector;                  // kubectl syntax ("" = none)
  std::vector<std::string> or_selectors;
  bool empty() const {
    return namespaces.empty() && resources.empty() && cluster_resources.empty() && names.empty() && selector.empty() &&
           or_selectors.empty();
  }
};

struct HelmRelease {
  std::string namespace_;
  std::string name;
};

struct Part {
  std::string name;         // qualified: "<application>/<part>"
  std::string application;  // the application that declares it
  std::string description;
  std::string where;        // FILE:LINE:COL of the part
  Filter select;
  std::optional<HelmRelease> helm_release;
  bool follow = true;
  // The part's own exclude, its application's and those of every application including it (section 3).
  std::vector<Filter> excludes;
};

struct VolumePolicy {
  std::string origin;  // the file's path, or "FILE (spec.volumePolicy.inline)"
  std::string file;    // file: the path (absolute or relative to the working directory); "" for inline
  std::string text;    // the policy's text: the file's content, or the inline block with the definition's line
                       // numbers and columns kept (padded), so the volume reader's positions point into the definition
  std::string where;   // FILE:LINE:COL of volumePolicy
};

struct HookRef {
  std::string application;
  std::string template_name;
  std::string namespace_;
  std::string selector;
  std::string container;  // "" = the template's / the pod's first
  std::string on_error;   // "", Fail, Continue
  std::string timeout;    // "" or a duration
  std::string where;
};

// One or more applications summed, includes resolved: what a command works with.
struct Application {
  std::vector<std::string> names;       // the applications given (not their includes), in order
  std::vector<std::string> all_names;   // every application, includes too
  std::vector<std::string> files;       // every file read
  std::vector<Part> parts;
  std::optional<VolumePolicy> volume_policy;
  std::vector<HookRef> hooks;
  std::vector<Entry> restore_order;     // resource names or name patterns, in order
  std::vector<std::string> modifiers;   // resource-modifier files (paths as resolved against their definition)
  std::vector<std::string> warnings;
  std::string display_name() const;     // "wordpress" or "wordpress+cert-manager"
};

struct LoadOptions {
  std::vector<std::string> search_path;  // --app-path folders, searched after the including file's folder
};

// Reads each path (a file, or every *.yaml / *.yml directly in a folder) and sums the applications. Errc::invalid
// with causes "FILE:LINE:COL: message" (every problem found); Errc::io when a path cannot be read.
Result<Application> load(const std::vector<std::string>& paths, const LoadOptions& options = {});
// The same for text given directly (tests); includes are searched relative to file_name's folder.
Result<Application> parse(std::string_view text, const std::string& file_name, const LoadOptions& options = {});

// "deployments/blog/web" -> {resource, ns, name}; nullopt when not 2 or 3 non-empty segments.
struct NamePattern {
  std::string resource, ns, name;
  bool cluster = false;  // resource/name
};
std::optional<NamePattern> parse_name_pattern(std::string_view text);

bool is_dns_label(std::string_view s);
bool is_dns_subdomain(std::string_view s);

}  // namespace kbk::app
