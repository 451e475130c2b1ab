// Discovery: every group, version and resource the server serves, and how kubectl resolves what users type.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/kube/client.hpp>
#include <kbk/kube/resource.hpp>
#include <kbk/util/error.hpp>

namespace kbk::kube {

struct GroupInfo {
  std::string name;                    // "" for core
  std::string preferred_version;
  std::vector<std::string> versions;   // in the server's order (preferred first)
};

class Discovery {
public:
  Discovery() = default;
  Discovery(std::vector<GroupInfo> groups, std::vector<ResourceType> all, std::vector<std::string> warnings);

  // Fetches aggregated discovery (one request) where served, else the legacy documents. A group whose
  // discovery fails is recorded in warnings(), not an error. Errors only when the server is unreachable.
  static Result<Discovery> fetch(Client& client);

  const std::vector<GroupInfo>& groups() const { return m_groups; }
  // Every resource at every served version (subresources excluded), in discovery order.
  const std::vector<ResourceType>& all_versions() const { return m_all; }
  // One entry per group/resource at the group's preferred version, in discovery order (core first).
  std::vector<ResourceType> preferred() const;
  const std::vector<std::string>& warnings() const { return m_warnings; }

  // Resolves what a user types as kubectl does: "deploy", "deployment", "deployments", "Deployment",
  // "deployments.apps", "deployments.v1.apps", "deployment.apps". Core group first, then discovery order.
  // Errc::not_found with kubectl's wording when nothing matches.
  Result<ResourceType> resolve(std::string_view name) const;
  // The preferred-version entry for a group/resource, or nullptr.
  const ResourceType* find(std::string_view group, std::string_view resource) const;
  // The entry for an exact group/version/resource, or nullptr.
  const ResourceType* find(std::string_view group, std::string_view version, std::string_view resource) const;
  // The preferred-version entry serving a kind in a group (restore maps archive items by apiVersion+kind).
  const ResourceType* find_kind(std::string_view group, std::string_view kind) const;

private:
  std::vector<GroupInfo> m_groups;
  std::vector<ResourceType> m_all;
  std::vector<std::string> m_warnings;
};

}  // namespace kbk::kube
