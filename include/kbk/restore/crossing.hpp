// Transforms for moving an application to another cluster or cloud (docs/migration.md, "Crossing clusters"):
// OpenShift Routes as Ingresses where the target serves no Routes, LoadBalancer Services loosened from the old
// cloud's load balancer, and Secret / ConfigMap values rewritten (--set-secret, --set-configmap).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/restore/plan.hpp>
#include <kbk/restore/transform.hpp>
#include <kbk/util/error.hpp>

namespace kbk::restore {

// ---- Route -> Ingress ----------------------------------------------------------------------------------------

struct RouteOptions {
  std::string ingress_class;  // --ingress-class: spec.ingressClassName of the Ingresses made ("" leaves it unset)
};
// Stage convert. route.openshift.io Routes become networking.k8s.io/v1 Ingresses: host (a Subdomain wildcard
// policy as *.domain), path (Prefix; "/" when none), the Service of spec.to and its port (the Route's targetPort
// resolved to the Service's port through the backed-up Service: its name when it has one, else its number), edge TLS
// as a tls entry whose certificate and key move into a kubernetes.io/tls Secret "<route>-tls" made beside it (an
// edge Route without a certificate gets a tls entry without secretName: the controller's default certificate).
// passthrough and reencrypt Routes are converted with a note that the ingress controller needs its own
// annotations for them; alternateBackends (weights) are dropped with a note. The CRD routes.route.openshift.io is
// skipped (restoring it would serve Routes nobody routes). Notes name every decision.
std::shared_ptr<Transform> make_route_transform(RouteOptions options);

// ---- LoadBalancer Services -----------------------------------------------------------------------------------

// --lb-annotation-mappings OLD:NEW,... for LoadBalancer Services: OLD is an annotation key (or a prefix ending in
// '*', or '+' for "every LoadBalancer Service"); NEW is a key (renamed, value kept), key=value (set), or '-' (drop).
struct LbAnnotationMapping {
  std::string from;  // key, prefix*, or +
  std::string to_key;
  std::string to_value;
  bool set_value = false;
  bool drop = false;
};
Result<std::vector<LbAnnotationMapping>> parse_lb_annotation_mappings(std::string_view spec);

struct LbOptions {
  bool reset = true;  // drop spec.loadBalancerIP and the annotations that bind a Service to one cloud load balancer
  std::vector<LbAnnotationMapping> mappings;
};
// The annotations `reset` drops: provider ids, allocated addresses and status-like annotations of AWS, GCP, Azure,
// Huawei CCE (kubernetes.io/elb.id, elb.eip-id, ...) and MetalLB. docs/migration.md lists them.
const std::vector<std::string>& lb_binding_annotations();
// Stage modify (after the user's modifiers). Only Services of type LoadBalancer.
std::shared_ptr<Transform> make_lb_transform(LbOptions options);

// ---- Secret / ConfigMap values -------------------------------------------------------------------------------

// --set-secret ns/name:key=@file (or =value) and --set-configmap ns/name:key=value (or =@file). ns and name are as
// in the backup (before namespace mappings). The value is read once, here; it never reaches a log or a note.
struct ValueRewrite {
  std::string namespace_, name, key;
  std::string value;
};
Result<ValueRewrite> parse_value_rewrite(std::string_view spec, std::string_view flag);
// Stage modify. Secrets: data[key] = base64(value) (stringData[key] dropped); ConfigMaps: data[key] = value
// (binaryData[key] dropped). Notes say "data.KEY set by --set-secret", never the value. unmatched() names the
// rewrites whose object was not restored (after planning).
class ValueRewriteTransform : public Transform {
public:
  ValueRewriteTransform(std::vector<ValueRewrite> secrets, std::vector<ValueRewrite> configmaps);
  std::string name() const override { return "value rewrites"; }
  Result<TransformOutcome> apply(const TransformContext& ctx, json::Document& object) override;
  std::vector<std::string> unmatched() const;

private:
  std::vector<ValueRewrite> m_secrets, m_configmaps;
  std::vector<bool> m_secret_used, m_configmap_used;
};

// ---- all of them -----------------------------------------------------------------------------------------------

struct CrossingOptions {
  RouteOptions route;
  LbOptions lb;
  std::vector<ValueRewrite> secrets, configmaps;
};
// Adds the transforms to po: the Route conversion first (stage convert) when routes_served is false, then the load
// balancer transform (when reset or mappings) and the value rewrites (stage modify) after the transforms already
// there. Returns the value rewrites (to report the unmatched ones), or null when there are none.
std::shared_ptr<ValueRewriteTransform> add_crossing_transforms(PlanOptions& po, const CrossingOptions& options,
                                                               bool routes_served);

}  // namespace kbk::restore
