// Applications as the walk's scope (docs/format-application.md sections 2 and 4): resource names resolved against
// the source's discovery (the live cluster or a backup), each listed object asked of every part in order (the first
// part that selects it and does not exclude it takes it), followed objects checked against the excludes of the part
// that led to them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <kbk/app/definition.hpp>
#include <kbk/app/walk.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/util/error.hpp>

namespace kbk::app {

class AppScope final : public Scope {
public:
  // Errc::config naming the entry (FILE:LINE:COL) for a resource under the wrong scope field (a cluster-scoped type
  // under resources, a namespaced one under clusterResources). Names that resolve to nothing are warnings.
  static Result<std::unique_ptr<AppScope>> make(const Application& app, const kube::Discovery& discovery);
  ~AppScope() override;

  Decision type(const kube::ResourceType& rt) const override;
  Decision namespace_(std::string_view ns) const override;
  bool namespaces_include_everything() const override;
  bool lists_per_namespace() const override;
  std::vector<std::string> namespaces_to_list(const std::vector<std::string>& existing) const override;
  std::vector<std::string> list_selectors(const kube::ResourceType& rt) const override;
  Match object(const kube::ResourceType& rt, const json::Value& obj) const override;
  Decision related_type(const kube::ResourceType& rt) const override;
  Match related(const kube::ResourceType& rt, std::string_view ns, std::string_view name, const json::Value* obj,
                int part) const override;
  Match namespace_object(std::string_view ns, const json::Value& obj, bool has_items, int part) const override;
  Follow follow(int part) const override;
  std::vector<std::pair<int, HelmRelease>> helm_releases() const override;
  std::string part_name(int part) const override;

  const Application& application() const;
  // Resource names that resolve to nothing on this source, as "FILE:LINE:COL: ...".
  const std::vector<std::string>& warnings() const;
  // --explain: one line per part on whether it selects obj (of type rt), and why not.
  std::vector<std::string> explain(const kube::ResourceType& rt, const json::Value& obj) const;

private:
  AppScope();
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// make() returning the Scope interface, for callers that only walk.
Result<std::unique_ptr<Scope>> make_scope(const Application& app, const kube::Discovery& discovery);

}  // namespace kbk::app
