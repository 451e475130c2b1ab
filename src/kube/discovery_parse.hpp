// Discovery document parsing (kube-internal; tests include it directly).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <kbk/kube/discovery.hpp>

namespace kbk::kube {

// The Accept header for /api and /apis: aggregated v2, then v2beta1, then the legacy documents.
extern const char* const k_discovery_accept;

struct ParsedDiscovery {
  std::vector<GroupInfo> groups;
  std::vector<ResourceType> resources;
  std::vector<std::string> warnings;
  std::vector<std::pair<std::string, std::string>> failed;  // group, version whose list could not be read
  void append(ParsedDiscovery other);
};

// True for application/json;g=apidiscovery.k8s.io;v=v2|v2beta1;as=APIGroupDiscoveryList (any parameter order).
bool is_aggregated_content_type(std::string_view content_type);
// An APIGroupDiscoveryList. Stale versions are skipped with a warning; the first fresh version is preferred.
Result<ParsedDiscovery> parse_aggregated(std::string_view body);
// A legacy APIResourceList of one group version; "x/y" entries become subresource y of x.
Result<std::vector<ResourceType>> parse_resource_list(std::string_view body, std::string_view group,
                                                      std::string_view version);

}  // namespace kbk::kube
