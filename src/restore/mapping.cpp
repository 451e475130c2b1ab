// Namespace mapping (see mapping.hpp).
#include <kbk/restore/mapping.hpp>

#include <kbk/util/strings.hpp>

namespace kbk::restore {
namespace {

const char* const k_ns_name_label = "kubernetes.io/metadata.name";

struct Mapper {
  const NamespaceMap& m;
  json::Allocator& alloc;
  std::vector<std::string>& notes;

  // Rewrites a string value holding a namespace; returns true when it changed.
  bool ns_value(json::Value* v, const std::string& where) {
    if (!v || !v->IsString()) return false;
    std::string old(v->GetString(), v->GetStringLength());
    auto it = m.find(old);
    if (it == m.end()) return false;
    v->SetString(it->second.c_str(), static_cast<rapidjson::SizeType>(it->second.size()), alloc);
    notes.push_back(where + ": " + old + " -> " + it->second);
    return true;
  }

  // "system:serviceaccount:<ns>:<name>" and "system:serviceaccounts:<ns>".
  void sa_user(json::Value* v, const std::string& where) {
    if (!v || !v->IsString()) return;
    std::string s(v->GetString(), v->GetStringLength());
    for (const std::string prefix : {"system:serviceaccount:", "system:serviceaccounts:"}) {
      if (!util::starts_with(s, prefix)) continue;
      std::string rest = s.substr(prefix.size());
      auto colon = rest.find(':');
      std::string ns = rest.substr(0, colon);
      auto it = m.find(ns);
      if (it == m.end()) return;
      std::string now = prefix + it->second + (colon == std::string::npos ? "" : rest.substr(colon));
      v->SetString(now.c_str(), static_cast<rapidjson::SizeType>(now.size()), alloc);
      notes.push_back(where + ": " + s + " -> " + now);
      return;
    }
  }

  void namespace_selector(json::Value* sel, const std::string& where) {
    if (!sel || !sel->IsObject()) return;
    ns_value(json::at(*sel, {"matchLabels", k_ns_name_label}), where + ".matchLabels[" + k_ns_name_label + "]");
    json::Value* exprs = json::find(*sel, "matchExpressions");
    if (!exprs || !exprs->IsArray()) return;
    for (rapidjson::SizeType i = 0; i < exprs->Size(); ++i) {
      json::Value& e = (*exprs)[i];
      if (json::get_string(e, {"key"}) != k_ns_name_label) continue;
      json::Value* values = json::find(e, "values");
      if (!values || !values->IsArray()) continue;
      for (rapidjson::SizeType j = 0; j < values->Size(); ++j)
        ns_value(&(*values)[j], where + ".matchExpressions[" + std::to_string(i) + "].values[" + std::to_string(j) + "]");
    }
  }

  void peers(json::Value* rules, const char* list, const std::string& where) {
    if (!rules || !rules->IsArray()) return;
    for (rapidjson::SizeType i = 0; i < rules->Size(); ++i) {
      json::Value* ps = json::find((*rules)[i], list);
      if (!ps || !ps->IsArray()) continue;
      for (rapidjson::SizeType j = 0; j < ps->Size(); ++j)
        namespace_selector(json::find((*ps)[j], "namespaceSelector"),
                           where + "[" + std::to_string(i) + "]." + list + "[" + std::to_string(j) + "].namespaceSelector");
    }
  }
};

}  // namespace

std::string mapped_namespace(const NamespaceMap& mappings, const std::string& ns) {
  auto it = mappings.find(ns);
  return it == mappings.end() ? ns : it->second;
}

void map_namespaces(json::Document& obj, const std::string& group, const std::string& kind,
                    const NamespaceMap& mappings, std::vector<std::string>& notes) {
  if (mappings.empty()) return;
  Mapper mp{mappings, obj.GetAllocator(), notes};
  json::Value* md = json::find(obj, "metadata");
  if (md && md->IsObject()) mp.ns_value(json::find(*md, "namespace"), "metadata.namespace");

  if (group.empty() && kind == "Namespace") {
    if (md && md->IsObject()) {
      mp.ns_value(json::find(*md, "name"), "metadata.name");
      json::Value* labels = json::find(*md, "labels");
      if (labels && labels->IsObject()) {
        json::Value* l = json::find(*labels, k_ns_name_label);
        if (l && l->IsString()) {
          std::string name = json::get_string(*md, {"name"});
          l->SetString(name.c_str(), static_cast<rapidjson::SizeType>(name.size()), obj.GetAllocator());
        }
      }
    }
  } else if (group == "rbac.authorization.k8s.io" && (kind == "RoleBinding" || kind == "ClusterRoleBinding")) {
    json::Value* subjects = json::find(obj, "subjects");
    if (subjects && subjects->IsArray())
      for (rapidjson::SizeType i = 0; i < subjects->Size(); ++i) {
        json::Value& s = (*subjects)[i];
        std::string where = "subjects[" + std::to_string(i) + "]";
        mp.ns_value(json::find(s, "namespace"), where + ".namespace");
        std::string skind = json::get_string(s, {"kind"});
        if (skind == "User" || skind == "Group") mp.sa_user(json::find(s, "name"), where + ".name");
      }
  } else if (group.empty() && kind == "PersistentVolume") {
    mp.ns_value(json::at(obj, {"spec", "claimRef", "namespace"}), "spec.claimRef.namespace");
  } else if (group == "networking.k8s.io" && kind == "NetworkPolicy") {
    mp.peers(json::at(obj, {"spec", "ingress"}), "from", "spec.ingress");
    mp.peers(json::at(obj, {"spec", "egress"}), "to", "spec.egress");
  } else if (group == "admissionregistration.k8s.io" &&
             (kind == "MutatingWebhookConfiguration" || kind == "ValidatingWebhookConfiguration")) {
    json::Value* hooks = json::find(obj, "webhooks");
    if (hooks && hooks->IsArray())
      for (rapidjson::SizeType i = 0; i < hooks->Size(); ++i)
        mp.ns_value(json::at((*hooks)[i], {"clientConfig", "service", "namespace"}),
                    "webhooks[" + std::to_string(i) + "].clientConfig.service.namespace");
  } else if (group == "apiregistration.k8s.io" && kind == "APIService") {
    mp.ns_value(json::at(obj, {"spec", "service", "namespace"}), "spec.service.namespace");
  } else if (group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition") {
    mp.ns_value(json::at(obj, {"spec", "conversion", "webhook", "clientConfig", "service", "namespace"}),
                "spec.conversion.webhook.clientConfig.service.namespace");
  }
}

}  // namespace kbk::restore
