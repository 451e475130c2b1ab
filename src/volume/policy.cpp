// Velero's volume policies: strict parsing over yaml-cpp nodes (so every problem has a line and column) and the
// matching of Velero's internal/resourcepolicies (first policy whose conditions all hold; see policy.hpp).
#include <kbk/volume/policy.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include <yaml-cpp/yaml.h>

#include <kbk/util/fs.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::volume {

const char* policy_action_name(PolicyAction a) {
  switch (a) {
    case PolicyAction::skip: return "skip";
    case PolicyAction::snapshot: return "snapshot";
    case PolicyAction::fs_backup: return "fs-backup";
    case PolicyAction::custom: return "custom";
  }
  return "skip";
}

std::optional<long double> parse_quantity(std::string_view text) {
  std::string s(util::trim(text));
  if (s.empty()) return std::nullopt;
  size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  const size_t digits_start = i;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == digits_start) return std::nullopt;
  const std::string number = s.substr(0, i);
  if (std::count(number.begin(), number.end(), '.') > 1) return std::nullopt;
  char* end = nullptr;
  long double n = std::strtold(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return std::nullopt;
  const std::string suffix = s.substr(i);
  static const std::map<std::string, long double> k_suffixes = {
      {"", 1},           {"Ki", 1024.0L},   {"Mi", std::pow(1024.0L, 2)}, {"Gi", std::pow(1024.0L, 3)},
      {"Ti", std::pow(1024.0L, 4)}, {"Pi", std::pow(1024.0L, 5)}, {"Ei", std::pow(1024.0L, 6)},
      {"n", 1e-9L},      {"u", 1e-6L},      {"m", 1e-3L},  {"k", 1e3L},  {"M", 1e6L},
      {"G", 1e9L},       {"T", 1e12L},      {"P", 1e15L},  {"E", 1e18L}};
  if (auto it = k_suffixes.find(suffix); it != k_suffixes.end()) return n * it->second;
  if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    char* e2 = nullptr;
    long exp = std::strtol(suffix.c_str() + 1, &e2, 10);
    if (e2 && *e2 == '\0' && suffix.size() > 1 && exp > -30 && exp < 30) return n * std::pow(10.0L, exp);
  }
  return std::nullopt;
}

