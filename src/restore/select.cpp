// Selection of backed-up objects (see select.hpp).
#include <kbk/restore/select.hpp>

#include <cctype>

#include <kbk/util/strings.hpp>

namespace kbk::restore {
namespace {

struct ShortName {
  const char* short_name;
  const char* group;
  const char* resource;
};
// kubectl's short names for built-in types (custom resources are matched by plural, kind or group).
const ShortName k_short_names[] = {
    {"po", "", "pods"}, {"svc", "", "services"}, {"cm", "", "configmaps"}, {"ns", "", "namespaces"},
    {"pv", "", "persistentvolumes"}, {"pvc", "", "persistentvolumeclaims"}, {"sa", "", "serviceaccounts"},
    {"ep", "", "endpoints"}, {"ev", "", "events"}, {"no", "", "nodes"}, {"rc", "", "replicationcontrollers"},
    {"limits", "", "limitranges"}, {"quota", "", "resourcequotas"}, {"deploy", "apps", "deployments"},
    {"sts", "apps", "statefulsets"}, {"ds", "apps", "daemonsets"}, {"rs", "apps", "replicasets"},
    {"cj", "batch", "cronjobs"}, {"crd", "apiextensions.k8s.io", "customresourcedefinitions"},
    {"crds", "apiextensions.k8s.io", "customresourcedefinitions"}, {"ing", "networking.k8s.io", "ingresses"},
    {"netpol", "networking.k8s.io", "networkpolicies"}, {"pc", "scheduling.k8s.io", "priorityclasses"},
    {"sc", "storage.k8s.io", "storageclasses"}, {"hpa", "autoscaling", "horizontalpodautoscalers"},
    {"pdb", "policy", "poddisruptionbudgets"}, {"csr", "certificates.k8s.io", "certificatesigningrequests"},
};


// Splits on commas that are not inside parentheses.
std::vector<std::string> split_terms(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : s) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(std::string(util::trim(cur)));
      cur.clear();
      continue;
    }
    cur += c;
  }
  if (!util::trim(cur).empty() || !out.empty()) out.push_back(std::string(util::trim(cur)));
  return out;
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  LabelSelector sel;
  if (util::trim(text).empty()) return sel;
  auto bad = [&](const std::string& why) {
    return unexpected(Errc::config, "label selector \"" + std::string(text) + "\": " + why);
  };
  for (const std::string& term : split_terms(text)) {
    if (term.empty()) return bad("empty requirement");
    Term t;
    auto set_key = [&](std::string_view k) -> bool {
      t.key = std::string(util::trim(k));
      return !t.key.empty() && t.key.find_first_of(" \t=!()") == std::string::npos;
    };
    size_t pos;
    if (term[0] == '!') {
      if (!set_key(std::string_view(term).substr(1))) return bad("bad key in \"" + term + "\"");
      t.op = Op::not_exists;
    } else if ((pos = term.find("!=")) != std::string::npos) {
      if (!set_key(std::string_view(term).substr(0, pos))) return bad("bad key in \"" + term + "\"");
      t.op = Op::ne;
      t.values.push_back(std::string(util::trim(std::string_view(term).substr(pos + 2))));
    } else if ((pos = term.find('=')) != std::string::npos) {
      if (!set_key(std::string_view(term).substr(0, pos))) return bad("bad key in \"" + term + "\"");
      size_t vstart = pos + 1;
      if (vstart < term.size() && term[vstart] == '=') ++vstart;
      t.op = Op::eq;
      t.values.push_back(std::string(util::trim(std::string_view(term).substr(vstart))));
    } else if ((pos = term.find('(')) != std::string::npos) {
      if (term.back() != ')') return bad("missing ) in \"" + term + "\"");
      std::string head(util::trim(std::string_view(term).substr(0, pos)));
      size_t sp = head.find_last_of(" \t");
      if (sp == std::string::npos) return bad("expected in or notin in \"" + term + "\"");
      std::string op(util::trim(std::string_view(head).substr(sp + 1)));
      if (!set_key(std::string_view(head).substr(0, sp))) return bad("bad key in \"" + term + "\"");
      if (op == "in") t.op = Op::in;
      else if (op == "notin") t.op = Op::notin;
      else return bad("unknown operator \"" + op + "\"");
      for (const std::string& v : util::split(std::string_view(term).substr(pos + 1, term.size() - pos - 2), ','))
        t.values.push_back(std::string(util::trim(v)));
    } else {
      if (!set_key(term)) return bad("bad key \"" + term + "\"");
      t.op = Op::exists;
    }
    sel.m_terms.push_back(std::move(t));
  }
  return sel;
}

bool LabelSelector::matches(const json::Value* labels) const {
  for (const Term& t : m_terms) {
    const json::Value* v = labels ? json::find(*labels, t.key) : nullptr;
    bool has = v && v->IsString();
    std::string val = has ? std::string(v->GetString(), v->GetStringLength()) : "";
    bool in_values = false;
    for (const std::string& x : t.values) in_values = in_values || (has && x == val);
    switch (t.op) {
      case Op::eq:
      case Op::in:
        if (!in_values) return false;
        break;
      case Op::ne:
      case Op::notin:
        if (in_values) return false;
        break;
      case Op::exists:
        if (!has) return false;
        break;
      case Op::not_exists:
        if (has) return false;
        break;
    }
  }
  return true;
}

