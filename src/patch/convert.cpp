// Conversions of removed Kubernetes APIs to the versions that replaced them. Each entry moves the fields whose
// shape changed and makes explicit the defaults that differ between the versions, so the restored object behaves
// as it did on the source cluster. Notes record every such decision (the caller logs them).
#include <kbk/patch/convert.hpp>

#include <functional>

#include <kbk/util/strings.hpp>

namespace kbk::patch {

void ServedApis::add(std::string_view group_version, std::string_view kind) {
  m_gvk.insert(std::string(group_version) + "/" + std::string(kind));
  m_gv.insert(std::string(group_version));
}

bool ServedApis::serves(std::string_view group_version, std::string_view kind) const {
  if (m_gvk.empty()) return true;
  return m_gvk.count(std::string(group_version) + "/" + std::string(kind)) > 0;
}

bool ServedApis::serves_group_version(std::string_view group_version) const {
  return m_gv.empty() || m_gv.count(group_version) > 0;
}

const char* conversion_status_name(ConversionStatus s) {
  switch (s) {
    case ConversionStatus::unchanged: return "served as-is";
    case ConversionStatus::converted: return "converted";
    case ConversionStatus::no_match: return "no matching API";
  }
  return "?";
}

namespace {

using V = json::Value;
using Notes = std::vector<std::string>;
using Fn = std::function<std::string(json::Document&, Notes&)>;  // returns "" or a reason to skip

struct Conversion {
  std::vector<std::string> from;  // group/versions
  std::vector<std::string> kinds;
  std::string to;                 // group/version
  Fn fn;
};

V str(std::string_view s, json::Allocator& a) { return json::make_string(s, a); }

// v1beta1 IngressBackend {serviceName, servicePort} -> v1 {service: {name, port: {number|name}}}.
void convert_ingress_backend(V& b, json::Allocator& a) {
  if (!b.IsObject()) return;
  V* name = json::find(b, "serviceName");
  V* port = json::find(b, "servicePort");
  if (!name && !port) return;
  V service(rapidjson::kObjectType);
  if (name) json::set(service, "name", V(*name, a), a);
  if (port) {
    V p(rapidjson::kObjectType);
    if (port->IsInt64()) json::set(p, "number", V(port->GetInt64()), a);
    else if (port->IsString()) {
      std::string s(port->GetString(), port->GetStringLength());
      bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() < 6;
      if (digits) json::set(p, "number", V(static_cast<int64_t>(std::stoll(s))), a);
      else json::set(p, "name", str(s, a), a);
    }
    json::set(service, "port", std::move(p), a);
  }
  json::erase(b, "serviceName");
  json::erase(b, "servicePort");
  json::set(b, "service", std::move(service), a);
}

std::string ingress(json::Document& d, Notes& notes) {
  auto& a = d.GetAllocator();
  V* spec = json::find(d, "spec");
  if (!spec) return "";
  if (V* backend = json::find(*spec, "backend")) {
    V b(*backend, a);
    convert_ingress_backend(b, a);
    json::erase(*spec, "backend");
    json::set(*spec, "defaultBackend", std::move(b), a);
    notes.push_back("spec.backend -> spec.defaultBackend");
  }
  if (V* rules = json::find(*spec, "rules"); rules && rules->IsArray()) {
    for (auto& rule : rules->GetArray()) {
      V* paths = json::at(rule, {"http", "paths"});
      if (!paths || !paths->IsArray()) continue;
      for (auto& p : paths->GetArray()) {
        if (V* b = json::find(p, "backend")) convert_ingress_backend(*b, a);
        if (!json::find(p, "pathType")) {
          json::set(p, "pathType", str("ImplementationSpecific", a), a);
          notes.push_back("pathType ImplementationSpecific (the v1beta1 default) made explicit");
        }
      }
    }
  }
  return "";
}

std::string same_shape(json::Document&, Notes&) { return ""; }

std::string pdb(json::Document& d, Notes& notes) {
  auto& a = d.GetAllocator();
  V* sel = json::at(d, {"spec", "selector"});
  if (sel && sel->IsObject() && sel->MemberCount() == 0) {
    // An empty selector matched no pods in policy/v1beta1 but matches every pod in policy/v1. Kubernetes' own
    // conversion stores this match-nothing selector for it.
    auto parsed = json::parse(
        R"({"matchExpressions":[{"key":"pdb.kubernetes.io/deprecated-v1beta1-empty-selector-match","operator":"Exists"}]})");
    *sel = V(*parsed, a);
    notes.push_back("empty spec.selector (matched no pods in v1beta1) -> a match-nothing selector");
  }
  return "";
}

// Fills spec.selector from the pod template's labels when absent (apps/v1 requires it).
std::string workload(json::Document& d, Notes& notes, std::string_view from_gv) {
  auto& a = d.GetAllocator();
  V* spec = json::find(d, "spec");
  if (!spec) return "";
  if (!json::find(*spec, "selector")) {
    const V* labels = json::at(*spec, {"template", "metadata", "labels"});
    if (!labels || !labels->IsObject() || labels->MemberCount() == 0)
      return "spec.selector is missing and the pod template has no labels to derive it from";
    V sel(rapidjson::kObjectType);
    json::set(sel, "matchLabels", V(*labels, a), a);
    json::set(*spec, "selector", std::move(sel), a);
    notes.push_back("spec.selector derived from spec.template.metadata.labels");
  }
  std::string kind = json::get_string(d, {"kind"});
  json::erase(*spec, "rollbackTo");
  json::erase(*spec, "templateGeneration");
  // Defaults that differ from apps/v1: keep the source's behaviour.
  bool old_default_ondelete = (kind == "DaemonSet" && from_gv == "extensions/v1beta1") ||
                              (kind == "StatefulSet" && from_gv == "apps/v1beta1");
  if (old_default_ondelete && !json::find(*spec, "updateStrategy")) {
    V us(rapidjson::kObjectType);
    json::set(us, "type", str("OnDelete", a), a);
    json::set(*spec, "updateStrategy", std::move(us), a);
    notes.push_back("updateStrategy OnDelete (the " + std::string(from_gv) + " default) made explicit");
  }
  if (kind == "Deployment" && from_gv == "extensions/v1beta1") {
    if (!json::find(*spec, "revisionHistoryLimit")) {
      json::set(*spec, "revisionHistoryLimit", V(2147483647), a);
      notes.push_back("revisionHistoryLimit 2147483647 (the extensions/v1beta1 default) made explicit");
    }
    if (!json::find(*spec, "progressDeadlineSeconds")) {
      json::set(*spec, "progressDeadlineSeconds", V(2147483647), a);
      notes.push_back("progressDeadlineSeconds 2147483647 (no deadline, the extensions/v1beta1 default) made explicit");
    }
  }
  return "";
}

// autoscaling/v2beta1 MetricSpec -> autoscaling/v2 MetricSpec.
void hpa_metric_v2beta1(V& m, json::Allocator& a) {
  std::string type = json::get_string(m, {"type"});
  auto target = [&](const char* t, const char* field, const V* v) {
    V out(rapidjson::kObjectType);
    json::set(out, "type", str(t, a), a);
    if (v) json::set(out, field, V(*v, a), a);
    return out;
  };
  auto metric_id = [&](const V& src, const char* name_field, const char* selector_field) {
    V id(rapidjson::kObjectType);
    if (const V* n = json::find(src, name_field)) json::set(id, "name", V(*n, a), a);
    if (const V* s = json::find(src, selector_field)) json::set(id, "selector", V(*s, a), a);
    return id;
  };
  if (type == "Resource" || type == "ContainerResource") {
    const char* key = type == "Resource" ? "resource" : "containerResource";
    V* r = json::find(m, key);
    if (!r) return;
    V out(rapidjson::kObjectType);
    if (const V* n = json::find(*r, "name")) json::set(out, "name", V(*n, a), a);
    if (const V* c = json::find(*r, "container")) json::set(out, "container", V(*c, a), a);
    if (const V* u = json::find(*r, "targetAverageUtilization"))
      json::set(out, "target", target("Utilization", "averageUtilization", u), a);
    else if (const V* v = json::find(*r, "targetAverageValue"))
      json::set(out, "target", target("AverageValue", "averageValue", v), a);
    *r = std::move(out);
  } else if (type == "Pods") {
    V* p = json::find(m, "pods");
    if (!p) return;
    V out(rapidjson::kObjectType);
    json::set(out, "metric", metric_id(*p, "metricName", "selector"), a);
    json::set(out, "target", target("AverageValue", "averageValue", json::find(*p, "targetAverageValue")), a);
    *p = std::move(out);
  } else if (type == "Object") {
    V* o = json::find(m, "object");
    if (!o) return;
    V out(rapidjson::kObjectType);
    if (const V* t = json::find(*o, "target")) json::set(out, "describedObject", V(*t, a), a);
    json::set(out, "metric", metric_id(*o, "metricName", "selector"), a);
    if (const V* av = json::find(*o, "averageValue")) json::set(out, "target", target("AverageValue", "averageValue", av), a);
    else json::set(out, "target", target("Value", "value", json::find(*o, "targetValue")), a);
    *o = std::move(out);
  } else if (type == "External") {
    V* e = json::find(m, "external");
    if (!e) return;
    V out(rapidjson::kObjectType);
    json::set(out, "metric", metric_id(*e, "metricName", "metricSelector"), a);
    if (const V* av = json::find(*e, "targetAverageValue"))
      json::set(out, "target", target("AverageValue", "averageValue", av), a);
    else json::set(out, "target", target("Value", "value", json::find(*e, "targetValue")), a);
    *e = std::move(out);
  }
}

std::string hpa_v2beta1(json::Document& d, Notes& notes) {
  auto& a = d.GetAllocator();
  if (V* metrics = json::at(d, {"spec", "metrics"}); metrics && metrics->IsArray())
    for (auto& m : metrics->GetArray()) hpa_metric_v2beta1(m, a);
  if (json::erase(d, "status")) notes.push_back("status dropped (the controller recomputes it)");
  notes.push_back("metrics converted from the v2beta1 shape (target{type,...}, metric{name,selector})");
  return "";
}

std::string hpa_v2beta2(json::Document& d, Notes& notes) {
  if (json::erase(d, "status")) notes.push_back("status dropped (the controller recomputes it)");
  return "";
}

// autoscaling/v1 -> v2: targetCPUUtilizationPercentage and the autoscaling.alpha.kubernetes.io/metrics annotation
// (v2beta1 MetricSpecs as JSON) become spec.metrics.
std::string hpa_v1(json::Document& d, Notes& notes) {
  auto& a = d.GetAllocator();
  V* spec = json::find(d, "spec");
  if (!spec) return "";
  V metrics(rapidjson::kArrayType);
  V* annotations = json::at(d, {"metadata", "annotations"});
  if (annotations) {
    if (V* raw = json::find(*annotations, "autoscaling.alpha.kubernetes.io/metrics"); raw && raw->IsString()) {
      auto parsed = json::parse(std::string_view(raw->GetString(), raw->GetStringLength()), "metrics annotation");
      if (!parsed || !parsed->IsArray()) return "annotation autoscaling.alpha.kubernetes.io/metrics is not a JSON list";
      for (auto& m : parsed->GetArray()) {
        V copy(m, a);
        hpa_metric_v2beta1(copy, a);
        metrics.PushBack(copy, a);
      }
      notes.push_back("metrics from annotation autoscaling.alpha.kubernetes.io/metrics");
    }
    for (const char* k : {"autoscaling.alpha.kubernetes.io/metrics", "autoscaling.alpha.kubernetes.io/conditions",
                          "autoscaling.alpha.kubernetes.io/current-metrics", "autoscaling.alpha.kubernetes.io/behavior"})
      json::erase(*annotations, k);
  }
  if (V* cpu = json::find(*spec, "targetCPUUtilizationPercentage")) {
    auto m = json::parse(R"({"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization"}}})");
    V mv(*m, a);
    json::set(*json::at(mv, {"resource", "target"}), "averageUtilization", V(*cpu, a), a);
    metrics.PushBack(mv, a);
    json::erase(*spec, "targetCPUUtilizationPercentage");
    notes.push_back("targetCPUUtilizationPercentage -> a cpu Utilization metric");
  }
  if (!metrics.Empty()) json::set(*spec, "metrics", std::move(metrics), a);
  json::erase(d, "status");
  return "";
}

std::string crd(json::Document& d, Notes& notes) {
  auto& a = d.GetAllocator();
  V* spec = json::find(d, "spec");
  if (!spec) return "spec is missing";
  V* versions = json::find(*spec, "versions");
  if (!versions || !versions->IsArray() || versions->Empty()) {
    std::string version = json::get_string(*spec, {"version"});
    if (version.empty()) return "neither spec.version nor spec.versions is set";
    V list(rapidjson::kArrayType);
    V v(rapidjson::kObjectType);
    json::set(v, "name", str(version, a), a);
    json::set(v, "served", V(true), a);
    json::set(v, "storage", V(true), a);
    list.PushBack(v, a);
    json::set(*spec, "versions", std::move(list), a);
    versions = json::find(*spec, "versions");
    notes.push_back("spec.version -> spec.versions");
  }
  json::erase(*spec, "version");
  const V* validation_schema = json::at(*spec, {"validation", "openAPIV3Schema"});
  const V* subresources = json::find(*spec, "subresources");
  const V* columns = json::find(*spec, "additionalPrinterColumns");
  const V* preserve = json::find(*spec, "preserveUnknownFields");
  bool preserve_unknown = !preserve || (preserve->IsBool() && preserve->GetBool());  // v1beta1 default: true
  for (auto& v : versions->GetArray()) {
    if (!json::at(v, {"schema", "openAPIV3Schema"})) {
      V schema = validation_schema ? V(*validation_schema, a) : V(rapidjson::kObjectType);
      if (!validation_schema) json::set(schema, "type", str("object", a), a);
      json::ensure_object(v, "schema", a);
      json::set(*json::find(v, "schema"), "openAPIV3Schema", std::move(schema), a);
    }
    if (preserve_unknown) {
      V* s = json::at(v, {"schema", "openAPIV3Schema"});
      if (s && !json::find(*s, "x-kubernetes-preserve-unknown-fields"))
        json::set(*s, "x-kubernetes-preserve-unknown-fields", V(true), a);
    }
    if (subresources && !json::find(v, "subresources")) json::set(v, "subresources", V(*subresources, a), a);
    if (columns && !json::find(v, "additionalPrinterColumns")) json::set(v, "additionalPrinterColumns", V(*columns, a), a);
    if (V* cols = json::find(v, "additionalPrinterColumns"); cols && cols->IsArray()) {
      for (auto& c : cols->GetArray()) {
        if (V* jp = json::find(c, "JSONPath")) {
          V moved(*jp, a);
          json::erase(c, "JSONPath");
          json::set(c, "jsonPath", std::move(moved), a);
        }
      }
    }
  }
  if (validation_schema) notes.push_back("spec.validation -> spec.versions[*].schema");
  if (preserve_unknown) notes.push_back("preserveUnknownFields -> x-kubernetes-preserve-unknown-fields on each schema");
  json::erase(*spec, "validation");
  json::erase(*spec, "subresources");
  json::erase(*spec, "additionalPrinterColumns");
  json::erase(*spec, "preserveUnknownFields");
  if (V* conv = json::find(*spec, "conversion")) {
    V* cc = json::find(*conv, "webhookClientConfig");
    V* crv = json::find(*conv, "conversionReviewVersions");
    if (cc || crv) {
      V webhook(rapidjson::kObjectType);
      if (cc) json::set(webhook, "clientConfig", V(*cc, a), a);
      if (crv) json::set(webhook, "conversionReviewVersions", V(*crv, a), a);
      else {
        V list(rapidjson::kArrayType);
        list.PushBack(str("v1beta1", a), a);
        json::set(webhook, "conversionReviewVersions", std::move(list), a);
      }
      json::erase(*conv, "webhookClientConfig");
      json::erase(*conv, "conversionReviewVersions");
      json::set(*conv, "webhook", std::move(webhook), a);
      notes.push_back("spec.conversion.webhookClientConfig -> spec.conversion.webhook.clientConfig");
    }
  }
  json::erase(d, "status");
  return "";
}

std::string endpoint_slice(json::Document& d, Notes& notes) {
  auto& a = d.GetAllocator();
  V* eps = json::find(d, "endpoints");
  if (!eps || !eps->IsArray()) return "";
  for (auto& ep : eps->GetArray()) {
    V* topo = json::find(ep, "topology");
    if (!topo || !topo->IsObject()) continue;
    V rest(rapidjson::kObjectType);
    for (auto& m : topo->GetObject()) {
      std::string_view k(m.name.GetString(), m.name.GetStringLength());
      if (k == "kubernetes.io/hostname" && !json::find(ep, "nodeName")) json::set(ep, "nodeName", V(m.value, a), a);
      else if (k == "topology.kubernetes.io/zone" && !json::find(ep, "zone")) json::set(ep, "zone", V(m.value, a), a);
      else rest.AddMember(V(m.name, a), V(m.value, a), a);
    }
    json::erase(ep, "topology");
    if (rest.MemberCount() > 0) json::set(ep, "deprecatedTopology", std::move(rest), a);
    notes.push_back("endpoints[].topology -> nodeName, zone, deprecatedTopology");
  }
  return "";
}

std::string webhooks(json::Document& d, Notes& notes) {
  auto& a = d.GetAllocator();
  V* hooks = json::find(d, "webhooks");
  if (!hooks || !hooks->IsArray()) return "";
  for (auto& h : hooks->GetArray()) {
    std::string name = json::get_string(h, {"name"});
    std::string se = json::get_string(h, {"sideEffects"}, "Unknown");
    if (se == "Unknown" || se == "Some") {
      std::string to = se == "Unknown" ? "None" : "NoneOnDryRun";
      json::set(h, "sideEffects", str(to, a), a);
      notes.push_back("webhook " + name + ": sideEffects " + se + " -> " + to + " (v1 allows only None/NoneOnDryRun)");
    }
    if (!json::find(h, "admissionReviewVersions")) {
      V list(rapidjson::kArrayType);
      list.PushBack(str("v1beta1", a), a);
      json::set(h, "admissionReviewVersions", std::move(list), a);
    }
    if (!json::find(h, "failurePolicy")) json::set(h, "failurePolicy", str("Ignore", a), a);
    if (!json::find(h, "matchPolicy")) json::set(h, "matchPolicy", str("Exact", a), a);
    if (!json::find(h, "timeoutSeconds")) json::set(h, "timeoutSeconds", V(30), a);
  }
  notes.push_back("v1beta1 defaults made explicit: admissionReviewVersions [v1beta1], failurePolicy Ignore, "
                  "matchPolicy Exact, timeoutSeconds 30");
  return "";
}

std::string removed_without_replacement(json::Document& d, Notes&) {
  return json::get_string(d, {"kind"}) + " was removed from Kubernetes without a replacement API";
}

const std::vector<Conversion>& table() {
  static const std::vector<Conversion> t = {
      {{"extensions/v1beta1", "networking.k8s.io/v1beta1"}, {"Ingress"}, "networking.k8s.io/v1", ingress},
      {{"networking.k8s.io/v1beta1"}, {"IngressClass"}, "networking.k8s.io/v1", same_shape},
      {{"extensions/v1beta1"}, {"NetworkPolicy"}, "networking.k8s.io/v1", same_shape},
      {{"batch/v1beta1", "batch/v2alpha1"}, {"CronJob"}, "batch/v1", same_shape},
      {{"policy/v1beta1"}, {"PodDisruptionBudget"}, "policy/v1", pdb},
      {{"policy/v1beta1", "extensions/v1beta1"}, {"PodSecurityPolicy"}, "", removed_without_replacement},
      {{"autoscaling/v2beta1"}, {"HorizontalPodAutoscaler"}, "autoscaling/v2", hpa_v2beta1},
      {{"autoscaling/v2beta2"}, {"HorizontalPodAutoscaler"}, "autoscaling/v2", hpa_v2beta2},
      {{"autoscaling/v1"}, {"HorizontalPodAutoscaler"}, "autoscaling/v2", hpa_v1},
      {{"extensions/v1beta1", "apps/v1beta1", "apps/v1beta2"}, {"Deployment"}, "apps/v1",
       [](json::Document& d, Notes& n) { return workload(d, n, json::get_string(d, {"apiVersion"})); }},
      {{"extensions/v1beta1", "apps/v1beta2"}, {"DaemonSet", "ReplicaSet"}, "apps/v1",
       [](json::Document& d, Notes& n) { return workload(d, n, json::get_string(d, {"apiVersion"})); }},
      {{"apps/v1beta1", "apps/v1beta2"}, {"StatefulSet"}, "apps/v1",
       [](json::Document& d, Notes& n) { return workload(d, n, json::get_string(d, {"apiVersion"})); }},
      {{"apps/v1beta1", "apps/v1beta2"}, {"ControllerRevision"}, "apps/v1", same_shape},
      {{"apiextensions.k8s.io/v1beta1"}, {"CustomResourceDefinition"}, "apiextensions.k8s.io/v1", crd},
      {{"discovery.k8s.io/v1beta1"}, {"EndpointSlice"}, "discovery.k8s.io/v1", endpoint_slice},
      {{"rbac.authorization.k8s.io/v1beta1", "rbac.authorization.k8s.io/v1alpha1"},
       {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}, "rbac.authorization.k8s.io/v1", same_shape},
      {{"storage.k8s.io/v1beta1"}, {"StorageClass", "VolumeAttachment", "CSIDriver", "CSINode", "CSIStorageCapacity"},
       "storage.k8s.io/v1", same_shape},
      {{"scheduling.k8s.io/v1beta1", "scheduling.k8s.io/v1alpha1"}, {"PriorityClass"}, "scheduling.k8s.io/v1", same_shape},
      {{"coordination.k8s.io/v1beta1"}, {"Lease"}, "coordination.k8s.io/v1", same_shape},
      {{"node.k8s.io/v1beta1"}, {"RuntimeClass"}, "node.k8s.io/v1", same_shape},
      {{"events.k8s.io/v1beta1"}, {"Event"}, "events.k8s.io/v1", same_shape},
      {{"flowcontrol.apiserver.k8s.io/v1beta1", "flowcontrol.apiserver.k8s.io/v1beta2",
        "flowcontrol.apiserver.k8s.io/v1beta3"},
       {"FlowSchema", "PriorityLevelConfiguration"}, "flowcontrol.apiserver.k8s.io/v1", same_shape},
      {{"admissionregistration.k8s.io/v1beta1"}, {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"},
       "admissionregistration.k8s.io/v1", webhooks},
  };
  return t;
}

}  // namespace

ConversionResult convert_to_served(json::Document& obj, const ServedApis& served) {
  ConversionResult r;
  std::string gv = json::get_string(obj, {"apiVersion"});
  std::string kind = json::get_string(obj, {"kind"});
  r.from = gv + " " + kind;
  if (served.serves(gv, kind)) return r;
  for (const auto& c : table()) {
    if (std::find(c.from.begin(), c.from.end(), gv) == c.from.end()) continue;
    if (std::find(c.kinds.begin(), c.kinds.end(), kind) == c.kinds.end()) continue;
    if (c.to.empty()) {
      r.status = ConversionStatus::no_match;
      r.reason = c.fn(obj, r.notes);
      return r;
    }
    if (!served.serves(c.to, kind)) {
      r.status = ConversionStatus::no_match;
      r.reason = "the target serves neither " + gv + " nor " + c.to + " for " + kind;
      return r;
    }
    json::Document work = json::clone(obj);
    std::string reason = c.fn(work, r.notes);
    if (!reason.empty()) {
      r.status = ConversionStatus::no_match;
      r.reason = reason;
      r.notes.clear();
      return r;
    }
    json::set(work, "apiVersion", json::make_string(c.to, work.GetAllocator()), work.GetAllocator());
    obj.Swap(work);
    r.status = ConversionStatus::converted;
    r.to = c.to + " " + kind;
    return r;
  }
  r.status = ConversionStatus::no_match;
  r.reason = "the target does not serve " + gv + " " + kind + " and kbk knows no conversion for it";
  return r;
}

std::vector<std::string> known_conversions() {
  std::vector<std::string> out;
  for (const auto& c : table())
    for (const auto& from : c.from)
      for (const auto& k : c.kinds)
        out.push_back(from + " " + k + " -> " + (c.to.empty() ? std::string("(removed, skipped)") : c.to));
  return out;
}

}  // namespace kbk::patch
