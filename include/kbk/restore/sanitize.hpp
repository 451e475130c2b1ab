// Built-in sanitizers: what every restored object loses or changes so the target cluster accepts it and its
// controllers take over (velero-facts.md 3.4-3.6, and more). Each function changes `obj` in place (its own
// allocator) and appends one note per change to `notes`. Exposed for the plan and its unit tests.
#pragma once

#include <string>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/restore/options.hpp>

namespace kbk::restore {

using Notes = std::vector<std::string>;

// Drops uid, resourceVersion, generation, creationTimestamp, deletionTimestamp, deletionGracePeriodSeconds,
// selfLink, generateName (the name is set) and ownerReferences; moves managedFields into `managed_fields`
// and status into `status` (both left null when absent).
void reset_metadata(json::Document& obj, json::Document& managed_fields, json::Document& status, Notes& notes);
// The same, dropping managedFields or status without a copy where the pointer is null (what the plan does not keep).
void reset_metadata(json::Document& obj, json::Document* managed_fields, json::Document* status, Notes& notes);
// Services: clusterIP/clusterIPs (unless headless "None"); nodePorts and healthCheckNodePort unless preserved
// or written by the user in kubectl.kubernetes.io/last-applied-configuration; ipFamilies and ipFamilyPolicy when
// the backed-up managedFields (an array) show the server allocated them (no entry owns them), as it allocated
// clusterIP: the target allocates them again, and the create keeps the entries as they were.
void sanitize_service(json::Document& obj, NodePorts node_ports, Notes& notes, const json::Value* managed_fields = nullptr);
// Pods: nodeName, priority (recomputed from priorityClassName), legacy `<sa>-token-*` volumes and mounts.
void sanitize_pod(json::Document& obj, Notes& notes);
// Jobs: controller-uid labels (both spellings) everywhere and the generated selector.
void sanitize_job(json::Document& obj, Notes& notes);
// PVCs: bind annotations; spec.volumeName when `drop_volume_name`.
void sanitize_pvc(json::Document& obj, bool drop_volume_name, Notes& notes);
// PVs: claimRef uid/resourceVersion and bind annotations.
void sanitize_pv(json::Document& obj, Notes& notes);
// ServiceAccounts: `<sa>-token-*` entries of secrets[].
void sanitize_service_account(json::Document& obj, Notes& notes);
// Service-account token Secrets that are kept: uid annotation and token/ca.crt/namespace data (refilled).
void sanitize_token_secret(json::Document& obj, Notes& notes);
// Namespaces keep only name, labels, annotations and spec.
void sanitize_namespace(json::Document& obj, Notes& notes);
// CRDs: spec.preserveUnknownFields=true becomes x-kubernetes-preserve-unknown-fields on every schema.
void sanitize_crd(json::Document& obj, Notes& notes);

// True for an auto-generated legacy service-account token Secret (type kubernetes.io/service-account-token,
// annotation kubernetes.io/service-account.name=<sa>, name <sa>-token-*).
bool is_auto_token_secret(const json::Value& obj);

}  // namespace kbk::restore
