// Query strings for list, write and delete requests (kube-internal; tests include it directly).
#pragma once

#include <string>
#include <string_view>

#include <kbk/kube/client.hpp>

namespace kbk::kube {

// "?limit=500&labelSelector=app%3Dweb..." for one LIST page. resourceVersion is only sent on the first page
// (continue_token empty): the server rejects continue together with a resourceVersion.
std::string list_query(const ListOptions& options, std::string_view continue_token);
// "?fieldManager=kbk&dryRun=All&fieldValidation=Strict&force=true" ("" when nothing applies). force only
// goes with apply patches.
std::string write_query(const WriteOptions& options, bool apply_patch);
// The DeleteOptions body kubectl sends.
std::string delete_body(const DeleteOptions& options);
// Whether a POST to `path` only asks a question: the review APIs of authorization.k8s.io and authentication.k8s.io
// (SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview, LocalSubjectAccessReview,
// SelfSubjectReview, TokenReview) answer about the request and store nothing, so sending one again after a 5xx or
// a lost answer cannot do anything twice.
bool post_stores_nothing(std::string_view path);
// Whether a JSON patch (RFC 6902) may be sent twice with the effect of once: only `replace` and `test` operations
// (restore's patch of /metadata/managedFields is one replace). `add` may append to a list, `remove` of an already
// removed path fails, `move` and `copy` depend on what the first one did.
bool json_patch_is_idempotent(std::string_view body);

}  // namespace kbk::kube
