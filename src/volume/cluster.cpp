// Temporaries, interrupts, helper pods and CSI snapshots (cluster.hpp).
#include <kbk/volume/cluster.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <kbk/crypto/hash.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::volume {

namespace types {
namespace {
kube::ResourceType make(const char* group, const char* version, const char* resource, const char* kind, bool ns) {
  kube::ResourceType rt;
  rt.group = group;
  rt.version = version;
  rt.resource = resource;
  rt.kind = kind;
  rt.namespaced = ns;
  return rt;
}
}  // namespace
kube::ResourceType pods() { return make("", "v1", "pods", "Pod", true); }
kube::ResourceType claims() { return make("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true); }
kube::ResourceType volumes() { return make("", "v1", "persistentvolumes", "PersistentVolume", false); }
kube::ResourceType namespaces() { return make("", "v1", "namespaces", "Namespace", false); }
kube::ResourceType events() { return make("", "v1", "events", "Event", true); }
kube::ResourceType storage_classes() { return make("storage.k8s.io", "v1", "storageclasses", "StorageClass", false); }
kube::ResourceType snapshots() { return make("snapshot.storage.k8s.io", "v1", "volumesnapshots", "VolumeSnapshot", true); }
kube::ResourceType snapshot_contents() {
  return make("snapshot.storage.k8s.io", "v1", "volumesnapshotcontents", "VolumeSnapshotContent", false);
}
kube::ResourceType snapshot_classes() {
  return make("snapshot.storage.k8s.io", "v1", "volumesnapshotclasses", "VolumeSnapshotClass", false);
}
}  // namespace types

// ---- interrupts ---------------------------------------------------------------------------------------------------

namespace {
constexpr int k_session_slots = 256;
std::atomic<bool> g_interrupted{false};
std::atomic<kube::ExecSession*> g_sessions[k_session_slots];
std::atomic<long> g_live_temporaries{0};
struct sigaction g_old_int, g_old_term;

extern "C" void on_interrupt(int sig) {
  if (g_interrupted.load() || g_live_temporaries.load() == 0) {
    // Nothing of ours in a cluster (or asked twice): end now, as the signal would.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  interrupt();
}
}  // namespace

long live_temporaries() { return g_live_temporaries.load(); }

InterruptHandler::InterruptHandler() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}
InterruptHandler::~InterruptHandler() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

void interrupt() {
  g_interrupted.store(true);
  for (auto& s : g_sessions)
    if (kube::ExecSession* p = s.load()) p->cancel();
}
bool interrupted() { return g_interrupted.load(); }
void reset_interrupt() { g_interrupted.store(false); }

SessionGuard::SessionGuard(kube::ExecSession* session) {
  for (int i = 0; i < k_session_slots; ++i) {
    kube::ExecSession* expected = nullptr;
    if (g_sessions[i].compare_exchange_strong(expected, session)) {
      m_slot = i;
      break;
    }
  }
  if (g_interrupted.load()) session->cancel();
}
SessionGuard::~SessionGuard() {
  if (m_slot >= 0) g_sessions[m_slot].store(nullptr);
}

Result<void> pause(double seconds) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < end) {
    if (interrupted()) return unexpected(Errc::cancelled, "interrupted");
    Clock::duration left = end - Clock::now();
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(50), left));
  }
  if (interrupted()) return unexpected(Errc::cancelled, "interrupted");
  return {};
}

// ---- ownership ----------------------------------------------------------------------------------------------------

namespace {
std::string host_name() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return host;
}
// Field 22 of /proc/PID/stat: the start time in clock ticks since boot; "" when the process is not there.
std::string start_ticks(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return "";
  auto close = line.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && (rest >> field); ++i)
    if (i == 22) return field;
  return "";
}
}  // namespace

std::string owner_id() { return host_name() + "/" + std::to_string(::getpid()) + "/" + start_ticks(::getpid()); }

bool owner_is_this_host(const std::string& owner) {
  auto parts = util::split(owner, '/', false);
  return parts.size() == 3 && parts[0] == host_name();
}

bool owner_alive_here(const std::string& owner) {
  auto parts = util::split(owner, '/', false);
  if (parts.size() != 3 || parts[0] != host_name()) return false;
  char* end = nullptr;
  long pid = std::strtol(parts[1].c_str(), &end, 10);
  if (!end || *end || pid <= 0) return false;
  return start_ticks(pid) == parts[2];
}

// ---- temporaries --------------------------------------------------------------------------------------------------

namespace {
bool same(const TemporaryObject& o, const kube::ResourceType& t, const std::string& ns, const std::string& name) {
  return o.type.resource == t.resource && o.type.group == t.group && o.namespace_ == ns && o.name == name;
}
std::string display(const kube::ResourceType& t, const std::string& ns, const std::string& name) {
  return t.kind + " " + (ns.empty() ? name : ns + "/" + name);
}
}  // namespace

Temporaries::Temporaries(kube::Client& client, std::map<std::string, std::string> labels)
    : m_client(client), m_labels(std::move(labels)) {}
Temporaries::~Temporaries() = default;

