// What a restore is asked to do: the selection (the same flags as backup, applied to the backed-up objects in
// their original namespaces), namespace mappings and the per-item policies. Pure data plus parsers for the
// flag syntaxes; nothing here touches a cluster.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/util/error.hpp>

namespace kbk::restore {

// The selection flags. Empty lists mean "everything" (includes) / "nothing" (excludes).
struct Selection {
  std::vector<std::string> include_namespaces;   // globs
  std::vector<std::string> exclude_namespaces;   // globs
  std::vector<std::string> include_resources;    // what kubectl accepts: "deploy", "deployments.apps", globs
  std::vector<std::string> exclude_resources;
  std::vector<std::string> include_names;        // resource/ns/name (cluster-scoped: resource/name), globs
  std::vector<std::string> exclude_names;
  std::string label_selector;                    // -l
  std::vector<std::string> or_selectors;         // --or-selector "a=b or c=d", split
  std::optional<bool> include_cluster_resources; // nullopt: only when every namespace is selected (Velero)
};

// old namespace -> new namespace.
using NamespaceMap = std::map<std::string, std::string>;

// "a:b,c:d" -> {a:b, c:d}. Errc::config naming the bad entry (empty side, a namespace mapped twice, a target
// used twice, an invalid DNS label).
Result<NamespaceMap> parse_namespace_mappings(std::string_view text);

// What to do when an object already exists in the cluster.
enum class ExistingPolicy {
  none,      // skip it, reporting whether the live object differs from the backed-up one
  update,    // patch the live object to the backed-up content
  recreate,  // delete it, wait until it is gone, create it (namespaces and CRDs are updated instead)
};
Result<ExistingPolicy> parse_existing_policy(std::string_view text);
const char* existing_policy_name(ExistingPolicy p);

enum class RestoreStatus { no, yes };       // --restore-status: write status through the status subresource
enum class NodePorts { reset, preserve };   // --preserve-nodeports
enum class RestoreLabels { add, omit };     // --no-restore-labels

inline constexpr const char* k_label_backup_name = "kbk.io/backup-name";
inline constexpr const char* k_label_restore_name = "kbk.io/restore-name";
inline constexpr const char* k_field_manager = "kbk";

// What a restore was asked to do, recorded in restores/<name>/kbk-restore.json ("spec" and "target",
// docs/format-archive.md section 6) and shown by `kbk restore describe`, as Velero's describe shows its spec.
struct RestoreRequest {
  Selection selection;
  NamespaceMap namespace_mappings;
  std::map<std::string, std::string> storage_class_mappings, ingress_class_mappings;
  std::vector<std::string> image_mappings;  // OLD=NEW, as given
  struct File {
    std::string path;    // as given on the command line
    std::string sha256;  // of its content when the restore read it
  };
  std::vector<File> resource_modifiers;     // in the order applied (an application's restore.modifiers last)
  std::vector<std::string> applications;    // restore create --app: the applications' names, includes too
  std::vector<File> application_files;      // the definition files read
  std::vector<File> hooks_files;            // restore create --hooks (docs/hooks.md section 6)
  std::string existing_resource_policy = "none";
  bool restore_status = false;
  bool preserve_node_ports = false;
  bool restore_labels = true;
  std::string dry_run;  // "", "client", "server"
  std::string to_dir;
  // The cluster restored into ("" when no cluster was used).
  std::string target_server, target_kube_system_uid, target_server_version;
};

// A label value as Velero shortens it: at most 63 characters; longer values become the first 57 characters
// plus 6 hex digits of their SHA-256.
std::string label_value(std::string_view value);

}  // namespace kbk::restore
