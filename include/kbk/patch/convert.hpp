// API-version conversion for APIs Kubernetes removed: an object from an older cluster is rewritten to a
// group/version the target serves (Ingress extensions/v1beta1 -> networking.k8s.io/v1, CronJob batch/v1beta1 ->
// batch/v1, ...). Table-driven: each conversion knows its source group/version/kind, its target and how to move
// the fields whose shape changed; the list is in docs/format-modifiers.md.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>

namespace kbk::patch {

// The group/version/kinds a target cluster serves (from discovery, or a backup manifest when offline).
class ServedApis {
public:
  void add(std::string_view group_version, std::string_view kind);
  bool serves(std::string_view group_version, std::string_view kind) const;
  bool serves_group_version(std::string_view group_version) const;
  bool empty() const { return m_gvk.empty(); }

private:
  std::set<std::string, std::less<>> m_gvk;  // "apps/v1/Deployment", "v1/Pod"
  std::set<std::string, std::less<>> m_gv;
};

enum class ConversionStatus { unchanged, converted, no_match };
const char* conversion_status_name(ConversionStatus s);  // "served as-is", "converted", "no matching API"

struct ConversionResult {
  ConversionStatus status = ConversionStatus::unchanged;
  std::string from;    // "extensions/v1beta1 Ingress"
  std::string to;      // "networking.k8s.io/v1 Ingress" when converted
  std::string reason;  // why no_match (or a note for converted objects)
  std::vector<std::string> notes;  // field-level notes ("spec.backend -> spec.defaultBackend")
};

// Converts obj in place when its apiVersion/kind is not served and a built-in conversion reaches a served one.
// With an empty ServedApis everything counts as served (unchanged).
ConversionResult convert_to_served(json::Document& obj, const ServedApis& served);

// The conversions kbk knows: "extensions/v1beta1 Ingress -> networking.k8s.io/v1", one per line (for --help/docs).
std::vector<std::string> known_conversions();

}  // namespace kbk::patch