void Temporaries::stamp(json::Value& obj, json::Allocator& a, const std::string& volume) const {
  json::Value& md = json::ensure_object(obj, "metadata", a);
  json::Value& labels = json::ensure_object(md, "labels", a);
  json::set(labels, k_label_temporary, json::make_string("true", a), a);
  json::set(labels, "app.kubernetes.io/managed-by", json::make_string("kbk", a), a);
  for (const auto& [k, v] : m_labels) json::set(labels, k, json::make_string(label_value(v), a), a);
  json::Value& ann = json::ensure_object(md, "annotations", a);
  json::set(ann, k_annotation_owner, json::make_string(owner_id(), a), a);
  for (const auto& [k, v] : m_labels) json::set(ann, k, json::make_string(v, a), a);
  if (!volume.empty()) json::set(ann, k_annotation_volume, json::make_string(volume, a), a);
}

void Temporaries::add(const kube::ResourceType& type, const std::string& ns, const std::string& name, bool keep_storage) {
  std::lock_guard lock(m_mutex);
  m_objects.push_back({type, ns, name, keep_storage});
  ++g_live_temporaries;
}

void Temporaries::forget(const kube::ResourceType& type, const std::string& ns, const std::string& name) {
  std::lock_guard lock(m_mutex);
  auto end = std::remove_if(m_objects.begin(), m_objects.end(),
                            [&](const TemporaryObject& o) { return same(o, type, ns, name); });
  g_live_temporaries -= static_cast<long>(m_objects.end() - end);
  m_objects.erase(end, m_objects.end());
}

Result<void> Temporaries::remove(const kube::ResourceType& type, const std::string& ns, const std::string& name) {
  bool keep_storage = false;  // as registered
  {
    std::lock_guard lock(m_mutex);
    for (const auto& o : m_objects)
      if (same(o, type, ns, name)) keep_storage = o.keep_storage;
  }
  KBK_TRY(delete_now(m_client, type, ns, name, keep_storage));
  forget(type, ns, name);
  return {};
}

size_t Temporaries::size() const {
  std::lock_guard lock(m_mutex);
  return m_objects.size();
}

std::vector<std::string> Temporaries::cleanup() {
  std::vector<TemporaryObject> objs;
  {
    std::lock_guard lock(m_mutex);
    objs.swap(m_objects);
  }
  // Counted as alive until deleted: a signal during the cleanup interrupts, it does not kill.
  std::vector<std::string> errors;
  for (auto it = objs.rbegin(); it != objs.rend(); ++it) {
    if (auto r = delete_now(m_client, it->type, it->namespace_, it->name, it->keep_storage); !r) {
      errors.push_back("could not delete " + display(it->type, it->namespace_, it->name) + ": " + r.error().message);
      log::warning(errors.back() + " (kbk cleanup removes it)");
    } else {
      log::info(2, "deleted " + display(it->type, it->namespace_, it->name));
    }
    --g_live_temporaries;
  }
  return errors;
}

Result<void> delete_now(kube::Client& client, const kube::ResourceType& type, const std::string& ns,
                        const std::string& name, bool keep_storage) {
  kube::DeleteOptions opts;
  opts.propagation_policy = "Background";
  if (type.resource == "pods") opts.grace_period_seconds = 0;
  if (type.resource == "volumesnapshots" && !keep_storage) {
    // The content keeps the storage snapshot when its policy is Retain: a temporary snapshot must take it along.
    if (auto vs = client.get(type, ns, name)) {
      const std::string content = json::get_string(*vs, {"status", "boundVolumeSnapshotContentName"});
      if (!content.empty()) {
        auto r = client.patch(types::snapshot_contents(), "", content, kube::PatchType::merge,
                              R"({"spec":{"deletionPolicy":"Delete"}})", {});
        if (!r && !r.error().is(Errc::not_found)) return std::move(r).error();
      }
    } else if (vs.error().is(Errc::not_found)) {
      return {};
    }
  }
  auto r = client.remove(type, ns, name, opts);
  if (!r && !r.error().is(Errc::not_found)) return std::move(r).error();
  return {};
}

