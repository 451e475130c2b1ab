// What belongs to a selection, and why: the one walk that backup create (with its flags or with --app), app show,
// app diff and restore --app run. It reads objects from a kube::Client, which is the live cluster or a backup's
// contents (memory_source.hpp), and hands every selected object with its reason to a Sink: the archive writer of a
// backup, a recorder for app show and restore --app, a tracer for --explain.
//
// The walk, in order: the Namespace list; the main pass (one paged LIST per type the scope lists, cluster-wide or
// per namespace, types in parallel; each object is asked of the scope as its page arrives, so memory holds one page
// per worker, never the cluster); then, until nothing new is taken, the objects the taken ones depend on (GETs of
// references, the bindings of taken ServiceAccounts, the CRDs of taken custom resources, and for applications the
// webhooks and APIServices calling taken Services and the storage Secrets of Helm releases); the Namespace objects
// last. API failures become outcomes (the walk goes on); only the sink's failure stops it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <kbk/app/definition.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/util/error.hpp>
#include <kbk/util/log.hpp>

namespace kbk::app {

struct Decision {
  bool included = false;
  std::string reason;
};

// What following takes from an object: nothing; what `backup create --with-related` always followed (pod specs,
// claims and volumes, bindings and roles, ingress classes, CRDs of custom resources); or all of section 4 of
// docs/format-application.md (also webhooks, APIServices, owners, Ingress backends, Helm release Secrets).
enum class Follow { none, classic, application };

// How a selected object came in.
enum class How { matched, followed, namespace_, helm };
const char* how_name(How h);  // "matched", "followed", "namespace", "helm"

struct Reason {
  How how = How::matched;
  int part = -1;        // the scope's part (-1: a selection without parts, the backup's flags)
  std::string detail;   // matched: the filters; followed: "volume configMap"; helm: "(v3)"
  std::string from;     // followed: "deployments.apps/blog/web"
  // One line: "namespace blog, selector app=web", "followed from deployments.apps/blog/web via volume configMap".
  std::string text() const;
};

// One non-ok outcome (docs/format-archive.md section 4).
struct Outcome {
  std::string outcome;   // skipped | warning | failed
  std::string reason;    // Forbidden, BeingDeleted, RelatedExcluded, ...
  std::string scope;     // item | type | selection (the flags themselves: a namespace that does not exist)
  std::string group, resource, ns, name;
  int http_status = 0;
  std::string message;
  // "secrets: namespace demo: forbidden: ..." as listed in summaries.
  std::string line() const;
};

// The scope's answer for one object.
struct Match {
  bool included = false;
  int part = -1;
  std::string reason;          // included: what matched; else why not (for --explain; may be empty)
  std::string skip_outcome;    // not included because explicitly excluded: the outcome's reason code
                               // (ExcludedByName, ExcludedByApplication), recorded as "skipped"
};

// What is selected: the backup's flags (backup::Selection) or applications (make_scope below).
class Scope {
public:
  virtual ~Scope() = default;
  // Whether the main pass lists this type.
  virtual Decision type(const kube::ResourceType& rt) const = 0;
  // Whether objects in namespace ns can be selected at all (LIST filter, per-namespace LISTs, related objects).
  virtual Decision namespace_(std::string_view ns) const = 0;
  virtual bool namespaces_include_everything() const = 0;
  // Whether namespaced types are listed namespace by namespace (the namespaces_to_list), not cluster-wide.
  virtual bool lists_per_namespace() const = 0;
  virtual std::vector<std::string> namespaces_to_list(const std::vector<std::string>& existing) const = 0;
  // The label selectors of the LISTs of rt: one LIST per entry ("" = none).
  virtual std::vector<std::string> list_selectors(const kube::ResourceType& rt) const = 0;
  // One object the main pass listed.
  virtual Match object(const kube::ResourceType& rt, const json::Value& obj) const = 0;
  // Whether a type may come in by following at all (a type the user excluded may not).
  virtual Decision related_type(const kube::ResourceType& rt) const = 0;
  // Whether an object that part's objects lead to may be taken. obj is null before it is fetched.
  virtual Match related(const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                        const json::Value* obj, int part) const = 0;
  // A Namespace object: has_items when taken objects live in it, part the first part that took one (-1: none).
  virtual Match namespace_object(std::string_view ns, const json::Value& obj, bool has_items, int part) const = 0;
  // What following takes from the objects a part took.
  virtual Follow follow(int part) const = 0;
  // Helm releases that parts select (their newest storage Secret is taken after the main pass).
  virtual std::vector<std::pair<int, HelmRelease>> helm_releases() const { return {}; }
  virtual std::string part_name(int part) const { return part < 0 ? std::string() : "part " + std::to_string(part); }
};

// Where selected objects go. take() is called from several threads at once; outcome(), note() and progress() are
// called one at a time.
class Sink {
public:
  virtual ~Sink() = default;
  // Returns an error only when the walk must stop (the archive could not be written).
  virtual Result<void> take(const kube::ResourceType& rt, const json::Value& obj, const Reason& why) = 0;
  virtual void outcome(const Outcome& o) = 0;
  virtual void note(log::Level level, const std::string& line);  // default: the log
  virtual void progress(const std::string& current) { (void)current; }
};

struct WalkOptions {
  int parallel = 4;         // types listed at once, related objects fetched at once
  int64_t page_size = 500;  // LIST limit
  // --explain: the walk's events about this object (item_key) are appended to trace.
  std::string trace_key;
  std::vector<std::string>* trace = nullptr;
};

// "<group_resource>\x1f<ns>\x1f<name>": the key the walk knows objects by.
std::string item_key(std::string_view group_resource, std::string_view ns, std::string_view name);
// "deployments.apps/blog/web" or "clusterroles.rbac.authorization.k8s.io/admin".
std::string display_key(std::string_view group_resource, std::string_view ns, std::string_view name);

Result<void> walk(kube::Client& source, const kube::Discovery& discovery, const Scope& scope, Sink& sink,
                  const WalkOptions& options = {});

}  // namespace kbk::app
