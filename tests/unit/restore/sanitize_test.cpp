#include <catch2/catch.hpp>

#include <algorithm>

#include <kbk/restore/mapping.hpp>
#include <kbk/restore/sanitize.hpp>

using namespace kbk;
using namespace kbk::restore;

namespace {
json::Document doc(const char* text) {
  auto d = json::parse(text);
  REQUIRE(d.ok());
  return std::move(*d);
}
bool has(const json::Value& v, std::initializer_list<std::string_view> path) { return json::at(v, path) != nullptr; }
}  // namespace

TEST_CASE("reset_metadata", "[sanitize]") {
  auto d = doc(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"n","uid":"u","resourceVersion":"5",
    "generation":2,"creationTimestamp":"t","deletionTimestamp":"t","deletionGracePeriodSeconds":30,"selfLink":"/x",
    "generateName":"c-","ownerReferences":[{"kind":"X","name":"o","uid":"ou"}],"finalizers":["keep"],"labels":{"a":"b"},
    "managedFields":[{"manager":"argocd","operation":"Apply"}]},"data":{"k":"v"},"status":{"phase":"x"}})");
  json::Document mf, st;
  Notes notes;
  reset_metadata(d, mf, st, notes);
  for (const char* k : {"uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "selfLink", "generateName", "ownerReferences", "managedFields"})
    CHECK_FALSE(has(d, {"metadata", k}));
  CHECK(has(d, {"metadata", "finalizers"}));
  CHECK(json::get_string(d, {"metadata", "labels", "a"}) == "b");
  CHECK_FALSE(has(d, {"status"}));
  REQUIRE(mf.IsArray());
  CHECK(json::get_string(mf[0], {"manager"}) == "argocd");
  CHECK(json::get_string(st, {"phase"}) == "x");
}

TEST_CASE("sanitize_service", "[sanitize]") {
  const char* text = R"({"kind":"Service","metadata":{"name":"s","annotations":{"kubectl.kubernetes.io/last-applied-configuration":
    "{\"spec\":{\"ports\":[{\"name\":\"fixed\",\"port\":81,\"nodePort\":30081}]}}"}},
    "spec":{"type":"NodePort","clusterIP":"10.0.0.7","clusterIPs":["10.0.0.7"],"healthCheckNodePort":31000,
    "ports":[{"name":"http","port":80,"nodePort":30080},{"name":"fixed","port":81,"nodePort":30081}]}})";
  auto d = doc(text);
  Notes notes;
  sanitize_service(d, NodePorts::reset, notes);
  CHECK_FALSE(has(d, {"spec", "clusterIP"}));
  CHECK_FALSE(has(d, {"spec", "clusterIPs"}));
  CHECK_FALSE(has(d, {"spec", "healthCheckNodePort"}));
  CHECK_FALSE(has(d["spec"]["ports"][0], {"nodePort"}));
  CHECK(d["spec"]["ports"][1]["nodePort"].GetInt() == 30081);  // the user wrote it down

  auto keep = doc(text);
  sanitize_service(keep, NodePorts::preserve, notes);
  CHECK(keep["spec"]["ports"][0]["nodePort"].GetInt() == 30080);
  CHECK_FALSE(has(keep, {"spec", "clusterIP"}));

  auto headless = doc(R"({"kind":"Service","metadata":{"name":"h"},"spec":{"clusterIP":"None","clusterIPs":["None"]}})");
  sanitize_service(headless, NodePorts::reset, notes);
  CHECK(json::get_string(headless, {"spec", "clusterIP"}) == "None");
}

