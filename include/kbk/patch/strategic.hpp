// Kubernetes strategic merge patch (SMP), applied exactly as the API server's strategicpatch package does
// (`kubectl patch --local --type strategic` is the oracle the tests are checked against).
//
// Lists merge only where the type's patch metadata says so (patchStrategy "merge" + patchMergeKey); every other
// list is replaced; maps merge recursively; a null member deletes. Directives: `$patch: replace|delete` on a map,
// `$patch: replace|delete` elements in a merging list (`$patch: merge` is refused, as by the server),
// `$retainKeys`, `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>`. Ordering of merged lists follows
// the server: $setElementOrder, then patch order, then live order.
//
// Metadata comes from, in order: the built-in table (the published patch tags of the Kubernetes API types, keyed by
// apiVersion + kind), an OpenAPI v3 schema the caller passes (x-kubernetes-patch-strategy / -patch-merge-key,
// x-kubernetes-list-type map|set with x-kubernetes-list-map-keys), else none: then RFC 7386 merge patch is applied
// and the result says so, so the caller can tell the user. Never sent to a server.
#pragma once

#include <string>
#include <string_view>

#include <kbk/json/json.hpp>
#include <kbk/util/error.hpp>

namespace kbk::patch {

enum class SmpSource { builtin, schema, merge_patch };
const char* smp_source_name(SmpSource s);  // "built-in patch metadata", "OpenAPI schema", "JSON merge patch"

// Whether apiVersion/kind is a built-in kind with patch metadata (what the API server accepts SMP for).
bool has_builtin_patch_meta(std::string_view api_version, std::string_view kind);

struct SmpOptions {
  // OpenAPI v3 schema of the object's kind (a CRD version's openAPIV3Schema, or a components/schemas entry).
  const json::Value* schema = nullptr;
  // Document $ref's in `schema` point into ("#/components/schemas/X"); may be null.
  const json::Value* schema_root = nullptr;
  // Refuse kinds without metadata instead of falling back (Velero's and the API server's behaviour).
  bool require_metadata = false;
};

// Applies `patch` (a JSON object) to obj. Atomic: on error obj is unchanged. Returns which metadata was used.
Result<SmpSource> apply_strategic_merge_patch(json::Document& obj, const json::Value& patch, const SmpOptions& opts = {});

}  // namespace kbk::patch
