// Storage-class, ingress-class and image mappings, image reference parsing, and kind -> resource names.
#include <kbk/patch/mappings.hpp>

#include <algorithm>

#include <kbk/util/strings.hpp>

namespace kbk::patch {

namespace {

bool looks_like_registry(std::string_view component) {
  return component.find('.') != std::string_view::npos || component.find(':') != std::string_view::npos ||
         component == "localhost";
}

}  // namespace

std::string ImageRef::normalized() const {
  std::string out = registry + "/" + repository;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::optional<ImageRef> parse_image_ref(std::string_view ref) {
  if (ref.empty() || ref.find_first_of(" \t\n") != std::string_view::npos) return std::nullopt;
  ImageRef r;
  std::string_view rest = ref;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    r.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (r.digest.empty()) return std::nullopt;
  }
  // The tag is after the last ':' that follows the last '/'.
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    r.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (r.tag.empty()) return std::nullopt;
  }
  if (rest.empty()) return std::nullopt;
  auto first_slash = rest.find('/');
  if (first_slash != std::string_view::npos && looks_like_registry(rest.substr(0, first_slash))) {
    r.registry = std::string(rest.substr(0, first_slash));
    r.repository = std::string(rest.substr(first_slash + 1));
  } else {
    r.registry = "docker.io";
    r.repository = std::string(rest);
  }
  if (r.registry == "index.docker.io" || r.registry == "registry-1.docker.io") r.registry = "docker.io";
  if (r.registry == "docker.io" && r.repository.find('/') == std::string::npos) r.repository = "library/" + r.repository;
  if (r.repository.empty()) return std::nullopt;
  return r;
}

Result<ImageMapping> Mappings::make_image_mapping(std::string_view from, std::string_view to) {
  std::string f(util::trim(from)), t(util::trim(to));
  if (f.empty() || t.empty()) return unexpected(Errc::config, "image mapping \"" + f + "=" + t + "\": both sides are needed");
  ImageMapping m{f, t, ""};
  if (f.find('/') == std::string::npos && looks_like_registry(f) && f.find(':') == std::string::npos) {
    m.from_normalized = f == "index.docker.io" ? "docker.io" : f;  // a registry: every image it holds
  } else {
    auto ref = parse_image_ref(f);
    if (!ref) return unexpected(Errc::config, "image mapping: \"" + f + "\" is not an image reference");
    m.from_normalized = ref->normalized();
    // "docker.io/bitnami" written with its registry names the organisation, not library/bitnami.
    auto slash = f.find('/');
    if (slash != std::string::npos && f.find('/', slash + 1) == std::string::npos && ref->tag.empty() &&
        ref->digest.empty() && looks_like_registry(f.substr(0, slash)))
      m.from_normalized = ref->registry + "/" + f.substr(slash + 1);
  }
  return m;
}