TEST_CASE("sanitize_service drops the IP families the server allocated, keeps those a manager set", "[sanitize]") {
  const char* text = R"({"kind":"Service","metadata":{"name":"s"},"spec":{"clusterIP":"10.0.0.7",
    "ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","ports":[{"port":80}]}})";
  // kubectl created it: the server allocated the families after the field manager ran, so nobody owns them.
  auto created = doc(R"([{"manager":"kubectl-create","operation":"Update","apiVersion":"v1",
    "fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:ports":{},"f:type":{}}}}])");
  auto d = doc(text);
  Notes notes;
  sanitize_service(d, NodePorts::reset, notes, &created);
  CHECK_FALSE(has(d, {"spec", "ipFamilies"}));
  CHECK_FALSE(has(d, {"spec", "ipFamilyPolicy"}));
  CHECK(std::count(notes.begin(), notes.end(), "removed spec.ipFamilyPolicy") == 1);
  // A manager asked for dual stack: its choice is kept (the families too, when owned).
  auto applied = doc(R"([{"manager":"kubectl-create","operation":"Update","apiVersion":"v1","fieldsType":"FieldsV1",
    "fieldsV1":{"f:spec":{"f:ports":{}}}},{"manager":"helm","operation":"Apply","apiVersion":"v1","fieldsType":"FieldsV1",
    "fieldsV1":{"f:spec":{"f:ipFamilyPolicy":{}}}}])");
  auto dual = doc(text);
  sanitize_service(dual, NodePorts::reset, notes, &applied);
  CHECK(json::get_string(dual, {"spec", "ipFamilyPolicy"}) == "SingleStack");
  CHECK_FALSE(has(dual, {"spec", "ipFamilies"}));
  // No managedFields (a Velero backup of an old cluster): nothing to tell by, kept.
  auto none = doc(text);
  sanitize_service(none, NodePorts::reset, notes);
  CHECK(has(none, {"spec", "ipFamilies"}));
  CHECK(has(none, {"spec", "ipFamilyPolicy"}));
}

TEST_CASE("sanitize_pod", "[sanitize]") {
  auto d = doc(R"({"kind":"Pod","metadata":{"name":"p"},"spec":{"nodeName":"n1","priority":100,"serviceAccountName":"app",
    "volumes":[{"name":"app-token-x1"},{"name":"data"}],
    "containers":[{"name":"c","volumeMounts":[{"name":"app-token-x1","mountPath":"/var/run"},{"name":"data","mountPath":"/d"}]}]}})");
  Notes notes;
  sanitize_pod(d, notes);
  CHECK_FALSE(has(d, {"spec", "nodeName"}));
  CHECK_FALSE(has(d, {"spec", "priority"}));
  CHECK(d["spec"]["volumes"].Size() == 1);
  CHECK(d["spec"]["containers"][0]["volumeMounts"].Size() == 1);
  CHECK(json::get_string(d["spec"]["containers"][0]["volumeMounts"][0], {"name"}) == "data");
}

TEST_CASE("sanitize_job", "[sanitize]") {
  auto d = doc(R"({"kind":"Job","metadata":{"name":"j","labels":{"controller-uid":"u","batch.kubernetes.io/controller-uid":"u","app":"x"}},
    "spec":{"selector":{"matchLabels":{"batch.kubernetes.io/controller-uid":"u"}},
    "template":{"metadata":{"labels":{"controller-uid":"u","batch.kubernetes.io/controller-uid":"u","job-name":"j"}}}}})");
  Notes notes;
  sanitize_job(d, notes);
  CHECK_FALSE(has(d, {"spec", "selector"}));
  CHECK_FALSE(has(d, {"metadata", "labels", "controller-uid"}));
  CHECK_FALSE(has(d, {"metadata", "labels", "batch.kubernetes.io/controller-uid"}));
  CHECK(json::get_string(d, {"metadata", "labels", "app"}) == "x");
  CHECK_FALSE(has(d, {"spec", "template", "metadata", "labels", "controller-uid"}));
  CHECK_FALSE(has(d, {"spec", "template", "metadata", "labels", "batch.kubernetes.io/controller-uid"}));
  CHECK(json::get_string(d, {"spec", "template", "metadata", "labels", "job-name"}) == "j");

  auto manual = doc(R"({"kind":"Job","metadata":{"name":"j"},"spec":{"manualSelector":true,"selector":{"matchLabels":{"mine":"1","controller-uid":"u"}}}})");
  sanitize_job(manual, notes);
  CHECK(json::get_string(manual, {"spec", "selector", "matchLabels", "mine"}) == "1");
  CHECK_FALSE(has(manual, {"spec", "selector", "matchLabels", "controller-uid"}));
}