Result<CleanupReport> cleanup_leftovers(kube::Client& client, const CleanupOptions& options) {
  CleanupReport report;
  std::string selector = std::string(k_label_temporary) + "=true";
  if (!options.backup.empty()) selector += std::string(",") + k_label_backup + "=" + label_value(options.backup);
  if (!options.restore.empty()) selector += std::string(",") + k_label_restore + "=" + label_value(options.restore);
  // Pods first (they hold the claims), then claims, snapshots (taking their contents along), contents left over.
  for (const auto& type : {types::pods(), types::claims(), types::snapshots(), types::snapshot_contents()}) {
    kube::ListOptions lo;
    lo.label_selector = selector;
    std::vector<TemporaryObject> found;
    auto listed = client.list(type, "", lo, [&](kube::ListPage& page) -> Result<void> {
      const json::Value* items = json::find(page.list, "items");
      if (!items || !items->IsArray()) return {};
      for (const auto& it : items->GetArray()) {
        TemporaryObject o{type, json::get_string(it, {"metadata", "namespace"}), json::get_string(it, {"metadata", "name"}),
                          json::get_string(it, {"metadata", "annotations", k_annotation_keep_storage}) == "true"};
        // A backup's name label is shortened; the annotation holds it whole.
        if (!options.backup.empty() &&
            json::get_string(it, {"metadata", "annotations", k_label_backup}, options.backup) != options.backup)
          continue;
        if (!options.restore.empty() &&
            json::get_string(it, {"metadata", "annotations", k_label_restore}, options.restore) != options.restore)
          continue;
        if (options.dead_owners_only) {
          const std::string owner = json::get_string(it, {"metadata", "annotations", k_annotation_owner});
          if (!owner_is_this_host(owner) || owner_alive_here(owner)) {
            report.kept.push_back(display(type, o.namespace_, o.name) + ": owner " + owner +
                                  (owner_is_this_host(owner) ? " still runs" : " is another host"));
            continue;
          }
        }
        if (json::at(it, {"metadata", "deletionTimestamp"}) && type.resource != "pods") {
          // Being deleted already (a finalizer waits): counted, not deleted again.
        }
        found.push_back(std::move(o));
      }
      return {};
    });
    if (!listed) {
      // A cluster without the snapshot API has no snapshots to clean.
      if (type.group == "snapshot.storage.k8s.io" && listed.error().is(Errc::not_found)) continue;
      return std::move(listed).error().wrap("listing " + type.group_resource() + " labelled " + selector);
    }
    for (auto& o : found) {
      if (!options.dry_run) {
        if (auto r = delete_now(client, o.type, o.namespace_, o.name, o.keep_storage); !r) {
          report.errors.push_back(display(o.type, o.namespace_, o.name) + ": " + r.error().message);
          continue;
        }
      }
      report.removed.push_back(std::move(o));
    }
  }
  return report;
}

// ---- helper pods --------------------------------------------------------------------------------------------------

std::string MoverIdentity::describe() const {
  switch (kind) {
    case Kind::root_reader: return "root with CAP_DAC_OVERRIDE only (Pod Security baseline)";
    case Kind::root_writer: return "root with CHOWN, DAC_OVERRIDE, FOWNER, FSETID, MKNOD, SETFCAP (Pod Security baseline)";
    case Kind::user: return "uid " + std::to_string(uid) + " gid " + std::to_string(gid) + " without capabilities (Pod Security restricted)";
  }
  return "";
}

Result<json::Document> create_temporary(kube::Client& client, const kube::ResourceType& type, const std::string& ns,
                                        json::Document& obj) {
  static std::atomic<uint64_t> serial{0};
  auto& a = obj.GetAllocator();
  json::Value& md = json::ensure_object(obj, "metadata", a);
  const std::string owner = json::get_string(md, {"annotations", k_annotation_owner});
  const std::string prefix = json::get_string(md, {"generateName"});
  if (!prefix.empty()) {
    const std::string volume = json::get_string(md, {"annotations", k_annotation_volume});
    const std::string name =
        prefix + crypto::sha256_hex(owner + "/" + volume + "/" + std::to_string(++serial)).substr(0, 10);
    json::erase(md, "generateName");
    json::set(md, "name", json::make_string(name, a), a);
  }
  const std::string name = json::get_string(md, {"name"});
  auto created = client.create(type, ns, obj, {});
  if (!created && created.error().is(Errc::already_exists) && !owner.empty()) {
    auto found = client.get(type, ns, name);
    if (found && json::get_string(*found, {"metadata", "annotations", k_annotation_owner}) == owner) {
      log::info(2, type.kind + " " + ns + "/" + name + ": a retried create found the object it made");
      return found;
    }
  }
  return created;
}