namespace {

// Velero's detection order (internal/resourcepolicies/volume_types_conditions.go). Field names are the Kubernetes
// ones; the returned names are Velero's SupportedVolume values (storageos -> storageOS).
const std::vector<std::pair<const char*, const char*>> k_pv_types = {
    {"awsElasticBlockStore", "awsElasticBlockStore"}, {"azureDisk", "azureDisk"}, {"azureFile", "azureFile"},
    {"cephfs", "cephfs"}, {"cinder", "cinder"}, {"csi", "csi"}, {"fc", "fc"}, {"flocker", "flocker"},
    {"flexVolume", "flexVolume"}, {"gcePersistentDisk", "gcePersistentDisk"}, {"glusterfs", "glusterfs"},
    {"hostPath", "hostPath"}, {"iscsi", "iscsi"}, {"local", "local"}, {"nfs", "nfs"},
    {"photonPersistentDisk", "photonPersistentDisk"}, {"portworxVolume", "portworxVolume"}, {"quobyte", "quobyte"},
    {"rbd", "rbd"}, {"scaleIO", "scaleIO"}, {"storageos", "storageOS"}, {"vsphereVolume", "vsphereVolume"}};
const std::vector<std::pair<const char*, const char*>> k_pod_types = {
    {"awsElasticBlockStore", "awsElasticBlockStore"}, {"azureDisk", "azureDisk"}, {"azureFile", "azureFile"},
    {"cephfs", "cephfs"}, {"cinder", "cinder"}, {"csi", "csi"}, {"fc", "fc"}, {"flocker", "flocker"},
    {"flexVolume", "flexVolume"}, {"gcePersistentDisk", "gcePersistentDisk"}, {"gitRepo", "gitRepo"},
    {"glusterfs", "glusterfs"}, {"iscsi", "iscsi"}, {"nfs", "nfs"}, {"secret", "secret"}, {"rbd", "rbd"},
    {"downwardAPI", "downwardAPI"}, {"configMap", "configMap"}, {"projected", "projected"}, {"ephemeral", "ephemeral"},
    {"photonPersistentDisk", "photonPersistentDisk"}, {"portworxVolume", "portworxVolume"}, {"quobyte", "quobyte"},
    {"scaleIO", "scaleIO"}, {"storageos", "storageOS"}, {"vsphereVolume", "vsphereVolume"}, {"hostPath", "hostPath"},
    {"emptyDir", "emptyDir"}};
const std::set<std::string> k_supported_types = {
    "awsAzureDisk", "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "configMap", "csi",
    "downwardAPI", "emptyDir", "ephemeral", "fc", "flocker", "flexVolume", "gitRepo", "glusterfs",
    "gcePersistentDisk", "hostPath", "iscsi", "local", "nfs", "photonPersistentDisk", "portworxVolume", "projected",
    "quobyte", "rbd", "scaleIO", "secret", "storageOS", "vsphereVolume"};

std::string type_in(const json::Value& spec, const std::vector<std::pair<const char*, const char*>>& table) {
  if (!spec.IsObject()) return "";
  for (const auto& [field, name] : table) {
    const json::Value* v = json::find(spec, field);
    if (v && !v->IsNull()) return name;
  }
  return "";
}

std::string pos(const std::string& file, const YAML::Mark& m) {
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

struct NfsCond {
  std::string server, path;
};
struct CsiCond {
  std::string driver;
  bool has_attributes = false;
  std::vector<std::pair<std::string, std::string>> attributes;
};

struct Policy {
  YAML::Mark mark;
  bool has_capacity = false;
  long double low = 0, high = 0;
  std::vector<std::string> storage_classes;
  std::optional<NfsCond> nfs;
  std::optional<CsiCond> csi;
  std::vector<std::string> volume_types;
  std::vector<std::pair<std::string, std::string>> pvc_labels;
  std::vector<std::string> pvc_phases;
  PolicyAction action = PolicyAction::skip;
  json::Document parameters;
};

// The matched-on view of a volume (Velero's structuredVolume).
struct Structured {
  long double capacity = 0;
  std::string storage_class;
  std::optional<NfsCond> nfs;
  std::optional<CsiCond> csi;
  std::string type;
  bool has_labels = false;
  std::map<std::string, std::string> labels;
  std::string phase;
};

std::string str(const json::Value* v) { return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : ""; }

CsiCond csi_of(const json::Value& csi) {
  CsiCond c;
  c.driver = str(json::find(csi, "driver"));
  if (const json::Value* attrs = json::find(csi, "volumeAttributes"); attrs && attrs->IsObject())
    for (const auto& m : attrs->GetObject())
      c.attributes.emplace_back(std::string(m.name.GetString(), m.name.GetStringLength()), str(&m.value));
  return c;
}

std::optional<NfsCond> nfs_of(const json::Value& src) {
  const json::Value* nfs = json::find(src, "nfs");
  if (!nfs || !nfs->IsObject()) return std::nullopt;
  return NfsCond{str(json::find(*nfs, "server")), str(json::find(*nfs, "path"))};
}

void parse_claim(Structured& s, const json::Value& claim) {
  if (const json::Value* labels = json::at(claim, {"metadata", "labels"}); labels && labels->IsObject() &&
                                                                          labels->MemberCount() > 0) {
    s.has_labels = true;
    for (const auto& m : labels->GetObject())
      s.labels[std::string(m.name.GetString(), m.name.GetStringLength())] = str(&m.value);
  }
  s.phase = json::get_string(claim, {"status", "phase"});
}

bool matches(const Policy& p, const Structured& v) {
  if (p.has_capacity) {
    // Velero's capacity.isInRange: [0,hi] y <= hi; [lo,0] y >= lo; [lo,hi] both; [0,0] everything.
    bool ok = false;
    if (p.low == 0 && p.high >= v.capacity) ok = true;
    if (p.high == 0 && p.low <= v.capacity) ok = true;
    if (p.low != 0 && p.high != 0) ok = p.low <= v.capacity && p.high >= v.capacity;
    if (!ok) return false;
  }
  if (!p.storage_classes.empty()) {
    if (v.storage_class.empty()) return false;
    if (std::find(p.storage_classes.begin(), p.storage_classes.end(), v.storage_class) == p.storage_classes.end())
      return false;
  }
  if (p.nfs) {
    if (!v.nfs) return false;
    if (!p.nfs->path.empty() && p.nfs->path != v.nfs->path) return false;
    if (!p.nfs->server.empty() && p.nfs->server != v.nfs->server) return false;
  }
  if (p.csi) {
    if (!v.csi) return false;
    if (!p.csi->driver.empty() && p.csi->driver != v.csi->driver) return false;
    for (const auto& [k, want] : p.csi->attributes) {
      std::string have;
      for (const auto& [vk, vv] : v.csi->attributes)
        if (vk == k) have = vv;
      if (have != want) return false;
    }
  }
  if (!p.volume_types.empty() &&
      std::find(p.volume_types.begin(), p.volume_types.end(), v.type) == p.volume_types.end())
    return false;
  if (!p.pvc_labels.empty()) {
    if (!v.has_labels) return false;
    for (const auto& [k, want] : p.pvc_labels) {
      auto it = v.labels.find(k);
      if (it == v.labels.end() || it->second != want) return false;
    }
  }
  if (!p.pvc_phases.empty()) {
    if (v.phase.empty()) return false;
    if (std::find(p.pvc_phases.begin(), p.pvc_phases.end(), v.phase) == p.pvc_phases.end()) return false;
  }
  return true;
}

class Parser {
public:
  explicit Parser(std::string file) : m_file(std::move(file)) {}
  std::vector<std::string> errors, warnings;
  std::string version;
  bool has_version = false;
  std::vector<Policy> policies;
  std::optional<IncludeExcludePolicy> include_exclude;

  void run(const YAML::Node& root) {
    if (!root || root.IsNull()) {
      errors.push_back(m_file + ":1:1: empty policy file: expected version: v1 and volumePolicies");
      return;
    }
    if (!root.IsMap()) {
      err(root, "a volume policy file must be a map with version and volumePolicies");
      return;
    }
    YAML::Node version_node;
    for (const auto& [key, value] : entries(root, {"version", "volumePolicies", "includeExcludePolicy"}, "")) {
      if (key == "version") {
        version_node = value;
        has_version = true;
        version = scalar(value, "version");
      } else if (key == "volumePolicies") {
        if (value.IsNull()) continue;
        if (!value.IsSequence()) {
          err(value, "volumePolicies: expected a list of policies");
          continue;
        }
        size_t i = 0;
        for (const auto& p : value) parse_policy(p, i++);
      } else {
        parse_include_exclude(value);
      }
    }
    // Velero's Validate(): the version must be exactly v1.
    if (!has_version) err(root, "version: missing (expected v1)");
    else if (version != "v1" && errors.empty())
      err(version_node, "version: incompatible version number " + version + " with supported version v1");
  }

private:
  std::string m_file;

  void err(const YAML::Node& n, const std::string& msg) { errors.push_back(pos(m_file, n.Mark()) + ": " + msg); }
  void warn(const YAML::Node& n, const std::string& msg) { warnings.push_back(pos(m_file, n.Mark()) + ": " + msg); }

  // The entries of a map in order; unknown and duplicate keys are errors (yaml.v3 with KnownFields(true)).
  std::vector<std::pair<std::string, YAML::Node>> entries(const YAML::Node& map, const std::set<std::string>& allowed,
                                                          const std::string& where) {
    std::vector<std::pair<std::string, YAML::Node>> out;
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
      const std::string path = where.empty() ? key : where + "." + key;
      if (!it->first.IsScalar()) {
        err(it->first, (where.empty() ? std::string("a key") : where + ": a key") + " must be a string");
        continue;
      }
      if (!seen.insert(key).second) {
        err(it->first, "mapping key \"" + key + "\" already defined" + (where.empty() ? "" : " in " + where));
        continue;
      }
      if (!allowed.count(key)) {
        std::vector<std::string> known(allowed.begin(), allowed.end());
        err(it->first, "field " + key + " not found" + (where.empty() ? "" : " in " + where) + " (known: " +
                           util::join(known, ", ") + ")");
        continue;
      }
      out.emplace_back(key, it->second);
    }
    return out;
  }

  std::string scalar(const YAML::Node& n, const std::string& what) {
    if (n.IsNull()) return "";
    if (!n.IsScalar()) {
      err(n, what + ": expected a string");
      return "";
    }
    return n.Scalar();
  }

  std::vector<std::string> string_list(const YAML::Node& n, const std::string& what) {
    std::vector<std::string> out;
    if (n.IsNull()) return out;
    if (!n.IsSequence()) {
      err(n, what + ": expected a list of strings");
      return out;
    }
    for (const auto& item : n) {
      if (!item.IsScalar()) {
        err(item, what + ": expected a string");
        continue;
      }
      out.push_back(item.Scalar());
    }
    return out;
  }

  std::vector<std::pair<std::string, std::string>> string_map(const YAML::Node& n, const std::string& what) {
    std::vector<std::pair<std::string, std::string>> out;
    if (n.IsNull()) return out;
    if (!n.IsMap()) {
      err(n, what + " must be a map of string to string");
      return out;
    }
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar() || !it->second.IsScalar()) {
        err(it->first, what + " must be a map of string to string");
        continue;
      }
      if (!seen.insert(it->first.Scalar()).second) {
        err(it->first, "mapping key \"" + it->first.Scalar() + "\" already defined in " + what);
        continue;
      }
      out.emplace_back(it->first.Scalar(), it->second.Scalar());
    }
    return out;
  }

  static json::Value to_json(const YAML::Node& n, json::Allocator& a) {
    if (n.IsMap()) {
      json::Value o(rapidjson::kObjectType);
      for (auto it = n.begin(); it != n.end(); ++it)
        json::set(o, it->first.Scalar(), to_json(it->second, a), a);
      return o;
    }
    if (n.IsSequence()) {
      json::Value arr(rapidjson::kArrayType);
      for (const auto& item : n) arr.PushBack(to_json(item, a), a);
      return arr;
    }
    if (n.IsScalar()) return json::make_string(n.Scalar(), a);
    return json::Value();
  }

  void parse_policy(const YAML::Node& n, size_t index) {
    const std::string ctx = "volumePolicies[" + std::to_string(index) + "]";
    Policy p;
    p.mark = n.Mark();
    p.parameters.SetNull();
    if (!n.IsMap()) {
      err(n, ctx + ": expected a map with conditions and action");
      policies.push_back(std::move(p));
      return;
    }
    bool has_action = false;
    for (const auto& [key, value] : entries(n, {"conditions", "action"}, ctx)) {
      if (key == "conditions") parse_conditions(value, p, ctx + ".conditions");
      else {
        has_action = true;
        parse_action(value, p, ctx + ".action");
      }
    }
    if (!has_action) err(n, ctx + ": invalid action type (no action: expected skip, snapshot, fs-backup or custom)");
    policies.push_back(std::move(p));
  }

  void parse_action(const YAML::Node& n, Policy& p, const std::string& ctx) {
    if (!n.IsMap()) {
      err(n, ctx + ": expected a map with type (and parameters)");
      return;
    }
    bool has_type = false;
    for (const auto& [key, value] : entries(n, {"type", "parameters"}, ctx)) {
      if (key == "type") {
        has_type = true;
        const std::string t = scalar(value, ctx + ".type");
        if (t == "skip") p.action = PolicyAction::skip;
        else if (t == "snapshot") p.action = PolicyAction::snapshot;
        else if (t == "fs-backup") p.action = PolicyAction::fs_backup;
        else if (t == "custom") p.action = PolicyAction::custom;
        else err(value, ctx + ".type: invalid action type " + t + " (expected skip, snapshot, fs-backup or custom)");
      } else {
        if (!value.IsNull() && !value.IsMap()) {
          err(value, ctx + ".parameters: expected a map");
          continue;
        }
        p.parameters.SetNull();
        if (value.IsMap()) {
          json::Value v = to_json(value, p.parameters.GetAllocator());
          static_cast<json::Value&>(p.parameters).Swap(v);
        }
      }
    }
    if (!has_type) err(n, ctx + ": invalid action type \"\" (expected skip, snapshot, fs-backup or custom)");
  }

  void parse_conditions(const YAML::Node& n, Policy& p, const std::string& ctx) {
    if (n.IsNull()) return;
    if (!n.IsMap()) {
      err(n, ctx + ": expected a map of conditions");
      return;
    }
    for (const auto& [key, value] : entries(
             n, {"capacity", "storageClass", "nfs", "csi", "volumeTypes", "pvcLabels", "pvcPhase"}, ctx)) {
      const std::string what = ctx + "." + key;
      if (key == "capacity") {
        const std::string text = scalar(value, what);
        parse_capacity(value, text, p, what);
      } else if (key == "storageClass") {
        p.storage_classes = string_list(value, what);
      } else if (key == "nfs") {
        NfsCond c;
        if (!value.IsNull() && !value.IsMap()) {
          err(value, what + ": expected a map with server and path");
          continue;
        }
        if (value.IsMap())
          for (const auto& [k, v] : entries(value, {"server", "path"}, what))
            (k == "server" ? c.server : c.path) = scalar(v, what + "." + k);
        p.nfs = c;
      } else if (key == "csi") {
        CsiCond c;
        if (!value.IsNull() && !value.IsMap()) {
          err(value, what + ": expected a map with driver and volumeAttributes");
          continue;
        }
        if (value.IsMap())
          for (const auto& [k, v] : entries(value, {"driver", "volumeAttributes"}, what)) {
            if (k == "driver") c.driver = scalar(v, what + ".driver");
            else {
              c.has_attributes = !v.IsNull();
              c.attributes = string_map(v, what + ".volumeAttributes");
            }
          }
        if (c.driver.empty() && c.has_attributes)
          err(value, what + ": csi driver should not be empty when filtering by volume attributes");
        p.csi = c;
      } else if (key == "volumeTypes") {
        p.volume_types = string_list(value, what);
        if (value.IsSequence())
          for (const auto& item : value)
            if (item.IsScalar() && !k_supported_types.count(item.Scalar()))
              warn(item, what + ": " + item.Scalar() + " is not a volume type Velero knows: it never matches");
      } else if (key == "pvcLabels") {
        p.pvc_labels = string_map(value, "pvcLabels");
      } else {
        p.pvc_phases = string_list(value, what);
        if (value.IsSequence())
          for (const auto& item : value)
            if (item.IsScalar() && item.Scalar() != "Pending" && item.Scalar() != "Bound" && item.Scalar() != "Lost")
              warn(item, what + ": " + item.Scalar() + " is not a claim phase (Pending, Bound, Lost): it never matches");
      }
    }
  }

  void parse_capacity(const YAML::Node& n, const std::string& text, Policy& p, const std::string& what) {
    const std::string t = text.empty() ? "," : text;
    auto parts = util::split(t, ',', false);
    if (parts.size() != 2) {
      err(n, what + ": wrong format of Capacity " + text + " (expected \"low,high\", e.g. \"0,100Gi\" or \"10Gi,\")");
      return;
    }
    long double q[2] = {0, 0};
    for (size_t i = 0; i < 2; ++i) {
      const std::string side(util::trim(parts[i]));
      if (side.empty()) continue;
      auto v = parse_quantity(side);
      if (!v) {
        err(n, what + ": wrong format of Capacity " + side + " (not a Kubernetes quantity)");
        return;
      }
      q[i] = *v;
    }
    // Velero's capacityCondition.validate: low <= high, or high == 0 with low > 0.
    if (!(q[1] >= q[0] || (q[0] != 0 && q[1] == 0))) {
      err(n, what + ": illegal values for capacity " + text + " (the lower bound is above the upper one)");
      return;
    }
    p.has_capacity = true;
    p.low = q[0];
    p.high = q[1];
  }

  void parse_include_exclude(const YAML::Node& n) {
    const std::string ctx = "includeExcludePolicy";
    if (n.IsNull()) return;
    if (!n.IsMap()) {
      err(n, ctx + ": expected a map");
      return;
    }
    IncludeExcludePolicy ie;
    std::map<std::string, YAML::Node> nodes;
    for (const auto& [key, value] : entries(n, {"includedClusterScopedResources", "excludedClusterScopedResources",
                                                "includedNamespaceScopedResources", "excludedNamespaceScopedResources"},
                                            ctx)) {
      auto list = string_list(value, ctx + "." + key);
      nodes[key] = value;
      if (key == "includedClusterScopedResources") ie.included_cluster_scoped = list;
      else if (key == "excludedClusterScopedResources") ie.excluded_cluster_scoped = list;
      else if (key == "includedNamespaceScopedResources") ie.included_namespace_scoped = list;
      else ie.excluded_namespace_scoped = list;
    }
    auto check = [&](const std::vector<std::string>& inc, const std::vector<std::string>& exc, const char* inc_key,
                     const char* exc_key) {
      for (const auto* list : {&inc, &exc})
        if (std::find(list->begin(), list->end(), "*") != list->end()) {
          err(nodes[list == &inc ? inc_key : exc_key], ctx + ": cannot use '*' in includes or excludes filters in the policy");
          return;
        }
      for (const auto& e : exc)
        if (std::find(inc.begin(), inc.end(), e) != inc.end()) {
          err(nodes[exc_key], ctx + "." + exc_key + ": excludes list cannot contain an item in the includes list: " + e);
          return;
        }
    };
    check(ie.included_cluster_scoped, ie.excluded_cluster_scoped, "includedClusterScopedResources",
          "excludedClusterScopedResources");
    check(ie.included_namespace_scoped, ie.excluded_namespace_scoped, "includedNamespaceScopedResources",
          "excludedNamespaceScopedResources");
    include_exclude = std::move(ie);
  }
};

}  // namespace

