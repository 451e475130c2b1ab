// `kbk rbac`: the least-privilege RBAC objects for a backup or a restore of exactly one selection (docs/fleet.md,
// "Least privilege"). A backup's permissions are the requests a backup of that selection makes: probe_backup runs
// backup create's own code (backup::run) against the cluster through a recording client, into a scratch folder
// that is removed afterwards, so the rules cannot drift from what the walk asks. A restore's are restore's write
// targets and verbs (restore::write_targets / write_verbs, what `kbk auth can-i-restore` checks).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <kbk/backup/options.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/access.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/util/error.hpp>
#include <kbk/volume/permissions.hpp>
#include <kbk/volume/restore.hpp>

namespace kbk::rbac {

// What an identity must be allowed: verbs per (group, resource) per namespace ("" = cluster-wide: a ClusterRole).
struct Needs {
  using Type = std::tuple<std::string, std::string>;  // group, resource (with "/subresource" when one is used)
  std::map<std::string, std::map<Type, std::set<std::string>>> verbs;
  // Names of cluster-scoped objects read with get, per type: a rule limited to them (resourceNames) when the type
  // is read only that way (namespaces/kube-system, the cluster's identity).
  std::map<Type, std::set<std::string>> cluster_gets;
  void add(const std::string& group, const std::string& resource, const std::string& namespace_, const std::string& verb);
  // What the volume code asks (volume/permissions.hpp) for a volume in namespace ns; mover_ns: --mover-namespace
  // ("" = ns).
  void add(const std::vector<volume::Request>& requests, const std::string& ns, const std::string& mover_ns = "",
           bool required_only = false);
};

// A kube::Client that forwards to another and records every resource request it makes (non-resource paths such as
// /version are not recorded: Kubernetes grants them to every authenticated identity through system:discovery and
// system:public-info-viewer).
class RecordingClient : public kube::Client {
public:
  explicit RecordingClient(kube::Client& inner) : m_inner(inner) {}
  Needs needs() const;

  Result<json::Document> get(const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                             std::string_view subresource = "") override;
  Result<void> list(const kube::ResourceType& rt, std::string_view ns, const kube::ListOptions& options,
                    const std::function<Result<void>(kube::ListPage&)>& on_page) override;
  Result<json::Document> create(const kube::ResourceType& rt, std::string_view ns, const json::Value& obj,
                                const kube::WriteOptions& options) override;
  Result<json::Document> update(const kube::ResourceType& rt, std::string_view ns, const json::Value& obj,
                                const kube::WriteOptions& options, std::string_view subresource = "") override;
  Result<json::Document> patch(const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                               kube::PatchType type, std::string_view body, const kube::WriteOptions& options,
                               std::string_view subresource = "") override;
  Result<json::Document> remove(const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                                const kube::DeleteOptions& options) override;
  Result<json::Document> request(std::string_view method, std::string_view path, std::string_view body = "",
                                 std::string_view content_type = "", std::string_view accept = "") override;
  // An exec (a hook's command) is recorded (pods/exec create and get in the pod's namespace) and answered as a
  // command that printed nothing and exited 0: nothing runs in the cluster.
  Result<std::unique_ptr<kube::ExecSession>> exec(const kube::ExecRequest& request) override;
  // What a volume's data path would ask (the probe takes no data).
  void add(const std::vector<volume::Request>& requests, const std::string& ns, const std::string& mover_ns);

private:
  void record(const kube::ResourceType& rt, std::string_view ns, std::string_view name, std::string_view sub,
              const char* verb);
  kube::Client& m_inner;
  mutable std::mutex m_mu;
  Needs m_needs;
};

// Runs a backup with these options through a RecordingClient into a scratch file:// location under scratch_dir
// (removed afterwards, whatever happens): what it asked for. Errors of the run itself (an option the cluster
// cannot serve) are returned; items the admin could not read are still recorded as asked. With volume data, each
// volume is read and its path decided as the backup does; instead of taking its data, what that path asks
// (volume::backup_requests) is added in the volume's namespace.
Result<Needs> probe_backup(kube::Client& client, const kube::Discovery& discovery, backup::Options options,
                           const std::string& scratch_dir);

// A restore writing these targets with these verbs (create, get, patch, + delete for recreate): the checks of
// restore's preflight, which are the only requests it makes for them; plus `escalate` on the roles and
// clusterroles it writes and `bind` on what its bindings reference (roles and clusterroles in the binding's
// namespace, clusterroles for clusterrolebindings), without which the API server refuses RBAC it does not hold.
Needs restore_needs(const std::vector<kube::WriteTarget>& targets, const std::vector<std::string>& verbs);
// Adds what restoring these volumes' data asks (volume::restore_requests, and the sweep's lists once when any
// volume has data to restore).
// preflight: only what the restore cannot do without (volume::Request::required), no sweep: what restore create
// checks before anything is applied.
void add_volume_restore_needs(Needs& needs, const std::vector<volume::RestoreTarget>& targets,
                              const volume::RestoreSettings& settings, bool preflight = false);

// Whether the current identity holds these needs (kube::check_write_access, one check per set of verbs); the
// denials of every check in one report.
Result<kube::WriteAccessReport> check(kube::Client& client, const Needs& needs);

struct RenderOptions {
  std::string purpose = "backup";          // backup | restore: in the objects' names and labels
  std::string service_account = "kbk";     // --service-account
  std::string namespace_ = "kbk";          // where the ServiceAccount lives (-n)
  std::string command;                     // the command line, recorded in an annotation
};

// The objects, in the order `kubectl apply` needs them: the Namespaces (the ServiceAccount's; for a restore also its
// target namespaces), the ServiceAccount, the ClusterRole and its
// ClusterRoleBinding (when anything is cluster-wide), then a Role and RoleBinding per namespace. Each is named
// "<service-account>-<purpose>" and labelled app.kubernetes.io/managed-by=kbk, kbk.io/rbac-for=<purpose>.
std::vector<json::Document> render(const Needs& needs, const RenderOptions& options);

}  // namespace kbk::rbac
