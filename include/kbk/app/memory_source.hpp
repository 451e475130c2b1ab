// A backup's contents as an object source: a read-only kube::Client over objects held as JSON text, and the
// kube::Discovery of their types, so that the walk (walk.hpp) runs over a backup exactly as it runs over the live
// cluster (restore create --app, app diff). LIST and GET answer as an API server would (namespace scope, label
// selectors, paging with continue tokens, 404 for what the backup does not hold); every write is refused.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/kube/client.hpp>
#include <kbk/kube/discovery.hpp>

namespace kbk::app {

class MemorySource final : public kube::Client {
public:
  // One object of type rt (group, version, resource, kind, namespaced) in ns ("" = cluster-scoped). The text is
  // not copied: it must outlive the source (a restore's LoadedBackup holds it).
  void add(const kube::ResourceType& rt, const std::string& ns, const std::string& name, const std::string* text);
  size_t size() const { return m_count; }

  // The types added, with the verbs a backup needs and kubectl's short names for built-in types, so that
  // resource names in definitions resolve as they do against a server.
  kube::Discovery discovery() const;

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
  struct Object {
    std::string ns, name;
    const std::string* text;
  };
  struct Type {
    kube::ResourceType rt;
    std::vector<Object> objects;  // in the order added
    std::map<std::pair<std::string, std::string>, size_t> index;  // (ns, name) -> objects
  };
  Type* find(const kube::ResourceType& rt);
  std::map<std::string, Type> m_types;  // group_resource -> objects
  size_t m_count = 0;
};

}  // namespace kbk::app
