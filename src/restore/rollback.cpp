// The rollback record and `kbk restore rollback` (rollback.hpp, docs/format-archive.md section 6.1).
#include <kbk/restore/rollback.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <thread>

#include <rapidjson/writer.h>

#include <kbk/archive/documents.hpp>
#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/compress/gzip.hpp>
#include <kbk/json/schema.hpp>
#include <kbk/restore/records.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::restore {
namespace {

using json::Field;
using json::Schema;

std::string record_object(const std::string& name, bool encrypted) {
  return "restore-" + name + "-rollback.json.gz" + (encrypted ? ".kbk" : "");
}

const char* action_of(const ItemResult& r) {
  if (r.outcome == Outcome::created) return "created";
  if (r.outcome == Outcome::updated) return r.reason == "recreated" ? "recreated" : "updated";
  return nullptr;
}

const Schema& record_schema() {
  static const Schema s = Schema::object(
      {Field("apiVersion", Schema::string()), Field("kind", Schema::string()),
       Field("version", Schema::uint(), json::required), Field("restore", Schema::string()),
       Field("items", Schema::array(Schema::object({Field("order", Schema::uint()),
                                                    Field("action", Schema::string(), json::required),
                                                    Field("group", Schema::string()),
                                                    Field("version", Schema::string(), json::required),
                                                    Field("resource", Schema::string(), json::required),
                                                    Field("kind", Schema::string()),
                                                    Field("namespaced", Schema::boolean()),
                                                    Field("namespace", Schema::string()),
                                                    Field("name", Schema::string(), json::required),
                                                    Field("uid", Schema::string()),
                                                    Field("resourceVersion", Schema::string()),
                                                    Field("applied", Schema::object({}).or_null()),
                                                    Field("before", Schema::object({}).or_null())})),
             json::required)});
  return s;
}

void add(json::Value& obj, std::string_view key, std::string_view value, json::Allocator& a) {
  json::set(obj, key, json::make_string(value, a), a);
}

// The object as it can be written back: what the server owns in metadata, and status, removed.
json::Document writable(const json::Value& obj) {
  json::Document d = json::clone(obj);
  if (json::Value* md = json::find(d, "metadata"); md && md->IsObject())
    for (const char* k : {"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink",
                          "deletionTimestamp", "deletionGracePeriodSeconds"})
      json::erase(*md, k);
  json::erase(d, "status");
  return d;
}

bool being_deleted(const json::Value& live) { return json::at(live, {"metadata", "deletionTimestamp"}) != nullptr; }

}  // namespace

std::string RollbackEntry::display() const {
  std::string gr = group.empty() ? resource : resource + "." + group;
  return gr + "/" + (namespace_.empty() ? "" : namespace_ + "/") + name;
}

std::vector<RollbackEntry> rollback_entries(const RestoreReport& r) {
  std::vector<RollbackEntry> out;
  for (const ItemReport& i : r.items) {
    const char* action = action_of(i.result);
    if (!action || i.result.uid.empty()) continue;
    RollbackEntry e;
    e.order = i.order;
    e.action = action;
    e.group = i.group;
    e.version = i.version;
    e.resource = i.resource;
    e.kind = i.kind;
    e.namespaced = !i.target_namespace.empty();
    e.namespace_ = i.target_namespace;
    e.name = i.target_name;
    e.uid = i.result.uid;
    e.resource_version = i.result.resource_version;
    e.applied = i.result.applied.parse();
    e.before = i.result.before.parse();
    out.push_back(std::move(e));
  }
  return out;
}

