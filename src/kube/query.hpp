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

}  // namespace kbk::kube