TEST_CASE("sanitize_pvc", "[sanitize]") {
  auto d = doc(R"({"kind":"PersistentVolumeClaim","metadata":{"name":"c","annotations":{"pv.kubernetes.io/bind-completed":"yes",
    "pv.kubernetes.io/bound-by-controller":"yes","volume.beta.kubernetes.io/storage-provisioner":"p",
    "volume.kubernetes.io/storage-provisioner":"p","volume.kubernetes.io/selected-node":"n1","keep":"me"}},
    "spec":{"volumeName":"pv1"}})");
  Notes notes;
  sanitize_pvc(d, false, notes);
  const json::Value* ann = json::at(d, {"metadata", "annotations"});
  REQUIRE(ann);
  CHECK(ann->MemberCount() == 1);
  CHECK(json::get_string(*ann, {"keep"}) == "me");
  CHECK(json::get_string(d, {"spec", "volumeName"}) == "pv1");
  sanitize_pvc(d, true, notes);
  CHECK_FALSE(has(d, {"spec", "volumeName"}));
}

TEST_CASE("sanitize_service_account and token secrets", "[sanitize]") {
  auto sa = doc(R"({"kind":"ServiceAccount","metadata":{"name":"app"},"secrets":[{"name":"app-token-abcde"},{"name":"extra"}]})");
  Notes notes;
  sanitize_service_account(sa, notes);
  CHECK(sa["secrets"].Size() == 1);
  CHECK(json::get_string(sa["secrets"][0], {"name"}) == "extra");

  auto auto_token = doc(R"({"kind":"Secret","type":"kubernetes.io/service-account-token","metadata":{"name":"app-token-abcde",
    "annotations":{"kubernetes.io/service-account.name":"app"}}})");
  CHECK(is_auto_token_secret(auto_token));
  auto manual = doc(R"({"kind":"Secret","type":"kubernetes.io/service-account-token","metadata":{"name":"app-long-lived",
    "annotations":{"kubernetes.io/service-account.name":"app","kubernetes.io/service-account.uid":"u"}},"data":{"token":"dA==","ca.crt":"Yw==","extra":"eA=="}})");
  CHECK_FALSE(is_auto_token_secret(manual));
  sanitize_token_secret(manual, notes);
  CHECK_FALSE(has(manual, {"metadata", "annotations", "kubernetes.io/service-account.uid"}));
  CHECK_FALSE(has(manual, {"data", "token"}));
  CHECK(has(manual, {"data", "extra"}));
}

TEST_CASE("sanitize_namespace", "[sanitize]") {
  auto ns = doc(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","labels":{"x":"1"},"annotations":{"y":"2"},"finalizers":["f"]},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}})");
  Notes notes;
  sanitize_namespace(ns, notes);
  CHECK(json::get_string(ns, {"metadata", "labels", "x"}) == "1");
  CHECK(json::get_string(ns, {"metadata", "annotations", "y"}) == "2");
  CHECK_FALSE(has(ns, {"metadata", "finalizers"}));
  CHECK_FALSE(has(ns, {"status"}));
  CHECK(has(ns, {"spec", "finalizers"}));
}