Result<RollbackStored> upload_rollback_record(storage::Backend& backend, const RestoreReport& r,
                                              const crypto::UserKey* key) {
  // Written straight into the compressor with RapidJSON's writer, each object's text copied in raw from where the
  // restore kept it: only the compressed record is held, never a document of every applied object.
  compress::GzipWriter gz;
  rapidjson::Writer<compress::GzipWriter> w(gz);
  auto str = [&](const char* k, std::string_view v) {
    w.Key(k);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  auto raw = [&](const char* k, const JsonText& t) {
    w.Key(k);
    if (t.is_null()) {
      w.Null();
      return;
    }
    const std::string text = t.text();
    w.RawValue(text.data(), text.size(), rapidjson::kObjectType);
  };
  w.StartObject();
  str("apiVersion", archive::k_kbk_api_version);
  str("kind", "RestoreRollbackRecord");
  w.Key("version");
  w.Int(k_rollback_format_version);
  str("restore", r.name);
  w.Key("items");
  w.StartArray();
  RollbackStored stored;
  for (const ItemReport& i : r.items) {
    const char* action = action_of(i.result);
    if (!action || i.result.uid.empty()) continue;
    w.StartObject();
    w.Key("order");
    w.Uint64(i.order);
    str("action", action);
    str("group", i.group);
    str("version", i.version);
    str("resource", i.resource);
    str("kind", i.kind);
    w.Key("namespaced");
    w.Bool(!i.target_namespace.empty());
    str("namespace", i.target_namespace);
    str("name", i.target_name);
    str("uid", i.result.uid);
    str("resourceVersion", i.result.resource_version);
    raw("applied", i.result.applied);
    raw("before", i.result.before);
    w.EndObject();
    ++stored.items;
  }
  w.EndArray();
  w.EndObject();
  gz.write("\n");
  std::string body = gz.finish();
  archive::RestorePaths paths{r.name};
  stored.encrypted = key != nullptr;
  stored.object = record_object(r.name, stored.encrypted);
  if (key) {
    KBK_ASSIGN_OR_RETURN(archive::NewBackupKey nk, archive::new_backup_key(*key));
    KBK_TRY(backend.put(paths.dir() + "kbk-key-" + nk.object.key_id, nk.object.json, storage::PutOptions{}));
    body = crypto::encrypt(nk.data_key, body);
  }
  KBK_TRY(backend.put(paths.dir() + stored.object, body, storage::PutOptions{}));
  return stored;
}

Result<std::vector<RollbackEntry>> read_rollback_record(storage::Backend& backend, const std::string& name,
                                                        const crypto::UserKey* key) {
  KBK_ASSIGN_OR_RETURN(json::Document marker, read_restore_record(backend, name));
  const json::Value* rb = json::find(marker, "rollback");
  if (!rb || !rb->IsObject())
    return unexpected(Errc::not_found, "restore " + name + " recorded nothing to roll back (a dry run, or a restore "
                                       "written before kbk kept rollback records)");
  const std::string object = json::get_string(*rb, {"object"});
  const json::Value* enc = json::find(*rb, "encrypted");
  const bool encrypted = enc && enc->IsBool() && enc->GetBool();
  if (object != record_object(name, encrypted))
    return unexpected(Errc::corrupt, "restore " + name + ": kbk-restore.json: rollback.object names \"" +
                                         util::printable(object, 200) + "\", not this restore's record");
  archive::RestorePaths paths{name};
  std::optional<crypto::SecretKey> data_key;
  if (encrypted) {
    if (!key)
      return unexpected(Errc::config, "restore " + name + " keeps its rollback record encrypted: pass "
                                      "--encryption-key-file with the key of its backup");
    KBK_ASSIGN_OR_RETURN(data_key, archive::open_data_key(backend, paths.dir(), *key, "restore " + name));
  }
  archive::DocumentOptions o;
  o.gzipped = archive::Gzipped::yes;
  o.max_bytes = archive::k_max_list_bytes;
  o.data_key = data_key ? &*data_key : nullptr;
  const std::string what = "restore " + name + ": " + object;
  auto doc = archive::read_document(backend, paths.dir() + object, what, record_schema(), o);
  if (!doc && doc.error().is(Errc::not_found))
    return unexpected(Errc::corrupt, what + ": missing (the marker names it)");
  if (!doc) return unexpected(doc.error());
  const json::Value* version = json::find(*doc, "version");
  if (version->GetUint64() > static_cast<uint64_t>(k_rollback_format_version))
    return unexpected(Errc::unsupported, what + ": format version " + std::to_string(version->GetUint64()) +
                                             " is newer than this kbk reads (" +
                                             std::to_string(k_rollback_format_version) + ")");
  std::vector<RollbackEntry> out;
  for (const auto& e : json::find(*doc, "items")->GetArray()) {
    RollbackEntry r;
    if (const json::Value* o2 = json::find(e, "order"); o2 && o2->IsUint64()) r.order = o2->GetUint64();
    r.action = json::get_string(e, {"action"});
    if (r.action != "created" && r.action != "updated" && r.action != "recreated")
      return unexpected(Errc::corrupt, what + ": items[].action: \"" + util::printable(r.action, 40) +
                                           "\" is not created, updated or recreated");
    r.group = json::get_string(e, {"group"});
    r.version = json::get_string(e, {"version"});
    r.resource = json::get_string(e, {"resource"});
    r.kind = json::get_string(e, {"kind"});
    const json::Value* ns = json::find(e, "namespaced");
    r.namespaced = ns && ns->IsBool() && ns->GetBool();
    r.namespace_ = json::get_string(e, {"namespace"});
    r.name = json::get_string(e, {"name"});
    r.uid = json::get_string(e, {"uid"});
    r.resource_version = json::get_string(e, {"resourceVersion"});
    if (const json::Value* v = json::find(e, "applied"); v && v->IsObject()) r.applied = json::clone(*v);
    if (const json::Value* v = json::find(e, "before"); v && v->IsObject()) r.before = json::clone(*v);
    if (r.action != "created" && !r.before.IsObject())
      return unexpected(Errc::corrupt, what + ": " + r.display() + ": an " + r.action + " item without \"before\"");
    out.push_back(std::move(r));
  }
  return out;
}

std::string RollbackReport::phase() const {
  size_t bad = 0, tried = 0, failed = 0;
  for (const RollbackItem& i : items) {
    ++tried;
    if (i.failed()) ++failed;
    if (i.failed() || i.left_alone()) ++bad;
  }
  if (bad == 0) return "Completed";
  return failed == tried ? "Failed" : "PartiallyFailed";
}

ExitCode exit_code(const RollbackReport& r) {
  std::string p = r.phase();
  if (p == "Completed") return ExitCode::ok;
  if (p == "Failed") return ExitCode::failed;
  return ExitCode::partial;
}

namespace {

class Roller {
public:
  Roller(kube::Client& client, TypeResolver& types, const RollbackOptions& o) : m_client(client), m_types(types), m_opt(o) {
    if (!m_opt.sleep) m_opt.sleep = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
    if (m_opt.poll_interval <= 0) m_opt.poll_interval = 0.5;
  }

  RollbackItem run(const RollbackEntry& e) {
    RollbackItem out;
    out.item = e.display();
    out.action = e.action;
    auto done = [&](std::string outcome, std::string message = "") {
      out.outcome = std::move(outcome);
      out.message = std::move(message);
      return out;
    };
    auto rt = m_types.find(e.group, e.version, e.resource);
    if (!rt) {
      if (e.action == "created") return done("already-gone", "its type is no longer served");
      return done("failed", (e.group.empty() ? e.version : e.group + "/" + e.version) + " " + e.resource +
                                " is not served by the cluster");
    }
    const std::string ns = e.namespaced ? e.namespace_ : "";
    auto live = m_client.get(*rt, ns, e.name);
    if (!live && !live.error().is(Errc::not_found)) return done("failed", "reading it: " + live.error().message);
    const bool dry = m_opt.dry_run == RollbackDryRun::yes;
    const bool force = m_opt.force == RollbackForce::yes;

    if (e.action == "created") {
      if (!live) return done("already-gone");
      if (being_deleted(*live)) return done("already-gone", "being deleted");
      std::string why = changed_since(e, *live);
      if (!why.empty() && !force) return done("changed-since", why + " (left alone; --force deletes it)");
      if (dry) return done("would-delete", why.empty() ? "" : why + " (--force)");
      kube::DeleteOptions d;
      d.propagation_policy = "Background";
      auto r = m_client.remove(*rt, ns, e.name, d);
      if (!r && !r.error().is(Errc::not_found)) return done("failed", "delete: " + r.error().message);
      return done("deleted", why.empty() ? "" : why + " (--force)");
    }

    // updated or recreated: put `before` back.
    json::Document before = writable(e.before);
    if (live && !being_deleted(*live) && differences(*live, before).empty()) return done("already-as-before");
    std::string why;
    if (!live) why = "no longer exists";
    else why = changed_since(e, *live);
    if (!why.empty() && !force) return done(live ? "changed-since" : "gone", why + " (left alone; --force puts it back)");
    if (dry) return done("would-revert", why.empty() ? "" : why + " (--force)");
    if (live && (e.action == "recreated" || json::get_string(*live, {"metadata", "uid"}) !=
                                                json::get_string(e.before, {"metadata", "uid"}))) {
      // The object now there is another one than `before`: delete it, wait, and create `before` again.
      kube::DeleteOptions d;
      d.propagation_policy = "Background";
      auto r = m_client.remove(*rt, ns, e.name, d);
      if (!r && !r.error().is(Errc::not_found)) return done("failed", "delete: " + r.error().message);
      if (std::string w = wait_gone(*rt, ns, e.name); !w.empty()) return done("failed", "delete: " + w);
      live = unexpected(Errc::not_found, "deleted");
    }
    kube::WriteOptions w;
    w.field_manager = k_field_manager;
    if (!live) {
      auto c = m_client.create(*rt, ns, before, w);
      if (!c) return done("failed", "create: " + c.error().message);
      return done("reverted", why.empty() ? "" : why + " (--force)");
    }
    json::Value rv = json::make_string(json::get_string(*live, {"metadata", "resourceVersion"}), before.GetAllocator());
    json::set(json::ensure_object(before, "metadata", before.GetAllocator()), "resourceVersion", std::move(rv),
              before.GetAllocator());
    auto u = m_client.update(*rt, ns, before, w);
    if (!u) return done("failed", "update: " + u.error().message);
    return done("reverted", why.empty() ? "" : why + " (--force)");
  }

private:
  // "" when live is still what the restore left: the same uid, and the same resourceVersion or no difference from
  // the object it sent in the fields it set (controllers writing status, the server's defaults do not count).
  std::string changed_since(const RollbackEntry& e, const json::Value& live) {
    const std::string uid = json::get_string(live, {"metadata", "uid"});
    if (!e.uid.empty() && uid != e.uid) return "replaced since the restore (uid " + uid + ", not " + e.uid + ")";
    if (json::get_string(live, {"metadata", "resourceVersion"}) == e.resource_version) return "";
    if (!e.applied.IsObject()) return "changed since the restore (resourceVersion)";
    auto diffs = differences(live, e.applied);
    if (diffs.empty()) return "";
    return "changed since the restore in " + util::join(diffs, ", ");
  }

  std::string wait_gone(const kube::ResourceType& rt, const std::string& ns, const std::string& name) {
    int polls = std::max(1, static_cast<int>(std::ceil(m_opt.delete_timeout / m_opt.poll_interval)));
    for (int i = 0; i < polls; ++i) {
      auto live = m_client.get(rt, ns, name);
      if (!live && live.error().is(Errc::not_found)) return "";
      if (!live) return live.error().message;
      m_opt.sleep(m_opt.poll_interval);
    }
    return "still there after " + util::human_duration(m_opt.delete_timeout);
  }

  kube::Client& m_client;
  TypeResolver& m_types;
  RollbackOptions m_opt;
};

}  // namespace

RollbackReport rollback(kube::Client& client, TypeResolver& types, const std::string& restore_name,
                        const std::vector<RollbackEntry>& entries, const RollbackOptions& options) {
  RollbackReport report;
  report.restore = restore_name;
  report.dry_run = options.dry_run == RollbackDryRun::yes;
  report.force = options.force == RollbackForce::yes;
  report.started = std::chrono::system_clock::now();
  std::vector<const RollbackEntry*> order;
  for (const RollbackEntry& e : entries) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const RollbackEntry* a, const RollbackEntry* b) { return a->order > b->order; });
  Roller roller(client, types, options);
  for (const RollbackEntry* e : order) report.items.push_back(roller.run(*e));
  report.completed = std::chrono::system_clock::now();
  return report;
}