std::string volume_type_of_pv(const json::Value& pv) {
  const json::Value* spec = json::find(pv, "spec");
  return spec ? type_in(*spec, k_pv_types) : "";
}

std::string volume_type_of_pod_volume(const json::Value& volume) { return type_in(volume, k_pod_types); }

struct PolicySet::Impl {
  std::string file;
  std::vector<Policy> policies;
  std::vector<std::string> warnings;
  std::optional<IncludeExcludePolicy> include_exclude;
};

PolicySet::PolicySet() : m_impl(std::make_unique<Impl>()) {}
PolicySet::~PolicySet() = default;
PolicySet::PolicySet(PolicySet&&) noexcept = default;
PolicySet& PolicySet::operator=(PolicySet&&) noexcept = default;

Result<PolicySet> PolicySet::load(const std::string& path) {
  auto text = util::read_file(path, util::k_max_input_file);
  if (!text) return unexpected(Errc::config, "--resource-policies " + path + ": cannot read: " + text.error().message);
  return parse(*text, path);
}

Result<PolicySet> PolicySet::parse(std::string_view text, const std::string& file) {
  Parser p(file);
  try {
    YAML::Node root = YAML::Load(std::string(text));
    p.run(root);
  } catch (const YAML::Exception& e) {
    p.errors.push_back(file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " +
                       e.msg);
  }
  if (!p.errors.empty()) {
    Error e(Errc::config, p.errors.front());
    for (const auto& m : p.errors) e.causes.push_back(ErrorCause{"FieldValueInvalid", m, ""});
    return e;
  }
  PolicySet set;
  set.m_impl->file = file;
  set.m_impl->policies = std::move(p.policies);
  set.m_impl->warnings = std::move(p.warnings);
  set.m_impl->include_exclude = std::move(p.include_exclude);
  return set;
}

