#include <kbk/kube/resource.hpp>

#include <algorithm>

namespace kbk::kube {

std::string ResourceType::group_resource() const { return group.empty() ? resource : resource + "." + group; }

std::string ResourceType::api_version() const { return group.empty() ? version : group + "/" + version; }

bool ResourceType::has_verb(std::string_view verb) const {
  return std::find(verbs.begin(), verbs.end(), verb) != verbs.end();
}

bool ResourceType::has_subresource(std::string_view sub) const {
  return std::find(subresources.begin(), subresources.end(), sub) != subresources.end();
}

std::string_view ResourceType::missing_backup_verb() const {
  for (std::string_view verb : {"list", "get", "create", "delete"})
    if (!has_verb(verb)) return verb;
  return {};
}

std::string ResourceType::collection_path(std::string_view ns) const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) {
    p += "/namespaces/";
    p += ns;
  }
  p += "/" + resource;
  return p;
}

std::string ResourceType::object_path(std::string_view ns, std::string_view name, std::string_view subresource) const {
  std::string p = collection_path(ns);
  p += "/";
  p += name;
  if (!subresource.empty()) {
    p += "/";
    p += subresource;
  }
  return p;
}

}  // namespace kbk::kube