json::Document rollback_to_json(const RollbackReport& r) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  add(d, "apiVersion", archive::k_kbk_api_version, a);
  add(d, "kind", "RestoreRollback", a);
  add(d, "restore", r.restore, a);
  json::set(d, "dryRun", json::Value(r.dry_run), a);
  json::set(d, "force", json::Value(r.force), a);
  add(d, "phase", r.phase(), a);
  add(d, "startTimestamp", util::format_rfc3339(r.started), a);
  add(d, "completionTimestamp", util::format_rfc3339(r.completed), a);
  std::map<std::string, uint64_t> counts;
  json::Value items(rapidjson::kArrayType);
  for (const RollbackItem& i : r.items) {
    ++counts[i.outcome];
    json::Value e(rapidjson::kObjectType);
    add(e, "item", i.item, a);
    add(e, "action", i.action, a);
    add(e, "outcome", i.outcome, a);
    add(e, "message", i.message, a);
    items.PushBack(std::move(e), a);
  }
  json::Value c(rapidjson::kObjectType);
  for (const auto& [k, v] : counts) json::set(c, k, json::Value(v), a);
  json::set(d, "counts", std::move(c), a);
  json::set(d, "items", std::move(items), a);
  return d;
}

std::string rollback_summary_text(const RollbackReport& r) {
  std::string out = "Rollback of restore " + r.restore + (r.dry_run ? " (dry run)" : "") + ": " + r.phase() + "\n";
  std::map<std::string, size_t> counts;
  for (const RollbackItem& i : r.items) {
    ++counts[i.outcome];
    out += "  " + i.outcome + " " + util::printable(i.item, 300) + (i.message.empty() ? "" : ": " + util::printable(i.message, 500)) + "\n";
  }
  std::vector<std::string> parts;
  for (const auto& [k, v] : counts) parts.push_back(std::to_string(v) + " " + k);
  out += r.items.empty() ? "nothing to roll back\n" : util::join(parts, ", ") + "\n";
  return out;
}

Result<void> upload_rollback_report(storage::Backend& backend, const RollbackReport& r) {
  archive::RestorePaths paths{r.restore};
  return backend.put(paths.dir() + "kbk-rollback.json", json::to_pretty(rollback_to_json(r)) + "\n", storage::PutOptions{});
}

}  // namespace kbk::restore
