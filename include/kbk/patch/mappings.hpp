// First-class mappings applied to every restored object after the user's modifier rules: storage classes,
// ingress classes and container images. (Namespace mapping, with its reference rewrites, is the restore engine's.)
//
// Order of the whole transform (documented in docs/format-modifiers.md): sanitize -> API-version conversion ->
// user modifier rules -> storage-class, image and ingress-class mappings -> namespace mapping.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/util/error.hpp>

namespace kbk::patch {

// A parsed image reference: registry (Docker Hub normalised to docker.io), repository path (library/ added to
// single-component Hub names), tag and digest.
struct ImageRef {
  std::string registry;
  std::string repository;
  std::string tag;
  std::string digest;
  std::string normalized() const;  // registry/repository[:tag][@digest]
};
std::optional<ImageRef> parse_image_ref(std::string_view ref);

struct ImageMapping {
  std::string from;  // as written
  std::string to;
  std::string from_normalized;  // a prefix of normalized references, matched at a component boundary
};

struct Mappings {
  std::map<std::string, std::string> storage_classes;
  std::map<std::string, std::string> ingress_classes;
  std::vector<ImageMapping> images;

  bool empty() const { return storage_classes.empty() && ingress_classes.empty() && images.empty(); }
  // "old:new[,old:new...]" (also repeatable: call again to add). Errors name the bad entry.
  static Result<std::map<std::string, std::string>> parse_pairs(std::string_view spec, std::string_view what);
  // "OLD=NEW[,OLD=NEW...]"; an entry without '=' may use "OLD:NEW" when it holds exactly one ':'.
  static Result<std::vector<ImageMapping>> parse_images(std::string_view spec);
  static Result<ImageMapping> make_image_mapping(std::string_view from, std::string_view to);

  // Applies every mapping that concerns obj's kind. Returns one line per change ("spec.storageClassName: a -> b").
  std::vector<std::string> apply(json::Document& obj) const;
};

// The mapped reference, or nullopt when no mapping matches (the first matching mapping wins).
std::optional<std::string> map_image(std::string_view ref, const std::vector<ImageMapping>& mappings);

// The pod spec inside obj for the kinds that carry one (Pod, pod templates, CronJob job templates); nullptr otherwise.
json::Value* pod_spec_of(json::Value& obj);
const json::Value* pod_spec_of(const json::Value& obj);

// "deployments.apps", "persistentvolumeclaims" from apiVersion + kind: the built-in resource names, else the
// lower-case kind pluralised as Kubernetes does (for `kbk modifiers apply`, which has no discovery).
std::string group_resource_for(std::string_view api_version, std::string_view kind);

}  // namespace kbk::patch