json::Document helper_pod_object(const HelperPod& spec, const MoverSettings& settings, const Temporaries& temps) {
  json::Document pod;
  pod.SetObject();
  auto& a = pod.GetAllocator();
  json::set(pod, "apiVersion", json::make_string("v1", a), a);
  json::set(pod, "kind", json::make_string("Pod", a), a);
  json::Value& md = json::ensure_object(pod, "metadata", a);
  json::set(md, "generateName", json::make_string(spec.generate_name, a), a);
  json::set(md, "namespace", json::make_string(spec.namespace_, a), a);
  temps.stamp(pod, a, spec.volume_label);
  json::set(json::ensure_object(md, "labels", a), "app.kubernetes.io/component", json::make_string("volume-mover", a), a);

  json::Value& ps = json::ensure_object(pod, "spec", a);
  json::set(ps, "restartPolicy", json::make_string("Never", a), a);
  json::set(ps, "automountServiceAccountToken", json::Value(false), a);
  json::set(ps, "enableServiceLinks", json::Value(false), a);
  json::set(ps, "terminationGracePeriodSeconds", json::Value(0), a);
  json::set(ps, "activeDeadlineSeconds", json::Value(static_cast<int64_t>(spec.lifetime_seconds) + 600), a);
  if (!settings.priority_class.empty())
    json::set(ps, "priorityClassName", json::make_string(settings.priority_class, a), a);
  if (!settings.node_selector.empty()) {
    json::Value& sel = json::ensure_object(ps, "nodeSelector", a);
    for (const auto& [k, v] : settings.node_selector) json::set(sel, k, json::make_string(v, a), a);
  }
  if (!spec.node.empty()) {
    // Pinned as a DaemonSet pod is: required affinity on the node's name (the scheduler still checks taints).
    json::Document aff = *json::parse(R"({"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{)"
                                      R"("nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In",)"
                                      R"("values":[")" + spec.node + R"("]}]}]}}})");
    json::Value v;
    v.CopyFrom(aff, a);
    json::set(ps, "affinity", std::move(v), a);
  }
  json::Value tolerations(rapidjson::kArrayType);
  for (const json::Value* list : {static_cast<const json::Value*>(&settings.tolerations),
                                  static_cast<const json::Value*>(&spec.extra_tolerations)})
    if (list->IsArray())
      for (const auto& t : list->GetArray()) {
        json::Value c;
        c.CopyFrom(t, a);
        tolerations.PushBack(c, a);
      }
  if (!tolerations.Empty()) json::set(ps, "tolerations", std::move(tolerations), a);

  json::Value psc(rapidjson::kObjectType);
  json::Value seccomp(rapidjson::kObjectType);
  json::set(seccomp, "type", json::make_string("RuntimeDefault", a), a);
  json::set(psc, "seccompProfile", std::move(seccomp), a);
  const bool root = spec.identity.kind != MoverIdentity::Kind::user;
  json::set(psc, "runAsNonRoot", json::Value(!root), a);
  json::set(psc, "runAsUser", json::Value(root ? int64_t{0} : spec.identity.uid), a);
  json::set(psc, "runAsGroup", json::Value(root ? int64_t{0} : spec.identity.gid), a);
  if (!root && spec.identity.fs_group) json::set(psc, "fsGroup", json::Value(*spec.identity.fs_group), a);
  if (!root && !spec.identity.supplemental_groups.empty()) {
    json::Value groups(rapidjson::kArrayType);
    for (int64_t g : spec.identity.supplemental_groups) groups.PushBack(json::Value(g), a);
    json::set(psc, "supplementalGroups", std::move(groups), a);
  }
  json::set(ps, "securityContext", std::move(psc), a);

  json::Value c(rapidjson::kObjectType);
  json::set(c, "name", json::make_string(k_mover_container, a), a);
  json::set(c, "image", json::make_string(settings.image, a), a);
  json::set(c, "imagePullPolicy", json::make_string("IfNotPresent", a), a);
  json::Value cmd(rapidjson::kArrayType);
  cmd.PushBack(json::make_string("sleep", a), a);
  cmd.PushBack(json::make_string(std::to_string(static_cast<int64_t>(spec.lifetime_seconds)), a), a);
  json::set(c, "command", std::move(cmd), a);
  json::Value csc(rapidjson::kObjectType);
  json::set(csc, "privileged", json::Value(false), a);
  json::set(csc, "allowPrivilegeEscalation", json::Value(false), a);
  json::set(csc, "readOnlyRootFilesystem", json::Value(true), a);
  json::Value caps(rapidjson::kObjectType);
  json::Value drop(rapidjson::kArrayType);
  drop.PushBack(json::make_string("ALL", a), a);
  json::set(caps, "drop", std::move(drop), a);
  std::vector<const char*> add;
  if (spec.identity.kind == MoverIdentity::Kind::root_reader) add = {"DAC_OVERRIDE"};
  if (spec.identity.kind == MoverIdentity::Kind::root_writer)
    add = {"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "MKNOD", "SETFCAP"};
  if (!add.empty()) {
    json::Value adds(rapidjson::kArrayType);
    for (const char* cap : add) adds.PushBack(json::make_string(cap, a), a);
    json::set(caps, "add", std::move(adds), a);
  }
  json::set(csc, "capabilities", std::move(caps), a);
  json::set(c, "securityContext", std::move(csc), a);
  if (settings.resources.IsObject()) {
    json::Value r;
    r.CopyFrom(settings.resources, a);
    json::set(c, "resources", std::move(r), a);
  }
  json::Value mounts(rapidjson::kArrayType);
  json::Value mount(rapidjson::kObjectType);
  json::set(mount, "name", json::make_string("data", a), a);
  json::set(mount, "mountPath", json::make_string(spec.mount_path, a), a);
  if (spec.read_only) json::set(mount, "readOnly", json::Value(true), a);
  mounts.PushBack(mount, a);
  for (size_t i = 0; i < spec.more_volumes.size(); ++i) {
    json::Value m(rapidjson::kObjectType);
    json::set(m, "name", json::make_string("data-" + std::to_string(i + 1), a), a);
    json::set(m, "mountPath", json::make_string(spec.more_volumes[i].second, a), a);
    if (spec.read_only) json::set(m, "readOnly", json::Value(true), a);
    mounts.PushBack(m, a);
  }
  const bool scratch = settings.kind == "kbk";  // the in-pod mover's bundle cache (docs/mover.md section 1)
  if (scratch) {
    json::Value m(rapidjson::kObjectType);
    json::set(m, "name", json::make_string("kbk", a), a);
    json::set(m, "mountPath", json::make_string("/kbk", a), a);
    mounts.PushBack(m, a);
  }
  json::set(c, "volumeMounts", std::move(mounts), a);
  json::Value containers(rapidjson::kArrayType);
  containers.PushBack(c, a);
  json::set(ps, "containers", std::move(containers), a);

  json::Value vol;
  vol.CopyFrom(spec.volume, a);
  json::set(vol, "name", json::make_string("data", a), a);
  json::Value vols(rapidjson::kArrayType);
  vols.PushBack(vol, a);
  for (size_t i = 0; i < spec.more_volumes.size(); ++i) {
    json::Value more;
    more.CopyFrom(spec.more_volumes[i].first, a);
    json::set(more, "name", json::make_string("data-" + std::to_string(i + 1), a), a);
    vols.PushBack(more, a);
  }
  if (scratch) {
    json::Value v(rapidjson::kObjectType);
    json::set(v, "name", json::make_string("kbk", a), a);
    json::Value ed(rapidjson::kObjectType);
    json::set(ed, "sizeLimit", json::make_string("512Mi", a), a);
    json::set(v, "emptyDir", std::move(ed), a);
    vols.PushBack(v, a);
  }
  json::set(ps, "volumes", std::move(vols), a);
  return pod;
}

std::string last_event(kube::Client& client, const std::string& ns, const std::string& kind, const std::string& name) {
  kube::ListOptions lo;
  lo.field_selector = "involvedObject.kind=" + kind + ",involvedObject.name=" + name;
  lo.limit = 0;
  std::string best, best_time;
  (void)client.list(types::events(), ns, lo, [&](kube::ListPage& page) -> Result<void> {
    const json::Value* items = json::find(page.list, "items");
    if (!items || !items->IsArray()) return {};
    for (const auto& e : items->GetArray()) {
      std::string t = json::get_string(e, {"lastTimestamp"});
      if (t.empty()) t = json::get_string(e, {"eventTime"});
      if (t.empty()) t = json::get_string(e, {"metadata", "creationTimestamp"});
      const std::string type = json::get_string(e, {"type"});
      // A warning outranks the normal events around it (Scheduled, Pulled) at the same time.
      const std::string rank = t + (type == "Warning" ? "1" : "0");
      if (rank >= best_time) {
        best_time = rank;
        best = json::get_string(e, {"reason"}) + ": " + json::get_string(e, {"message"});
      }
    }
    return {};
  });
  return best;
}

std::string start_trouble(kube::Client& client, const std::string& ns, const std::string& name) {
  kube::ListOptions lo;
  lo.field_selector = "involvedObject.kind=Pod,involvedObject.name=" + name;
  lo.limit = 0;
  std::string found;
  (void)client.list(types::events(), ns, lo, [&](kube::ListPage& page) -> Result<void> {
    const json::Value* items = json::find(page.list, "items");
    if (!items || !items->IsArray()) return {};
    for (const auto& e : items->GetArray()) {
      const std::string reason = json::get_string(e, {"reason"});
      if (json::get_string(e, {"type"}) == "Warning" &&
          (reason == "FailedMount" || reason == "FailedAttachVolume" || reason == "FailedScheduling") && found.empty())
        found = reason + ": " + json::get_string(e, {"message"});
    }
    return {};
  });
  return found;
}

std::string pod_gone(kube::Client& client, const std::string& ns, const std::string& name) {
  auto pod = client.get(types::pods(), ns, name);
  if (!pod) return pod.error().is(Errc::not_found) ? "deleted or evicted" : "";
  std::string disruption;
  if (const json::Value* conds = json::at(*pod, {"status", "conditions"}); conds && conds->IsArray())
    for (const auto& c : conds->GetArray())
      if (json::get_string(c, {"type"}) == "DisruptionTarget" && json::get_string(c, {"status"}) == "True")
        disruption = json::get_string(c, {"reason"});
  if (json::at(*pod, {"metadata", "deletionTimestamp"}))
    return disruption.empty() ? "deleted or evicted" : "evicted (" + disruption + ")";
  const std::string phase = json::get_string(*pod, {"status", "phase"});
  if (phase == "Running" || phase.empty()) return "";
  const std::string reason = json::get_string(*pod, {"status", "reason"});
  const std::string message = json::get_string(*pod, {"status", "message"});
  return phase + (reason.empty() ? "" : " (" + reason + (message.empty() ? "" : ": " + message) + ")");
}

Result<json::Document> wait_pod_running(kube::Client& client, const std::string& ns, const std::string& name,
                                        double timeout_seconds, double poll_seconds, bool give_up_on_trouble) {
  const auto started = std::chrono::steady_clock::now();
  auto next_look = started + std::chrono::milliseconds(300);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  // Polls 20 ms after the create at first, each wait half again as long as the last, up to poll_seconds: a helper
  // pod on a node that has the image runs within a second, and every volume waits for one (an unchanged volume's
  // whole backup takes about that long), so a doubling wait overshot its start by up to as long again.
  double wait = std::min(0.02, poll_seconds);
  for (;;) {
    auto pod = client.get(types::pods(), ns, name);
    if (!pod) return std::move(pod).error().wrap("pod " + ns + "/" + name);
    const std::string phase = json::get_string(*pod, {"status", "phase"});
    if (phase == "Failed" || phase == "Succeeded")
      return unexpected(Errc::precondition, "pod " + ns + "/" + name + " is " + phase + " (" +
                                                json::get_string(*pod, {"status", "reason"}, "no reason") + ")");
    bool running = phase == "Running";
    if (running) {
      const json::Value* statuses = json::at(*pod, {"status", "containerStatuses"});
      if (statuses && statuses->IsArray())
        for (const auto& s : statuses->GetArray())
          if (!json::at(s, {"state", "running"})) running = false;
    }
    if (running) return std::move(*pod);
    if (give_up_on_trouble && std::chrono::steady_clock::now() >= next_look) {
      next_look = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
      if (std::string why = start_trouble(client, ns, name); !why.empty())
        return unexpected(Errc::precondition, "pod " + ns + "/" + name + " cannot start: " + why);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string why = last_event(client, ns, "Pod", name);
      if (why.empty()) {
        const json::Value* conds = json::at(*pod, {"status", "conditions"});
        if (conds && conds->IsArray())
          for (const auto& c : conds->GetArray())
            if (json::get_string(c, {"status"}) == "False" && !json::get_string(c, {"message"}).empty())
              why = json::get_string(c, {"reason"}) + ": " + json::get_string(c, {"message"});
      }
      return unexpected(Errc::timeout, "pod " + ns + "/" + name + " did not start within " +
                                           util::human_duration(timeout_seconds) + " (phase " +
                                           (phase.empty() ? "Pending" : phase) + ")" + (why.empty() ? "" : ": " + why));
    }
    KBK_TRY(pause(wait));
    wait = std::min(wait * 1.5, poll_seconds);
  }
}

Result<json::Document> start_helper_pod(kube::Client& client, Temporaries& temps, const HelperPod& spec,
                                        const MoverSettings& settings, double timeout_seconds, double poll_seconds) {
  if (interrupted()) return unexpected(Errc::cancelled, "interrupted");
  json::Document obj = helper_pod_object(spec, settings, temps);
  auto created = create_temporary(client, types::pods(), spec.namespace_, obj);
  if (!created)
    return std::move(created).error().wrap("creating a helper pod in " + spec.namespace_ + " for " + spec.volume_label);
  const std::string name = json::get_string(*created, {"metadata", "name"});
  temps.add(types::pods(), spec.namespace_, name);
  log::info(2, "helper pod " + spec.namespace_ + "/" + name + " for " + spec.volume_label + " runs as " +
                   spec.identity.describe());
  const auto created_at = std::chrono::steady_clock::now();
  auto pod = wait_pod_running(client, spec.namespace_, name, timeout_seconds, poll_seconds);
  if (pod)
    log::info(2, "helper pod " + spec.namespace_ + "/" + name + " running " +
                     util::human_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - created_at).count()) +
                     " after its create");
  return pod;
}

