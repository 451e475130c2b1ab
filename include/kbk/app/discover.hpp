// kbk app discover: draft application definitions from a running cluster (docs/format-application.md section 10).
// The cluster is read once by the walk (every type, the given namespaces and every cluster-scoped object, nothing
// followed), each object kept as a small record (labels, Helm annotations, owners, references); then objects are
// grouped by Helm release, by app.kubernetes.io labels and by owner graphs, Services join the group whose pods they
// select, and what groups refer to (pod-spec references, RBAC bound to their ServiceAccounts, cluster-scoped
// objects, webhooks calling their Services, CRDs of their custom resources) is noted as what following will add.
#pragma once

#include <string>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/util/error.hpp>
#include <kbk/util/progress.hpp>

namespace kbk::app {

struct DiscoverOptions {
  std::vector<std::string> namespaces;  // empty: every namespace but kube-system, kube-public, kube-node-lease
  int parallel = 4;
  int64_t page_size = 500;
  util::ProgressSink* progress = nullptr;
};

struct DraftPart {
  json::Document part;                // one entry of spec.parts
  std::vector<std::string> comments;  // where it came from, what following adds, what is shared
};

struct Draft {
  std::string name;
  std::string origin;                 // "Helm release certs/cert-manager", "label app.kubernetes.io/part-of=shop", ...
  std::vector<std::string> namespaces;
  std::vector<DraftPart> parts;
  size_t objects = 0;                 // objects of the cluster the draft accounts for (members and followed)
  json::Document definition() const;  // the Application document
};

struct Drafts {
  std::vector<Draft> applications;
  std::vector<std::string> warnings;  // outcomes met while reading the cluster
  size_t failures = 0;                // types or namespaces that could not be read: the drafts may miss objects
  size_t objects = 0;                 // objects read
};

Result<Drafts> discover(kube::Client& client, const kube::Discovery& discovery, const DiscoverOptions& options = {});

// One YAML document per application, "---" between them, each part preceded by its comments.
std::string drafts_to_yaml(const Drafts& d);
// {"applications": [{"definition": {...}, "origin", "comments": {"<part>": [...]}}], "warnings": [...]}
json::Document drafts_to_json(const Drafts& d);

}  // namespace kbk::app
