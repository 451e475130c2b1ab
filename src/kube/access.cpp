#include <kbk/kube/access.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

namespace kbk::kube {
namespace {

bool contains(const json::Value& arr, std::string_view s) {
  if (!arr.IsArray()) return false;
  for (const auto& v : arr.GetArray()) {
    if (v.IsString() && (std::string_view(v.GetString(), v.GetStringLength()) == s ||
                         std::string_view(v.GetString(), v.GetStringLength()) == "*"))
      return true;
  }
  return false;
}

std::string review_body(std::string_view ns, std::string_view verb, const ResourceType& rt) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  d.AddMember("kind", "SelfSubjectAccessReview", a);
  d.AddMember("apiVersion", "authorization.k8s.io/v1", a);
  json::Value attrs(rapidjson::kObjectType);
  if (!ns.empty()) attrs.AddMember("namespace", json::make_string(ns, a), a);
  attrs.AddMember("verb", json::make_string(verb, a), a);
  attrs.AddMember("group", json::make_string(rt.group, a), a);
  attrs.AddMember("version", json::make_string(rt.version, a), a);
  // "pods/exec": the resource and its subresource, as the API server names them.
  const auto slash = rt.resource.find('/');
  attrs.AddMember("resource", json::make_string(rt.resource.substr(0, slash), a), a);
  if (slash != std::string::npos) attrs.AddMember("subresource", json::make_string(rt.resource.substr(slash + 1), a), a);
  json::Value spec(rapidjson::kObjectType);
  spec.AddMember("resourceAttributes", attrs, a);
  d.AddMember("spec", spec, a);
  return json::to_string(d);
}

Result<bool> allowed(Client& client, std::string_view ns, std::string_view verb, const ResourceType& rt) {
  KBK_ASSIGN_OR_RETURN(json::Document r, client.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                                        review_body(ns, verb, rt)));
  const json::Value* a = json::at(r, {"status", "allowed"});
  return a && a->IsBool() && a->GetBool();
}

// Runs f(i) for i in [0, n) on a few threads; the first error wins.
Result<void> parallel(size_t n, const std::function<Result<void>(size_t)>& f) {
  std::atomic<size_t> next{0};
  std::mutex mutex;
  std::optional<Error> first;
  auto worker = [&] {
    for (size_t i; (i = next++) < n;) {
      auto r = f(i);
      if (!r.ok()) {
        std::lock_guard lock(mutex);
        if (!first) first = r.error();
        next = n;
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < std::min<size_t>(8, n); ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first) return *first;
  return {};
}

}  // namespace

bool rules_allow(const json::Value& resource_rules, std::string_view verb, std::string_view group,
                 std::string_view resource) {
  if (!resource_rules.IsArray()) return false;
  for (const auto& rule : resource_rules.GetArray()) {
    const json::Value* verbs = json::find(rule, "verbs");
    const json::Value* groups = json::find(rule, "apiGroups");
    const json::Value* resources = json::find(rule, "resources");
    const json::Value* names = json::find(rule, "resourceNames");
    if (!verbs || !groups || !resources) continue;
    if (names && names->IsArray() && !names->Empty()) continue;
    if (contains(*verbs, verb) && contains(*groups, group) && contains(*resources, resource)) return true;
  }
  return false;
}

namespace {

std::string who_am_i(Client& client) {
  auto who = client.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                            R"({"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1"})");
  return who.ok() ? json::get_string(*who, {"status", "userInfo", "username"}) : std::string();
}

}  // namespace

std::string WriteDenial::line() const {
  std::string s;
  for (size_t i = 0; i < verbs.size(); ++i) s += (i ? "," : "") + verbs[i];
  s += " " + type.group_resource();
  if (!namespace_.empty()) s += " in namespace " + namespace_;
  return s;
}

std::string WriteAccessReport::summary() const {
  if (denied.empty()) return "";
  std::string s = (user.empty() ? std::string("the current identity") : "user \"" + user + "\"") + " cannot " +
                  denied.front().line();
  if (denied.size() > 1) s += " (and " + std::to_string(denied.size() - 1) + " more)";
  return s;
}