Result<std::vector<ImageMapping>> Mappings::parse_images(std::string_view spec) {
  std::vector<ImageMapping> out;
  for (const auto& entry : util::split(spec, ',')) {
    std::string e(util::trim(entry));
    if (e.empty()) continue;
    std::string from, to;
    if (auto eq = e.find('='); eq != std::string::npos) {
      from = e.substr(0, eq);
      to = e.substr(eq + 1);
    } else if (std::count(e.begin(), e.end(), ':') == 1) {
      auto c = e.find(':');
      from = e.substr(0, c);
      to = e.substr(c + 1);
    } else {
      return unexpected(Errc::config, "--image-mappings entry \"" + e +
                                          "\": use OLD=NEW (OLD:NEW only when the entry holds exactly one ':')");
    }
    KBK_ASSIGN_OR_RETURN(auto m, make_image_mapping(from, to));
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::map<std::string, std::string>> Mappings::parse_pairs(std::string_view spec, std::string_view what) {
  std::map<std::string, std::string> out;
  for (const auto& entry : util::split(spec, ',')) {
    std::string e(util::trim(entry));
    if (e.empty()) continue;
    auto c = e.find(':');
    if (c == std::string::npos || c == 0 || c + 1 == e.size() || e.find(':', c + 1) != std::string::npos)
      return unexpected(Errc::config, std::string(what) + " entry \"" + e + "\": expected old:new");
    out[e.substr(0, c)] = e.substr(c + 1);
  }
  return out;
}

std::optional<std::string> map_image(std::string_view ref, const std::vector<ImageMapping>& mappings) {
  if (mappings.empty()) return std::nullopt;
  auto parsed = parse_image_ref(ref);
  if (!parsed) return std::nullopt;
  std::string norm = parsed->normalized();
  for (const auto& m : mappings) {
    const std::string& p = m.from_normalized;
    if (norm.compare(0, p.size(), p) != 0) continue;
    if (norm.size() > p.size()) {
      char next = norm[p.size()];
      if (next != '/' && next != ':' && next != '@') continue;
    }
    return m.to + norm.substr(p.size());
  }
  return std::nullopt;
}

namespace {
template <class V>
V* pod_spec_impl(V& obj) {
  std::string kind = json::get_string(obj, {"kind"});
  if (kind == "Pod") return json::find(obj, "spec");
  if (kind == "PodTemplate") return json::at(obj, {"template", "spec"});
  if (kind == "CronJob") return json::at(obj, {"spec", "jobTemplate", "spec", "template", "spec"});
  if (kind == "Deployment" || kind == "ReplicaSet" || kind == "StatefulSet" || kind == "DaemonSet" || kind == "Job" ||
      kind == "ReplicationController")
    return json::at(obj, {"spec", "template", "spec"});
  return nullptr;
}
}  // namespace

json::Value* pod_spec_of(json::Value& obj) { return pod_spec_impl(obj); }
const json::Value* pod_spec_of(const json::Value& obj) { return pod_spec_impl(obj); }

namespace {

constexpr std::string_view k_beta_storage_class = "volume.beta.kubernetes.io/storage-class";
constexpr std::string_view k_ingress_class_annotation = "kubernetes.io/ingress.class";

void map_string_at(json::Value* v, const std::map<std::string, std::string>& m, json::Allocator& alloc,
                   const std::string& where, std::vector<std::string>& changes) {
  if (!v || !v->IsString()) return;
  auto it = m.find(std::string(v->GetString(), v->GetStringLength()));
  if (it == m.end()) return;
  changes.push_back(where + ": " + it->first + " -> " + it->second);
  *v = json::make_string(it->second, alloc);
}

void map_claim(json::Value& claim, const std::map<std::string, std::string>& m, json::Allocator& alloc,
               const std::string& prefix, std::vector<std::string>& changes) {
  map_string_at(json::at(claim, {"spec", "storageClassName"}), m, alloc, prefix + "spec.storageClassName", changes);
  map_string_at(json::at(claim, {"metadata", "annotations", k_beta_storage_class}), m, alloc,
                prefix + "metadata.annotations[" + std::string(k_beta_storage_class) + "]", changes);
}

}  // namespace

std::vector<std::string> Mappings::apply(json::Document& obj) const {
  std::vector<std::string> changes;
  auto& alloc = obj.GetAllocator();
  std::string kind = json::get_string(obj, {"kind"});
  if (!storage_classes.empty()) {
    if (kind == "PersistentVolumeClaim" || kind == "PersistentVolume") {
      map_claim(obj, storage_classes, alloc, "", changes);
    } else if (kind == "StatefulSet") {
      json::Value* vcts = json::at(obj, {"spec", "volumeClaimTemplates"});
      if (vcts && vcts->IsArray())
        for (rapidjson::SizeType i = 0; i < vcts->Size(); ++i)
          map_claim((*vcts)[i], storage_classes, alloc, "spec.volumeClaimTemplates[" + std::to_string(i) + "].", changes);
    }
  }
  if (!ingress_classes.empty() && kind == "Ingress") {
    map_string_at(json::at(obj, {"spec", "ingressClassName"}), ingress_classes, alloc, "spec.ingressClassName", changes);
    map_string_at(json::at(obj, {"metadata", "annotations", k_ingress_class_annotation}), ingress_classes, alloc,
                  "metadata.annotations[" + std::string(k_ingress_class_annotation) + "]", changes);
  }
  if (!images.empty()) {
    if (json::Value* spec = pod_spec_of(obj)) {
      for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
        json::Value* cs = json::find(*spec, list);
        if (!cs || !cs->IsArray()) continue;
        for (auto& c : cs->GetArray()) {
          json::Value* image = json::find(c, "image");
          if (!image || !image->IsString()) continue;
          std::string old(image->GetString(), image->GetStringLength());
          if (auto mapped = map_image(old, images)) {
            changes.push_back(std::string(list) + "[" + json::get_string(c, {"name"}) + "].image: " + old + " -> " + *mapped);
            *image = json::make_string(*mapped, alloc);
          }
        }
      }
    }
  }
  return changes;
}

std::string group_resource_for(std::string_view api_version, std::string_view kind) {
  std::string group;
  if (auto slash = api_version.find('/'); slash != std::string_view::npos) group = api_version.substr(0, slash);
  std::string lower = util::to_lower(kind);
  std::string plural;
  if (lower == "endpoints" || lower.empty()) plural = lower;
  else if (util::ends_with(lower, "s") || util::ends_with(lower, "x") || util::ends_with(lower, "ch") ||
           util::ends_with(lower, "sh"))
    plural = lower + "es";
  else if (util::ends_with(lower, "y") && lower.size() > 1 && std::string("aeiou").find(lower[lower.size() - 2]) == std::string::npos)
    plural = lower.substr(0, lower.size() - 1) + "ies";
  else
    plural = lower + "s";
  return group.empty() ? plural : plural + "." + group;
}

}  // namespace kbk::patch
