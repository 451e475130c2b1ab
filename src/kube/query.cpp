#include "query.hpp"

#include <kbk/json/json.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::kube {
namespace {

void add(std::string& q, std::string_view key, std::string_view value) {
  q += q.empty() ? '?' : '&';
  q += key;
  q += '=';
  q += util::url_encode(value);
}

}  // namespace

std::string list_query(const ListOptions& options, std::string_view continue_token) {
  std::string q;
  if (options.limit > 0) add(q, "limit", std::to_string(options.limit));
  if (!continue_token.empty()) add(q, "continue", continue_token);
  if (!options.label_selector.empty()) add(q, "labelSelector", options.label_selector);
  if (!options.field_selector.empty()) add(q, "fieldSelector", options.field_selector);
  if (continue_token.empty() && !options.resource_version.empty()) add(q, "resourceVersion", options.resource_version);
  return q;
}

std::string write_query(const WriteOptions& options, bool apply_patch) {
  std::string q;
  if (options.dry_run == DryRun::yes) add(q, "dryRun", "All");
  if (!options.field_manager.empty()) add(q, "fieldManager", options.field_manager);
  if (!options.field_validation.empty()) add(q, "fieldValidation", options.field_validation);
  if (apply_patch && options.force) add(q, "force", "true");
  return q;
}

std::string delete_body(const DeleteOptions& options) {
  std::string b = R"({"kind":"DeleteOptions","apiVersion":"v1")";
  if (options.grace_period_seconds) b += ",\"gracePeriodSeconds\":" + std::to_string(*options.grace_period_seconds);
  if (!options.propagation_policy.empty()) b += ",\"propagationPolicy\":\"" + options.propagation_policy + "\"";
  if (options.dry_run == DryRun::yes) b += R"(,"dryRun":["All"])";
  b += "}";
  return b;
}

bool post_stores_nothing(std::string_view path) {
  path = path.substr(0, path.find('?'));
  if (!util::starts_with(path, "/apis/authorization.k8s.io/") && !util::starts_with(path, "/apis/authentication.k8s.io/"))
    return false;
  const std::string_view last = path.substr(path.rfind('/') + 1);
  return util::ends_with(last, "reviews");
}

bool json_patch_is_idempotent(std::string_view body) {
  auto doc = json::parse(body);
  if (!doc.ok() || !doc->IsArray() || doc->Empty()) return false;
  for (const auto& op : doc->GetArray()) {
    const std::string name = json::get_string(op, {"op"});
    if (name != "replace" && name != "test") return false;
  }
  return true;
}

}  // namespace kbk::kube
