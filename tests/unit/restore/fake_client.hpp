// A recording, in-memory kube::Client for restore tests: objects live in a map, every call is recorded,
// and it answers as the API server does for the cases restore cares about (409 AlreadyExists, 404 for a
// missing object or namespace, 403 for forbidden types, dry-run writes that change nothing, objects that
// take a few GETs to disappear after delete, CRDs that become Established or never do).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <kbk/kube/client.hpp>
#include <kbk/restore/applier.hpp>
#include <kbk/restore/backup.hpp>

namespace kbk::restore::test {

struct Call {
  std::string method;  // create, get, update, patch, remove
  std::string gr;      // "deployments.apps"
  std::string ns;
  std::string name;
  bool dry_run = false;
  std::string body;
  std::string subresource;
  std::string field_manager;
};

class FakeClient : public kube::Client {
public:
  FakeClient();

  // Seeds an object (as if the cluster had it); returns its uid.
  std::string seed(const std::string& gr, const std::string& json_text);
  const json::Document* find(const std::string& gr, const std::string& ns, const std::string& name) const;
  size_t count(const std::string& gr) const;
  std::vector<Call> calls() const;
  size_t writes() const;  // create/update/patch/remove calls, dry run included

  std::set<std::string> forbidden;   // gr: create answers 403
  int gets_until_gone = 0;           // after delete, an object lingers (deletionTimestamp set) for this many GETs
  bool crds_established = true;
  bool namespaces_get_default_sa = true;
  // Rewrites a created object as the server's field manager would (the object as sent, fieldManager); without
  // it the object is stored as sent, managedFields included.
  std::function<void(json::Document&, const std::string&)> field_manager;

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

private:
  using Key = std::tuple<std::string, std::string, std::string>;
  void store(const Key& key, json::Document doc);
  void record(Call c);

  mutable std::mutex m_mutex;
  std::map<Key, json::Document> m_objects;
  std::map<Key, int> m_lingering;  // deleted, still visible for N GETs
  std::vector<Call> m_calls;
  int m_next_uid = 1;
  int m_rv = 100;
};

// Serves the built-in types plus every CRD the fake client holds (after refresh()).
class FakeResolver : public TypeResolver {
public:
  explicit FakeResolver(FakeClient& client);
  std::optional<kube::ResourceType> find(const std::string& group, const std::string& version,
                                         const std::string& resource) override;
  std::vector<std::string> served_versions(const std::string& group, const std::string& resource) override;
  Result<void> refresh() override;
  int refreshes = 0;

private:
  FakeClient& m_client;
  std::vector<kube::ResourceType> m_types;
};

kube::ResourceType type_of(const std::string& gr, const std::string& version = "v1", bool namespaced = true);

// Builds backups in memory: add("deployments.apps", R"({...})") derives the key from the object.
struct BackupBuilder {
  LoadedBackup backup;
  BackupBuilder& add(const std::string& gr, const std::string& json_text);
};

}  // namespace kbk::restore::test
