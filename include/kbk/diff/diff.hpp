// `kbk diff`: what differs between a backup and another backup, the live cluster or a folder of manifests, object by
// object (docs/fleet.md, "kbk diff"). Both sides are put through the restore plan (restore/plan.hpp) with the same
// selection, so each object is compared as a restore would apply it: server-owned metadata, status and
// managedFields dropped, cluster IPs and node ports cleaned, and what a restore leaves to the cluster or to a
// restored controller (pods of ReplicaSets, ReplicaSets of Deployments, the default namespaces, tokens) not
// compared at all. So a drift is the user's change and nothing a controller or the server did on its own.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <kbk/app/definition.hpp>
#include <kbk/json/json.hpp>
#include <kbk/restore/backup.hpp>
#include <kbk/restore/options.hpp>
#include <kbk/util/error.hpp>

namespace kbk::diff {

struct Options {
  // The selection flags, applied to both sides as `restore create` applies them to a backup. On the `to` side,
  // namespaces named in the filters are mapped through namespace_mappings first (the side lives there).
  restore::Selection selection;
  // --app: only what these applications select on each side (the walk over each side's objects, as restore create
  // --app selects in a backup), narrowed by the selection's filters where given. Null: the selection alone.
  std::shared_ptr<const app::Application> applications;
  // Applied to the `from` side as restore applies them (metadata.namespace and every reference into the
  // namespace), so a backup restored with --namespace-mappings is compared with where it was restored to.
  restore::NamespaceMap namespace_mappings;
};

enum class Change { added, removed, changed };
const char* change_name(Change c);  // "added", "removed", "changed"

// One object that differs. Identity as on the `to` side (after namespace mapping).
struct ObjectChange {
  Change change = Change::changed;
  std::string group, version, resource, kind, namespace_, name;
  // The objects as compared (compact JSON), "" on the side that lacks the object.
  std::string from, to;
  std::string group_resource() const { return group.empty() ? resource : resource + "." + group; }
  // "Deployment.apps" / "ConfigMap": the kind with its group, as the API server names a GroupKind.
  std::string group_kind() const { return group.empty() ? kind : kind + "." + group; }
  // "deployments.apps/shop/web" or "clusterroles.rbac.authorization.k8s.io/admin".
  std::string display() const;
};

struct Counts {
  size_t added = 0, removed = 0, changed = 0, unchanged = 0;
  size_t differing() const { return added + removed + changed; }
};

struct Report {
  std::string from, to;                 // what was compared: "backup nightly", "the live cluster", "folder ./d"
  std::vector<ObjectChange> changes;    // sorted by group/resource, namespace, name
  Counts counts;
  std::map<std::string, Counts> by_kind;  // group_kind() -> counts (unchanged included)
  // Objects a restore would not apply, left out on either side, by reason code (controller-owned, ...).
  std::map<std::string, size_t> not_compared;
  std::vector<std::string> warnings;
  // What keeps the comparison from being complete (a type the live side could not read, items that do not read):
  // the differences found are still listed, and the command exits 2.
  std::vector<std::string> errors;
  bool different() const { return counts.differing() > 0; }
};

// Compares two sets of objects (a backup's items, the live cluster's or a folder's, each as a LoadedBackup). Each
// item's text is released once planned (restore::make_plan_releasing_backup): afterwards both are good only for
// their keys. Errc::config for a malformed selection.
Result<Report> compare(restore::LoadedBackup& from, restore::LoadedBackup& to, const Options& options);

// The selection as it applies on the `to` side: namespaces of the filters mapped through the mappings (globs are
// left as written).
restore::Selection mapped_selection(const restore::Selection& selection, const restore::NamespaceMap& mappings);

// An object as a user reads it in the diff: YAML with the members of every mapping sorted by name (as kubectl
// prints), so that member order never shows as a change.
std::string to_sorted_yaml(const json::Value& object);

// The text form: one line per added or removed object ("added configmaps/shop/c"), a unified YAML diff per changed
// object whose headers name the two sides (`--- FROM/deployments.apps/shop/web`), then summary_line(). `context`:
// lines of context in each hunk.
std::string to_text(const Report& report, int context = 3);
// "3 objects differ: 1 changed, 1 added, 1 removed; 120 unchanged; 45 not compared (what a restore would not
// apply: controller-owned 40, managed-by-cluster 5)", or "no differences: ..." when none.
std::string summary_line(const Report& report);
// {"apiVersion": "kbk.io/v1alpha1", "kind": "Diff", ...}: docs/fleet.md, "kbk diff -o json".
json::Document to_json(const Report& report);

}  // namespace kbk::diff