Result<WriteAccessReport> check_write_access(Client& client, const std::vector<WriteTarget>& targets,
                                             const std::vector<std::string>& verbs) {
  WriteAccessReport report;
  report.user = who_am_i(client);
  report.checked = targets.size();
  std::vector<std::vector<std::string>> denied(targets.size());
  std::mutex mutex;

  // Namespaced targets: one rules review per namespace.
  std::vector<std::string> namespaces;
  for (const auto& t : targets)
    if (!t.namespace_.empty() && std::find(namespaces.begin(), namespaces.end(), t.namespace_) == namespaces.end())
      namespaces.push_back(t.namespace_);
  struct Rules {
    bool known = false;       // the review answered
    bool incomplete = false;  // the server says other authorizers may allow more
    json::Document rules;
  };
  std::vector<Rules> by_ns(namespaces.size());
  KBK_TRY(parallel(namespaces.size(), [&](size_t n) -> Result<void> {
    const std::string body =
        R"({"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1","spec":{"namespace":")" +
        namespaces[n] + "\"}}";
    auto r = client.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", body);
    if (!r.ok()) return {};  // decided by access reviews below
    Rules& rr = by_ns[n];
    rr.known = true;
    const json::Value* inc = json::at(*r, {"status", "incomplete"});
    rr.incomplete = inc && inc->IsBool() && inc->GetBool();
    if (const json::Value* rules = json::at(*r, {"status", "resourceRules"})) json::copy_into(rr.rules, *rules, rr.rules.GetAllocator());
    return {};
  }));
  bool any_incomplete = false;
  // (target, verb) pairs the rules did not settle: asked one by one.
  std::vector<std::pair<size_t, std::string>> ask;
  for (size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    const Rules* rr = nullptr;
    if (!t.namespace_.empty())
      rr = &by_ns[static_cast<size_t>(std::find(namespaces.begin(), namespaces.end(), t.namespace_) - namespaces.begin())];
    for (const auto& verb : verbs) {
      if (rr && rr->known) {
        if (rules_allow(rr->rules, verb, t.type.group, t.type.resource)) continue;
        if (!rr->incomplete) {
          denied[i].push_back(verb);
          continue;
        }
        any_incomplete = true;
      }
      ask.emplace_back(i, verb);
    }
  }
  KBK_TRY(parallel(ask.size(), [&](size_t k) -> Result<void> {
    const auto& [i, verb] = ask[k];
    KBK_ASSIGN_OR_RETURN(bool ok, allowed(client, targets[i].namespace_, verb, targets[i].type));
    if (!ok) {
      std::lock_guard lock(mutex);
      denied[i].push_back(verb);
    }
    return {};
  }));
  if (any_incomplete) report.notes.push_back("the server's rules review was incomplete: access reviews decided the rest");
  for (size_t i = 0; i < targets.size(); ++i) {
    if (denied[i].empty()) continue;
    WriteDenial d;
    d.type = targets[i].type;
    d.namespace_ = targets[i].namespace_;
    for (const auto& verb : verbs)  // in the order asked, whatever order the checks finished in
      if (std::find(denied[i].begin(), denied[i].end(), verb) != denied[i].end()) d.verbs.push_back(verb);
    report.denied.push_back(std::move(d));
  }
  return report;
}

Result<AccessReport> check_backup_access(Client& client, const std::vector<ResourceType>& types,
                                         std::string_view namespace_) {
  AccessReport report;
  report.namespace_ = std::string(namespace_);
  report.checked = types.size();
  if (auto who = client.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                R"({"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1"})");
      who.ok()) {
    report.user = json::get_string(*who, {"status", "userInfo", "username"});
  }
  static const char* const k_verbs[] = {"list", "get"};
  std::vector<std::vector<std::string>> denied(types.size());
  std::mutex mutex;
  KBK_TRY(parallel(types.size() * 2, [&](size_t i) -> Result<void> {
    const ResourceType& rt = types[i / 2];
    const char* verb = k_verbs[i % 2];
    KBK_ASSIGN_OR_RETURN(bool ok, allowed(client, rt.namespaced ? namespace_ : "", verb, rt));
    if (!ok) {
      std::lock_guard lock(mutex);
      denied[i / 2].push_back(verb);
    }
    return {};
  }));
  for (auto& d : denied) std::sort(d.begin(), d.end(), [](const std::string& a, const std::string& b) { return a > b; });

  // Across the cluster: look namespace by namespace at the namespaced types denied at cluster scope.
  std::vector<size_t> per_namespace;
  for (size_t i = 0; i < types.size(); ++i) {
    if (!denied[i].empty() && types[i].namespaced && namespace_.empty()) per_namespace.push_back(i);
  }
  std::vector<std::vector<std::string>> denied_in(types.size());
  bool namespaces_known = false;
  if (!per_namespace.empty()) {
    ResourceType ns_type;
    ns_type.version = "v1";
    ns_type.resource = "namespaces";
    ns_type.kind = "Namespace";
    std::vector<std::string> namespaces;
    auto listed = client.list(ns_type, "", ListOptions{}, [&](ListPage& p) -> Result<void> {
      for (const auto& item : p.list["items"].GetArray()) namespaces.push_back(json::get_string(item, {"metadata", "name"}));
      return {};
    });
    if (!listed.ok()) {
      report.notes.push_back("cannot list namespaces (" + listed.error().message +
                             "): namespaced types were checked at cluster scope only");
    } else {
      namespaces_known = true;
      bool incomplete = false;
      KBK_TRY(parallel(namespaces.size(), [&](size_t n) -> Result<void> {
        const std::string body =
            R"({"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1","spec":{"namespace":")" +
            namespaces[n] + "\"}}";
        KBK_ASSIGN_OR_RETURN(json::Document r, client.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", body));
        const json::Value* rules = json::at(r, {"status", "resourceRules"});
        const json::Value* inc = json::at(r, {"status", "incomplete"});
        std::lock_guard lock(mutex);
        if (inc && inc->IsBool() && inc->GetBool()) incomplete = true;
        for (size_t i : per_namespace) {
          bool ok = true;
          for (const auto& verb : denied[i]) ok = ok && rules && rules_allow(*rules, verb, types[i].group, types[i].resource);
          if (!ok) denied_in[i].push_back(namespaces[n]);
        }
        return {};
      }));
      if (incomplete) report.notes.push_back("the server's rules review was incomplete: some access may be missed");
      for (size_t i : per_namespace) std::sort(denied_in[i].begin(), denied_in[i].end());
    }
  }
  for (size_t i = 0; i < types.size(); ++i) {
    if (denied[i].empty()) continue;
    AccessDenial d;
    d.type = types[i];
    d.verbs = denied[i];
    if (types[i].namespaced && !namespace_.empty()) {
      d.namespaces = {std::string(namespace_)};
    } else if (namespaces_known && types[i].namespaced) {
      if (denied_in[i].empty()) continue;  // readable namespace by namespace
      d.namespaces = denied_in[i];
    }
    report.denied.push_back(std::move(d));
  }
  return report;
}

}  // namespace kbk::kube