bool resource_pattern_matches(std::string_view pattern_in, const TypeNames& type) {
  std::string p = util::to_lower(util::trim(pattern_in));
  if (p.empty()) return false;
  std::string kind = util::to_lower(type.kind);
  auto dotted = [&](const std::string& s) { return type.group.empty() ? s : s + "." + type.group; };
  if (p.find('.') != std::string::npos) {
    // "deployments.apps", "deployment.apps", "*.apps", "deployments.v1.apps"
    if (util::glob_match(p, dotted(type.resource)) || (!kind.empty() && util::glob_match(p, dotted(kind))))
      return true;
    return false;
  }
  if (util::glob_match(p, type.resource) || (!kind.empty() && p == kind)) return true;
  for (const ShortName& s : k_short_names)
    if (p == s.short_name && type.group == s.group && type.resource == s.resource) return true;
  return false;
}

Result<Selector> Selector::compile(const Selection& selection) {
  Selector s;
  s.m_sel = selection;
  KBK_ASSIGN_OR_RETURN(s.m_labels, LabelSelector::parse(selection.label_selector));
  if (!selection.label_selector.empty() && !selection.or_selectors.empty())
    return unexpected(Errc::config, "--selector and --or-selector cannot be used together");
  for (const std::string& o : selection.or_selectors) {
    KBK_ASSIGN_OR_RETURN(auto ls, LabelSelector::parse(o));
    s.m_or.push_back(std::move(ls));
  }
  for (const std::string& p : selection.include_names) {
    KBK_ASSIGN_OR_RETURN(auto np, parse_name_pattern(p));
    s.m_include_names.push_back(std::move(np));
  }
  for (const std::string& p : selection.exclude_names) {
    KBK_ASSIGN_OR_RETURN(auto np, parse_name_pattern(p));
    s.m_exclude_names.push_back(std::move(np));
  }
  for (const std::string& e : selection.exclude_namespaces)
    if (e == "*") return unexpected(Errc::config, "--exclude-namespaces: \"*\" would exclude everything");
  return s;
}

Result<Selector::NamePattern> Selector::parse_name_pattern(std::string_view text) {
  auto parts = util::split(text, '/', false);
  NamePattern p;
  if (parts.size() == 3) {
    p.resource = parts[0];
    p.ns = parts[1];
    p.name = parts[2];
    p.cluster = p.ns.empty();
  } else if (parts.size() == 2) {
    p.resource = parts[0];
    p.name = parts[1];
    p.cluster = true;
  } else {
    return unexpected(Errc::config, "name pattern \"" + std::string(text) +
                                        "\": expected resource/namespace/name or resource/name");
  }
  if (p.resource.empty() || p.name.empty())
    return unexpected(Errc::config, "name pattern \"" + std::string(text) + "\": empty resource or name");
  return p;
}

bool Selector::name_pattern_matches(const NamePattern& p, const TypeNames& type, std::string_view ns,
                                    std::string_view name) {
  if (!resource_pattern_matches(p.resource, type)) return false;
  if (p.cluster ? !ns.empty() : !util::glob_match(p.ns, ns)) return false;
  return util::glob_match(p.name, name);
}

bool Selector::namespace_selected(std::string_view ns) const {
  for (const std::string& e : m_sel.exclude_namespaces)
    if (util::glob_match(e, ns)) return false;
  if (m_sel.include_namespaces.empty()) return true;
  for (const std::string& i : m_sel.include_namespaces)
    if (i == "*" || util::glob_match(i, ns)) return true;
  return false;
}

bool Selector::all_namespaces() const {
  if (!m_sel.exclude_namespaces.empty()) return false;
  for (const std::string& i : m_sel.include_namespaces)
    if (i != "*") return false;
  return true;
}

bool Selector::resource_selected(const TypeNames& type) const {
  for (const std::string& e : m_sel.exclude_resources)
    if (resource_pattern_matches(e, type)) return false;
  if (m_sel.include_resources.empty()) return true;
  for (const std::string& i : m_sel.include_resources)
    if (i == "*" || resource_pattern_matches(i, type)) return true;
  return false;
}

bool Selector::resource_explicitly_excluded(const TypeNames& type) const {
  for (const std::string& e : m_sel.exclude_resources)
    if (resource_pattern_matches(e, type)) return true;
  return false;
}

bool Selector::cluster_scoped_allowed() const {
  if (m_sel.include_cluster_resources) return *m_sel.include_cluster_resources;
  return all_namespaces();
}

bool Selector::cluster_resources_explicitly_excluded() const {
  return m_sel.include_cluster_resources.has_value() && !*m_sel.include_cluster_resources;
}

bool Selector::matches(const TypeNames& type, std::string_view ns, std::string_view name, const json::Value& object,
                       std::string* why) const {
  auto no = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  bool is_namespace_object = type.group.empty() && type.resource == "namespaces";
  if (!resource_selected(type)) return no("resource type not selected");
  if (is_namespace_object) {
    if (!namespace_selected(name)) return no("namespace not selected");
  } else if (ns.empty()) {
    if (!cluster_scoped_allowed()) return no("cluster-scoped resources not included");
  } else if (!namespace_selected(ns)) {
    return no("namespace not selected");
  }
  for (const NamePattern& p : m_exclude_names)
    if (name_pattern_matches(p, type, ns, name)) return no("name excluded");
  if (!m_include_names.empty()) {
    bool any = false;
    for (const NamePattern& p : m_include_names) any = any || name_pattern_matches(p, type, ns, name);
    if (!any) return no("name not included");
  }
  const json::Value* labels = json::at(object, {"metadata", "labels"});
  if (!m_labels.empty() && !m_labels.matches(labels)) return no("labels do not match the selector");
  if (!m_or.empty()) {
    bool any = false;
    for (const LabelSelector& o : m_or) any = any || o.matches(labels);
    if (!any) return no("labels match none of the --or-selector selectors");
  }
  return true;
}

}  // namespace kbk::restore