Result<std::string> enforced_pod_security(kube::Client& client, const std::string& ns) {
  auto n = client.get(types::namespaces(), "", ns);
  if (!n) return std::move(n).error().wrap("namespace " + ns);
  return json::get_string(*n, {"metadata", "labels", "pod-security.kubernetes.io/enforce"});
}

// ---- CSI snapshots ------------------------------------------------------------------------------------------------

Result<std::optional<std::string>> find_snapshot_class(kube::Client& client, const std::string& driver,
                                                       const json::Value* claim) {
  if (claim) {
    const std::string named = json::get_string(*claim, {"metadata", "annotations", "velero.io/csi-volumesnapshot-class"});
    if (!named.empty()) return std::optional<std::string>(named);
  }
  std::vector<std::pair<std::string, int>> found;  // name, rank (lower wins)
  kube::ListOptions lo;
  lo.limit = 0;
  auto listed = client.list(types::snapshot_classes(), "", lo, [&](kube::ListPage& page) -> Result<void> {
    const json::Value* items = json::find(page.list, "items");
    if (!items || !items->IsArray()) return {};
    for (const auto& c : items->GetArray()) {
      if (json::get_string(c, {"driver"}) != driver) continue;
      int rank = 3;
      if (json::get_string(c, {"metadata", "labels", "velero.io/csi-volumesnapshot-class"}) == "true") rank = 1;
      else if (json::get_string(c, {"metadata", "annotations", "snapshot.storage.kubernetes.io/is-default-class"}) == "true")
        rank = 2;
      found.emplace_back(json::get_string(c, {"metadata", "name"}), rank);
    }
    return {};
  });
  if (!listed) {
    if (listed.error().is(Errc::not_found)) return std::optional<std::string>();  // no snapshot API
    return std::move(listed).error().wrap("listing VolumeSnapshotClasses");
  }
  if (found.empty()) return std::optional<std::string>();
  std::sort(found.begin(), found.end(), [](const auto& x, const auto& y) { return x.second < y.second || (x.second == y.second && x.first < y.first); });
  if (found[0].second == 3 && found.size() > 1) return std::optional<std::string>();  // several, none chosen
  return std::optional<std::string>(found[0].first);
}