TEST_CASE("map_namespaces", "[mapping]") {
  NamespaceMap m{{"app", "app2"}, {"ops", "ops2"}};
  std::vector<std::string> notes;

  auto rb = doc(R"({"kind":"ClusterRoleBinding","metadata":{"name":"rb"},"subjects":[
    {"kind":"ServiceAccount","name":"builder","namespace":"app"},
    {"kind":"User","name":"system:serviceaccount:ops:robot"},
    {"kind":"Group","name":"system:serviceaccounts:app"},
    {"kind":"ServiceAccount","name":"x","namespace":"elsewhere"}]})");
  map_namespaces(rb, "rbac.authorization.k8s.io", "ClusterRoleBinding", m, notes);
  CHECK(json::get_string(rb["subjects"][0], {"namespace"}) == "app2");
  CHECK(json::get_string(rb["subjects"][1], {"name"}) == "system:serviceaccount:ops2:robot");
  CHECK(json::get_string(rb["subjects"][2], {"name"}) == "system:serviceaccounts:app2");
  CHECK(json::get_string(rb["subjects"][3], {"namespace"}) == "elsewhere");
  CHECK(notes.size() == 3);
  CHECK(notes[0] == "subjects[0].namespace: app -> app2");

  notes.clear();
  auto pv = doc(R"({"kind":"PersistentVolume","metadata":{"name":"pv"},"spec":{"claimRef":{"namespace":"app","name":"c"}}})");
  map_namespaces(pv, "", "PersistentVolume", m, notes);
  CHECK(json::get_string(pv, {"spec", "claimRef", "namespace"}) == "app2");

  auto np = doc(R"({"kind":"NetworkPolicy","metadata":{"name":"np","namespace":"app"},"spec":{
    "ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"ops"}}}]}],
    "egress":[{"to":[{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"In","values":["ops","other"]}]}}]}]}})");
  map_namespaces(np, "networking.k8s.io", "NetworkPolicy", m, notes);
  CHECK(json::get_string(np, {"metadata", "namespace"}) == "app2");
  CHECK(json::get_string(np["spec"]["ingress"][0]["from"][0], {"namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"}) == "ops2");
  CHECK(std::string(np["spec"]["egress"][0]["to"][0]["namespaceSelector"]["matchExpressions"][0]["values"][0].GetString()) == "ops2");
  CHECK(std::string(np["spec"]["egress"][0]["to"][0]["namespaceSelector"]["matchExpressions"][0]["values"][1].GetString()) == "other");

  auto wh = doc(R"({"kind":"ValidatingWebhookConfiguration","metadata":{"name":"w"},"webhooks":[{"name":"a","clientConfig":{"service":{"namespace":"ops","name":"hook"}}}]})");
  map_namespaces(wh, "admissionregistration.k8s.io", "ValidatingWebhookConfiguration", m, notes);
  CHECK(json::get_string(wh["webhooks"][0], {"clientConfig", "service", "namespace"}) == "ops2");

  auto api = doc(R"({"kind":"APIService","metadata":{"name":"v1.x"},"spec":{"service":{"namespace":"ops","name":"api"}}})");
  map_namespaces(api, "apiregistration.k8s.io", "APIService", m, notes);
  CHECK(json::get_string(api, {"spec", "service", "namespace"}) == "ops2");

  auto ns = doc(R"({"kind":"Namespace","metadata":{"name":"app","labels":{"kubernetes.io/metadata.name":"app"}}})");
  map_namespaces(ns, "", "Namespace", m, notes);
  CHECK(json::get_string(ns, {"metadata", "name"}) == "app2");
  CHECK(json::get_string(ns, {"metadata", "labels", "kubernetes.io/metadata.name"}) == "app2");
}

TEST_CASE("parse_namespace_mappings", "[options]") {
  auto ok = parse_namespace_mappings("a:b, c:d");
  REQUIRE(ok.ok());
  CHECK(ok->at("a") == "b");
  CHECK(ok->at("c") == "d");
  CHECK_FALSE(parse_namespace_mappings("a").ok());
  CHECK_FALSE(parse_namespace_mappings("a:b,a:c").ok());
  CHECK_FALSE(parse_namespace_mappings("a:c,b:c").ok());
  CHECK_FALSE(parse_namespace_mappings("A:b").ok());
}

TEST_CASE("label_value", "[options]") {
  CHECK(label_value("short") == "short");
  std::string long_name(80, 'x');
  std::string v = label_value(long_name);
  CHECK(v.size() == 63);
  CHECK(v.substr(0, 57) == long_name.substr(0, 57));
}