Result<std::optional<PolicyMatch>> PolicySet::match(const VolumeFilterData& data) const {
  Structured v;
  if (data.persistent_volume) {
    const json::Value& pv = *data.persistent_volume;
    if (auto q = parse_quantity(json::get_string(pv, {"spec", "capacity", "storage"}))) v.capacity = *q;
    v.storage_class = json::get_string(pv, {"spec", "storageClassName"});
    if (const json::Value* spec = json::find(pv, "spec")) {
      v.nfs = nfs_of(*spec);
      if (const json::Value* csi = json::find(*spec, "csi"); csi && csi->IsObject()) v.csi = csi_of(*csi);
    }
    v.type = volume_type_of_pv(pv);
  } else if (data.pod_volume) {
    v.nfs = nfs_of(*data.pod_volume);
    if (const json::Value* csi = json::find(*data.pod_volume, "csi"); csi && csi->IsObject()) v.csi = csi_of(*csi);
    v.type = volume_type_of_pod_volume(*data.pod_volume);
  } else if (!data.claim) {
    return unexpected(Errc::config, "volume policy: failed to convert object (no volume and no claim to match)");
  }
  if (data.claim) parse_claim(v, *data.claim);
  for (size_t i = 0; i < m_impl->policies.size(); ++i) {
    const Policy& p = m_impl->policies[i];
    if (!matches(p, v)) continue;
    PolicyMatch m;
    m.action = p.action;
    m.rule = i;
    json::copy_into(m.parameters, p.parameters, m.parameters.GetAllocator());
    return std::optional<PolicyMatch>(std::move(m));
  }
  return std::optional<PolicyMatch>();
}

size_t PolicySet::size() const { return m_impl->policies.size(); }
const std::string& PolicySet::file() const { return m_impl->file; }
const std::vector<std::string>& PolicySet::warnings() const { return m_impl->warnings; }
const std::optional<IncludeExcludePolicy>& PolicySet::include_exclude() const { return m_impl->include_exclude; }

std::string PolicySet::describe(size_t rule) const {
  const std::string name = "volumePolicies[" + std::to_string(rule) + "]";
  if (rule >= m_impl->policies.size()) return name;
  const Policy& p = m_impl->policies[rule];
  return name + " (" + policy_action_name(p.action) + ") at " + pos(m_impl->file, p.mark);
}

}  // namespace kbk::volume