Result<TakenSnapshot> take_snapshot(kube::Client& client, Temporaries& temps, const std::string& ns,
                                    const std::string& claim, const std::string& snapshot_class,
                                    double timeout_seconds, double poll_seconds,
                                    const std::function<void()>& on_cut) {
  json::Document vs;
  vs.SetObject();
  auto& a = vs.GetAllocator();
  json::set(vs, "apiVersion", json::make_string("snapshot.storage.k8s.io/v1", a), a);
  json::set(vs, "kind", json::make_string("VolumeSnapshot", a), a);
  json::Value& md = json::ensure_object(vs, "metadata", a);
  std::string prefix = "kbk-" + claim;
  if (prefix.size() > 40) prefix.resize(40);
  while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  json::set(md, "generateName", json::make_string(prefix + "-", a), a);
  json::set(md, "namespace", json::make_string(ns, a), a);
  temps.stamp(vs, a, ns + "/" + claim);
  json::Value& spec = json::ensure_object(vs, "spec", a);
  json::set(spec, "volumeSnapshotClassName", json::make_string(snapshot_class, a), a);
  json::set(json::ensure_object(spec, "source", a), "persistentVolumeClaimName", json::make_string(claim, a), a);
  auto created = create_temporary(client, types::snapshots(), ns, vs);
  if (!created) return std::move(created).error().wrap("creating a VolumeSnapshot of " + ns + "/" + claim);
  TakenSnapshot t;
  t.namespace_ = ns;
  t.name = json::get_string(*created, {"metadata", "name"});
  temps.add(types::snapshots(), ns, t.name);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  for (;;) {
    auto cur = client.get(types::snapshots(), ns, t.name);
    if (!cur) return std::move(cur).error().wrap("VolumeSnapshot " + ns + "/" + t.name);
    const json::Value* ready = json::at(*cur, {"status", "readyToUse"});
    t.content = json::get_string(*cur, {"status", "boundVolumeSnapshotContentName"});
    const std::string err = json::get_string(*cur, {"status", "error", "message"});
    bool cut = !json::get_string(*cur, {"status", "creationTime"}).empty();
    if (!cut && !t.content.empty()) {
      if (auto c = client.get(types::snapshot_contents(), "", t.content))
        cut = json::at(*c, {"status", "creationTime"}) != nullptr;
    }
    if (cut && on_cut) on_cut();
    if (ready && ready->IsBool() && ready->GetBool() && !t.content.empty()) {
      t.csi.restore_size = json::get_string(*cur, {"status", "restoreSize"});
      t.csi.volume_snapshot_class = snapshot_class;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return unexpected(Errc::timeout, "VolumeSnapshot " + ns + "/" + t.name + " of " + claim + " was not ready within " +
                                           util::human_duration(timeout_seconds) + (err.empty() ? "" : ": " + err));
    KBK_TRY(pause(poll_seconds));
  }
  auto content = client.get(types::snapshot_contents(), "", t.content);
  if (!content) return std::move(content).error().wrap("VolumeSnapshotContent " + t.content);
  t.csi.driver = json::get_string(*content, {"spec", "driver"});
  t.csi.snapshot_handle = json::get_string(*content, {"status", "snapshotHandle"});
  t.csi.source_volume_mode = json::get_string(*content, {"spec", "sourceVolumeMode"}, "Filesystem");
  if (t.csi.snapshot_handle.empty())
    return unexpected(Errc::internal_error, "VolumeSnapshotContent " + t.content + " has no snapshot handle");
  // Labelled too, so kbk cleanup finds it should the VolumeSnapshot be gone.
  json::Document patch;
  patch.SetObject();
  temps.stamp(patch, patch.GetAllocator(), ns + "/" + claim);
  if (auto r = client.patch(types::snapshot_contents(), "", t.content, kube::PatchType::merge, json::to_string(patch), {}); !r)
    log::info(1, "could not label VolumeSnapshotContent " + t.content + ": " + r.error().message);
  return t;
}

Result<void> ensure_mover_namespace(kube::Client& client, const std::string& ns,
                                    const std::function<void(const std::string&)>& log) {
  auto got = client.get(types::namespaces(), "", ns);
  if (!got && got.error().is(Errc::not_found)) {
    json::Document obj;
    obj.SetObject();
    auto& a = obj.GetAllocator();
    json::set(obj, "apiVersion", json::make_string("v1", a), a);
    json::set(obj, "kind", json::make_string("Namespace", a), a);
    json::Value& md = json::ensure_object(obj, "metadata", a);
    json::set(md, "name", json::make_string(ns, a), a);
    json::Value& labels = json::ensure_object(md, "labels", a);
    json::set(labels, "pod-security.kubernetes.io/enforce", json::make_string("baseline", a), a);
    json::set(labels, "kbk.io/mover-namespace", json::make_string("true", a), a);
    auto made = client.create(types::namespaces(), "", obj, {});
    if (!made && !made.error().is(Errc::already_exists)) return std::move(made).error().wrap("creating mover namespace " + ns);
    if (made) {
      if (log) log("created mover namespace " + ns + " (Pod Security baseline); it stays for later runs");
      return {};
    }
    return ensure_mover_namespace(client, ns, log);  // another run made it at the same moment: check that one
  }
  if (!got) return std::move(got).error().wrap("mover namespace " + ns);
  if (json::get_string(*got, {"metadata", "labels", "pod-security.kubernetes.io/enforce"}) == "restricted")
    return unexpected(Errc::precondition, "mover namespace " + ns +
                                              " enforces Pod Security restricted: kbk's root movers cannot run there "
                                              "(label it pod-security.kubernetes.io/enforce=baseline)");
  return {};
}

Result<TakenSnapshot> rebind_snapshot(kube::Client& client, Temporaries& temps, const TakenSnapshot& from,
                                      const std::string& ns, const std::string& volume, double timeout_seconds,
                                      double poll_seconds) {
  // One name for both objects, the same for a retried run of this process (a create that finds its own object).
  const std::string name = "kbk-mv-" + crypto::sha256_hex(owner_id() + "/" + from.namespace_ + "/" + from.name).substr(0, 16);
  json::Document vsc;
  vsc.SetObject();
  auto& a = vsc.GetAllocator();
  json::set(vsc, "apiVersion", json::make_string("snapshot.storage.k8s.io/v1", a), a);
  json::set(vsc, "kind", json::make_string("VolumeSnapshotContent", a), a);
  json::set(json::ensure_object(vsc, "metadata", a), "name", json::make_string(name, a), a);
  temps.stamp(vsc, a, volume);
  json::set(json::ensure_object(json::ensure_object(vsc, "metadata", a), "annotations", a), k_annotation_keep_storage,
            json::make_string("true", a), a);
  json::Value& spec = json::ensure_object(vsc, "spec", a);
  json::set(spec, "deletionPolicy", json::make_string("Retain", a), a);
  json::set(spec, "driver", json::make_string(from.csi.driver, a), a);
  json::set(json::ensure_object(spec, "source", a), "snapshotHandle", json::make_string(from.csi.snapshot_handle, a), a);
  if (!from.csi.source_volume_mode.empty())
    json::set(spec, "sourceVolumeMode", json::make_string(from.csi.source_volume_mode, a), a);
  if (!from.csi.volume_snapshot_class.empty())
    json::set(spec, "volumeSnapshotClassName", json::make_string(from.csi.volume_snapshot_class, a), a);
  json::Value& ref = json::ensure_object(spec, "volumeSnapshotRef", a);
  json::set(ref, "namespace", json::make_string(ns, a), a);
  json::set(ref, "name", json::make_string(name, a), a);
  auto c1 = client.create(types::snapshot_contents(), "", vsc, {});
  if (!c1 && !c1.error().is(Errc::already_exists))
    return std::move(c1).error().wrap("creating VolumeSnapshotContent " + name + " for mover namespace " + ns);
  temps.add(types::snapshot_contents(), "", name, true);
  json::Document vs;
  vs.SetObject();
  auto& b = vs.GetAllocator();
  json::set(vs, "apiVersion", json::make_string("snapshot.storage.k8s.io/v1", b), b);
  json::set(vs, "kind", json::make_string("VolumeSnapshot", b), b);
  json::Value& md = json::ensure_object(vs, "metadata", b);
  json::set(md, "name", json::make_string(name, b), b);
  json::set(md, "namespace", json::make_string(ns, b), b);
  temps.stamp(vs, b, volume);
  json::set(json::ensure_object(md, "annotations", b), k_annotation_keep_storage, json::make_string("true", b), b);
  json::Value& vspec = json::ensure_object(vs, "spec", b);
  if (!from.csi.volume_snapshot_class.empty())
    json::set(vspec, "volumeSnapshotClassName", json::make_string(from.csi.volume_snapshot_class, b), b);
  json::set(json::ensure_object(vspec, "source", b), "volumeSnapshotContentName", json::make_string(name, b), b);
  auto c2 = client.create(types::snapshots(), ns, vs, {});
  if (!c2 && !c2.error().is(Errc::already_exists))
    return std::move(c2).error().wrap("creating VolumeSnapshot " + ns + "/" + name);
  temps.add(types::snapshots(), ns, name, true);

  TakenSnapshot t = from;
  t.namespace_ = ns;
  t.name = name;
  t.content = name;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  for (;;) {
    auto cur = client.get(types::snapshots(), ns, name);
    if (!cur) return std::move(cur).error().wrap("VolumeSnapshot " + ns + "/" + name);
    const json::Value* ready = json::at(*cur, {"status", "readyToUse"});
    if (ready && ready->IsBool() && ready->GetBool()) {
      const std::string size = json::get_string(*cur, {"status", "restoreSize"});
      if (!size.empty()) t.csi.restore_size = size;
      return t;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string err = json::get_string(*cur, {"status", "error", "message"});
      if (err.empty())
        if (auto c = client.get(types::snapshot_contents(), "", name))
          err = json::get_string(*c, {"status", "error", "message"});
      return unexpected(Errc::timeout, "VolumeSnapshot " + ns + "/" + name + " (snapshot " + from.csi.snapshot_handle +
                                           " re-bound from " + from.namespace_ + "/" + from.name +
                                           ") was not ready within " + util::human_duration(timeout_seconds) +
                                           (err.empty() ? "" : ": " + err));
    }
    KBK_TRY(pause(poll_seconds));
  }
}

}  // namespace kbk::volume
