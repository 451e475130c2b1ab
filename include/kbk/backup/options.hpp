// What a backup selects and how it runs: Velero's flag set (velero-facts section 2.3) plus kbk's name filters,
// related objects and events switch. The CLI fills this; validate() applies Velero's rules for combinations.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <kbk/app/definition.hpp>
#include <kbk/util/error.hpp>
#include <kbk/volume/model.hpp>

namespace kbk::backup {

// --include-cluster-resources: unset (auto: only when every namespace is selected), true, false.
enum class ClusterResources { automatic, include, exclude };
enum class WithRelated { yes, no };
enum class IncludeEvents { no, yes };

struct Options {
  std::string name;

  std::vector<std::string> include_namespaces;  // globs; empty = all
  std::vector<std::string> exclude_namespaces;

  // Old-style resource filters (any name kubectl accepts, or globs such as "*.apps").
  std::vector<std::string> include_resources;
  std::vector<std::string> exclude_resources;
  ClusterResources include_cluster_resources = ClusterResources::automatic;

  // Scoped filters (mutually exclusive with the three above, as Velero).
  std::vector<std::string> include_cluster_scoped;
  std::vector<std::string> exclude_cluster_scoped;
  std::vector<std::string> include_namespace_scoped;
  std::vector<std::string> exclude_namespace_scoped;

  std::string label_selector;                   // -l
  std::vector<std::string> or_label_selectors;  // --or-selector "a=b or c=d", already split

  // "resource/namespace/name" (namespaced) or "resource/name" (cluster-scoped) globs.
  std::vector<std::string> include_names;
  std::vector<std::string> exclude_names;

  // --app: the applications to back up (docs/format-application.md), narrowed by the filters above when they are
  // given; null: the filters alone. Their volume policy (applications->volume_policy: the Velero resource-policy
  // text with its origin) is the backup's unless --resource-policies names one; their hook references are recorded.
  std::shared_ptr<const app::Application> applications;

  WithRelated with_related = WithRelated::yes;
  IncludeEvents include_events = IncludeEvents::no;

  // Labels of the backup itself (--labels): kept in the marker and velero-backup.json, selected by
  // `backup list/delete --selector`. Not encrypted in an encrypted backup (like its name).
  std::map<std::string, std::string> labels;

  // Volume data (docs/volumes.md): how each volume's data is taken, the movers, the workers. volume_data=false
  // backs up the resources only.
  volume::BackupSettings volumes;
  bool volume_data = true;
  // --hooks FILE (docs/hooks.md): a hooks file read before anything is done (Errc::invalid, every problem); "" =
  // the pods' annotations only.
  std::string hooks_file;

  int parallel = 4;         // resource types listed at once
  int64_t page_size = 500;  // LIST limit
  std::chrono::seconds ttl = std::chrono::hours(720);
  std::string storage_location = "default";  // spec.storageLocation in velero-backup.json
};

bool uses_old_filters(const Options& o);
bool uses_scoped_filters(const Options& o);

// Velero's validation: old and scoped filters together, label selector with or-selectors, '*' in old excludes,
// an entry in both an include and an exclude list, malformed name patterns or selectors. Errc::config.
Result<void> validate(const Options& o);

// --labels "a=b,c=d" -> {a: b, c: d}; Errc::config naming a malformed pair or an invalid key or value (Kubernetes
// label syntax).
Result<std::map<std::string, std::string>> parse_labels(const std::string& text);

// --cluster-name: printable, no spaces or control characters, at most 253 bytes (a kubeconfig's cluster names, EKS
// ARNs and GKE's gke_project_zone_name included). Errc::config naming the problem.
Result<void> validate_cluster_name(const std::string& name);

// Splits --or-selector "a=b or c=d" on the literal " or ", as Velero.
std::vector<std::string> split_or_selector(const std::string& text);

}  // namespace kbk::backup
