// kbk backup create|list|describe|inspect|download|delete|logs|verify|rekey. create needs a cluster; every other verb
// works from the location alone (docs/format-archive.md).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fcntl.h>
#include <map>

#include "commands.hpp"
#include "key_file.hpp"
#include <kbk/archive/encryption.hpp>
#include <kbk/archive/archive.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/backup/backup.hpp>
#include <kbk/backup/options.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/output/output.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/storage/wrappers.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::cli {
namespace {

int fail(const Error& e) {
  log::error(e.message);  // clears a progress line first
  return static_cast<int>(exit_code_for(e));
}

output::Format format_of(const GlobalOptions& g, const std::vector<output::Format>& allowed) {
  auto f = output::parse_format(g.output, allowed);
  if (!f) throw Fatal(ExitCode::usage, f.error().message);
  return *f;
}

json::Value str_value(std::string_view s, json::Allocator& a) { return json::make_string(s, a); }

std::vector<std::string> split_list(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& s : in)
    for (auto& p : util::split(s, ',')) out.push_back(std::string(util::trim(p)));
  return out;
}

// ---- create --------------------------------------------------------------------------------------------------

struct CreateFlags {
  std::string name;
  std::vector<std::string> include_namespaces, exclude_namespaces, include_resources, exclude_resources;
  std::string include_cluster_resources;
  std::vector<std::string> include_cluster_scoped, exclude_cluster_scoped, include_namespace_scoped,
      exclude_namespace_scoped;
  std::string selector, or_selector;
  std::vector<std::string> include_names, exclude_names;
  std::string with_related = "true";
  bool include_events = false;
  int parallel = 4;
  int64_t page_size = 500;
  std::string ttl = "720h";
  std::string explain;
  std::string storage_location = "default";
  std::string key_file;  // --encryption-key-file
};

bool parse_bool_flag(const std::string& flag, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw Fatal(ExitCode::usage, flag + " must be true or false, not \"" + v + "\"");
}

backup::Options to_options(const CreateFlags& f) {
  backup::Options o;
  o.name = f.name;
  o.include_namespaces = split_list(f.include_namespaces);
  o.exclude_namespaces = split_list(f.exclude_namespaces);
  o.include_resources = split_list(f.include_resources);
  o.exclude_resources = split_list(f.exclude_resources);
  if (!f.include_cluster_resources.empty())
    o.include_cluster_resources = parse_bool_flag("--include-cluster-resources", f.include_cluster_resources)
                                      ? backup::ClusterResources::include
                                      : backup::ClusterResources::exclude;
  o.include_cluster_scoped = split_list(f.include_cluster_scoped);
  o.exclude_cluster_scoped = split_list(f.exclude_cluster_scoped);
  o.include_namespace_scoped = split_list(f.include_namespace_scoped);
  o.exclude_namespace_scoped = split_list(f.exclude_namespace_scoped);
  o.label_selector = f.selector;
  o.or_label_selectors = backup::split_or_selector(f.or_selector);
  o.include_names = split_list(f.include_names);
  o.exclude_names = split_list(f.exclude_names);
  o.with_related = parse_bool_flag("--with-related", f.with_related) ? backup::WithRelated::yes : backup::WithRelated::no;
  o.include_events = f.include_events ? backup::IncludeEvents::yes : backup::IncludeEvents::no;
  o.parallel = f.parallel;
  o.page_size = f.page_size;
  auto ttl = util::parse_duration(f.ttl);
  if (!ttl || *ttl < 0) throw Fatal(ExitCode::usage, "--ttl \"" + f.ttl + "\": expected a duration such as 720h or 1h30m");
  o.ttl = std::chrono::seconds(static_cast<int64_t>(*ttl));
  o.storage_location = f.storage_location;
  if (auto v = backup::validate(o); !v) throw Fatal(ExitCode::usage, v.error().message);
  return o;
}

void print_summary(const backup::Summary& s, output::Format format) {
  if (format == output::Format::json || format == output::Format::yaml) {
    json::Document d;
    d.SetObject();
    auto& a = d.GetAllocator();
    d.AddMember("name", str_value(s.name, a), a);
    d.AddMember("phase", str_value(s.phase, a), a);
    d.AddMember("location", str_value(s.location, a), a);
    d.AddMember("started", str_value(s.started, a), a);
    d.AddMember("completed", str_value(s.completed, a), a);
    d.AddMember("expires", str_value(s.expiration, a), a);
    d.AddMember("durationSeconds", s.duration_seconds, a);
    d.AddMember("items", s.items, a);
    d.AddMember("bytes", s.bytes, a);
    d.AddMember("warnings", s.warnings, a);
    d.AddMember("errors", s.errors, a);
    d.AddMember("skipped", s.skipped, a);
    d.AddMember("encrypted", s.encrypted, a);
    json::Value by(rapidjson::kObjectType);
    for (const auto& [gr, n] : s.by_resource) by.AddMember(str_value(gr, a), json::Value(static_cast<uint64_t>(n)), a);
    d.AddMember("itemsByResource", by, a);
    json::Value errs(rapidjson::kArrayType), warns(rapidjson::kArrayType);
    for (const auto& l : s.error_lines) errs.PushBack(str_value(l, a), a);
    for (const auto& l : s.warning_lines) warns.PushBack(str_value(l, a), a);
    d.AddMember("errorMessages", errs, a);
    d.AddMember("warningMessages", warns, a);
    if (format == output::Format::json) output::print_json(d);
    else output::print_yaml(d);
    return;
  }
  std::printf("Backup %s: %s in %s\n", s.name.c_str(), s.phase.c_str(), util::human_duration(s.duration_seconds).c_str());
  std::printf("  Location:  %s (backups/%s/)\n", s.location.c_str(), s.name.c_str());
  std::printf("  Items:     %llu (%s stored%s)\n", static_cast<unsigned long long>(s.items), util::human_bytes(s.bytes).c_str(),
              s.encrypted ? ", encrypted" : "");
  std::printf("  Warnings:  %llu\n", static_cast<unsigned long long>(s.warnings));
  std::printf("  Errors:    %llu\n", static_cast<unsigned long long>(s.errors));
  std::printf("  Expires:   %s\n", s.expiration.c_str());
  if (!s.by_resource.empty()) {
    output::Table t({"RESOURCE", "ITEMS"});
    for (const auto& [gr, n] : s.by_resource) t.add_row({gr, std::to_string(n)});
    std::printf("\n%s", t.render().c_str());
  }
  if (!s.error_lines.empty()) {
    std::printf("\nErrors:\n");
    for (const auto& l : s.error_lines) std::printf("  %s\n", l.c_str());
  }
  if (!s.warning_lines.empty()) {
    std::printf("\nWarnings:\n");
    for (const auto& l : s.warning_lines) std::printf("  %s\n", l.c_str());
  }
}

int run_create(const GlobalOptions& g, const CreateFlags& f) {
  const backup::Options options = to_options(f);
  auto format = format_of(g, {output::Format::json, output::Format::yaml});
  auto progress_mode = output::parse_progress_mode(g.progress);
  if (!progress_mode) throw Fatal(ExitCode::usage, progress_mode.error().message);
  const kube::RestConfig config = load_rest_config(g);
  auto client = make_client(g, config);
  if (!f.explain.empty()) {
    auto discovery = kube::Discovery::fetch(*client);
    if (!discovery) return fail(discovery.error());
    auto lines = backup::explain(*client, *discovery, options, f.explain);
    if (!lines) return fail(lines.error());
    for (const auto& l : *lines) std::printf("%s\n", l.c_str());
    return 0;
  }
  const auto user_key = load_encryption_key(f.key_file);
  auto backend = open_storage(g, true);
  auto discovery = kube::Discovery::fetch(*client);
  if (!discovery) return fail(discovery.error());
  auto progress = output::make_progress(*progress_mode);
  backup::RunContext ctx;
  ctx.encryption_key = user_key ? &*user_key : nullptr;
  ctx.progress = progress.get();
  ctx.server = config.server;
  auto summary = backup::run(*client, *discovery, *backend, options, ctx);
  if (!summary) return fail(summary.error());
  print_summary(*summary, format);
  return summary->phase == "Completed" ? 0 : static_cast<int>(ExitCode::partial);
}

// ---- list ----------------------------------------------------------------------------------------------------

int run_list(const GlobalOptions& g) {
  auto format = format_of(g, {output::Format::json, output::Format::yaml, output::Format::name, output::Format::wide});
  auto backend = open_storage(g);
  auto list = archive::list_backups(*backend);
  if (!list) return fail(list.error());
  if (format == output::Format::json || format == output::Format::yaml) {
    json::Document d;
    d.SetArray();
    auto& a = d.GetAllocator();
    for (const auto& b : *list) {
      json::Value v(rapidjson::kObjectType);
      v.AddMember("name", str_value(b.name, a), a);
      v.AddMember("phase", str_value(b.phase, a), a);
      v.AddMember("source", str_value(b.source, a), a);
      v.AddMember("started", str_value(b.started, a), a);
      v.AddMember("completed", str_value(b.completed, a), a);
      v.AddMember("expires", str_value(b.expires, a), a);
      v.AddMember("items", b.items, a);
      v.AddMember("warnings", b.warnings, a);
      v.AddMember("errors", b.errors, a);
      v.AddMember("encrypted", b.encrypted, a);
      v.AddMember("bytes", b.bytes, a);
      d.PushBack(v, a);
    }
    if (format == output::Format::json) output::print_json(d);
    else output::print_yaml(d);
    return 0;
  }
  if (format == output::Format::name) {
    for (const auto& b : *list) std::printf("%s\n", b.name.c_str());
    return 0;
  }
  output::Table t({"NAME", "STATUS", "SOURCE", "ENCRYPTED", "ERRORS", "WARNINGS", "ITEMS", "SIZE", "CREATED", "EXPIRES"});
  for (const auto& b : *list)
    t.add_row({b.name, b.phase, b.source, b.encrypted ? "yes" : "no", std::to_string(b.errors), std::to_string(b.warnings),
               std::to_string(b.items), b.bytes ? util::human_bytes(b.bytes) : "-", b.started.empty() ? "-" : b.started,
               b.expires.empty() ? "-" : b.expires});
  if (t.empty()) {
    std::fprintf(stderr, "No backups found in %s.\n", backend->display_url().c_str());
    return 0;
  }
  std::printf("%s", t.render().c_str());
  return 0;
}

// ---- reading a backup ----------------------------------------------------------------------------------------

struct Located {
  std::string source;  // kbk | velero
  json::Document marker;  // kbk marker (opened when sealed and the key was given) or velero-backup.json
  bool encrypted = false;
  std::optional<crypto::SecretKey> data_key;  // an encrypted backup opened with --encryption-key-file
  std::string archive;                        // the archive object's key
  const crypto::SecretKey* key() const { return data_key ? &*data_key : nullptr; }
};

enum class NeedKey { yes, no };

// The backup's marker and, for an encrypted backup, its data key. NeedKey::yes (reading contents) refuses an
// encrypted backup without --encryption-key-file (exit 3); NeedKey::no leaves the marker sealed then.
Result<Located> open_backup(storage::Backend& b, const std::string& name, const crypto::UserKey* user, NeedKey need);

Result<Located> locate(storage::Backend& b, const std::string& name) {
  archive::BackupPaths p{name};
  KBK_ASSIGN_OR_RETURN(auto marker, archive::read_marker(b, name));
  if (marker) {
    Located l;
    l.source = "kbk";
    l.marker = std::move(*marker);
    l.encrypted = archive::is_encrypted(l.marker);
    l.archive = archive::archive_object(&l.marker, name);
    return l;
  }
  auto vb = b.get(p.velero_backup());
  if (vb) {
    KBK_ASSIGN_OR_RETURN(auto doc, json::parse(*vb, "backup " + name + ": velero-backup.json"));
    Located l;
    l.source = "velero";
    l.marker = std::move(doc);
    l.archive = p.tarball();
    return l;
  }
  if (!vb.error().is(Errc::not_found)) return std::move(vb).error();
  KBK_ASSIGN_OR_RETURN(auto lock, b.stat(p.lock()));
  if (lock)
    return unexpected(Errc::precondition, "backup " + name + " is incomplete (interrupted or still being written); "
                                                             "remove it with kbk backup delete " + name);
  return unexpected(Errc::precondition, "backup " + name + " not found in " + b.display_url());
}

Result<Located> open_backup(storage::Backend& b, const std::string& name, const crypto::UserKey* user, NeedKey need) {
  KBK_ASSIGN_OR_RETURN(Located l, locate(b, name));
  if (!l.encrypted) return l;
  if (!user) {
    if (need == NeedKey::yes) return archive::key_required(name);
    return l;
  }
  KBK_ASSIGN_OR_RETURN(l.data_key, archive::open_backup_key(b, name, *user));
  KBK_ASSIGN_OR_RETURN(l.marker, archive::open_marker(l.marker, *l.data_key));
  return l;
}

// Streams the archive's entries (decrypted and authenticated when encrypted).
Result<void> each_entry(storage::Backend& b, const std::string& name, const Located& loc,
                        const std::function<Result<void>(const archive::Entry&)>& fn) {
  KBK_ASSIGN_OR_RETURN(auto reader, archive::open_object(b, loc.archive, loc.key()));
  return archive::read_archive(*reader, name, {}, fn);
}

std::string item_text(const archive::ItemKey& k) {
  return k.group_resource() + "/" + (k.namespace_.empty() ? "" : k.namespace_ + "/") + k.name;
}

// What users type for a resource, matched offline against a "<plural>[.<group>]" of the archive.
bool resource_matches(std::string typed, const archive::ItemKey& k, std::string_view kind) {
  typed = util::to_lower(typed);
  static const std::map<std::string, std::string> k_short = {
      {"po", "pods"}, {"svc", "services"}, {"deploy", "deployments"}, {"cm", "configmaps"}, {"ns", "namespaces"},
      {"pv", "persistentvolumes"}, {"pvc", "persistentvolumeclaims"}, {"sa", "serviceaccounts"},
      {"sts", "statefulsets"}, {"ds", "daemonsets"}, {"rs", "replicasets"}, {"ing", "ingresses"},
      {"crd", "customresourcedefinitions"}, {"sc", "storageclasses"}, {"cj", "cronjobs"}, {"ep", "endpoints"},
      {"no", "nodes"}, {"netpol", "networkpolicies"}, {"pc", "priorityclasses"}, {"quota", "resourcequotas"}};
  if (auto it = k_short.find(typed); it != k_short.end()) typed = it->second;
  const std::string gr = k.group_resource();
  if (typed == gr || typed == k.resource) return true;
  if (util::to_lower(kind) == typed) return true;
  // "deployment" / "deployment.apps"
  auto dot = typed.find('.');
  std::string head = typed.substr(0, dot);
  std::string group = dot == std::string::npos ? "" : typed.substr(dot + 1);
  if (!group.empty() && group != k.group) return false;
  return head + "s" == k.resource || head + "es" == k.resource || head == k.resource ||
         (util::ends_with(head, "y") && head.substr(0, head.size() - 1) + "ies" == k.resource);
}

// Without the key an encrypted backup is described from its plaintext summary (describing is not reading its
// contents: exit 0); --details lists items from the archive and needs the key.
int run_describe(const GlobalOptions& g, const std::string& name, bool details, const std::string& key_file) {
  auto format = format_of(g, {output::Format::json, output::Format::yaml});
  const auto user = load_encryption_key(key_file);
  auto backend = open_storage(g);
  auto loc = open_backup(*backend, name, user ? &*user : nullptr, details ? NeedKey::yes : NeedKey::no);
  if (!loc) return fail(loc.error());
  archive::BackupPaths p{name};
  if (format == output::Format::json || format == output::Format::yaml) {
    json::Document out;
    out.CopyFrom(loc->marker, out.GetAllocator());
    if (details && loc->source == "kbk") {
      auto r = each_entry(*backend, name, *loc, [&](const archive::Entry& e) -> Result<void> {
        if (e.path != "kbk/manifest.json") return {};
        KBK_ASSIGN_OR_RETURN(auto m, json::parse(e.data, "kbk/manifest.json"));
        if (auto* items = json::find(m, "items")) {
          json::Value copy;
          copy.CopyFrom(*items, out.GetAllocator());
          json::set(out, "items", std::move(copy), out.GetAllocator());
        }
        return {};
      });
      if (!r) return fail(r.error());
    }
    if (format == output::Format::json) output::print_json(out);
    else output::print_yaml(out);
    return 0;
  }
  const json::Value& m = loc->marker;
  if (loc->source == "velero") {
    std::printf("Name:         %s\nSource:       velero\nPhase:        %s\nStarted:      %s\nCompleted:    %s\n"
                "Expiration:   %s\nFormat:       %s\n",
                name.c_str(), json::get_string(m, {"status", "phase"}).c_str(),
                json::get_string(m, {"status", "startTimestamp"}).c_str(),
                json::get_string(m, {"status", "completionTimestamp"}).c_str(),
                json::get_string(m, {"status", "expiration"}).c_str(),
                json::get_string(m, {"status", "formatVersion"}).c_str());
    if (auto* ns = json::at(m, {"spec", "includedNamespaces"}); ns && ns->IsArray()) {
      std::vector<std::string> v;
      for (const auto& s : ns->GetArray()) v.emplace_back(s.GetString());
      std::printf("Namespaces:   %s\n", util::join(v, ", ").c_str());
    }
    if (details) {
      auto rl = backend->get(p.resource_list());
      if (rl) {
        auto text = archive::gunzip(*rl, p.resource_list());
        auto doc = text ? json::parse(*text, p.resource_list()) : Result<json::Document>(text.error());
        if (doc && doc->IsObject()) {
          std::printf("\nResource List:\n");
          for (const auto& mem : doc->GetObject()) {
            std::printf("  %s:\n", mem.name.GetString());
            if (mem.value.IsArray())
              for (const auto& s : mem.value.GetArray()) std::printf("    - %s\n", s.GetString());
          }
        }
      }
    }
    return 0;
  }
  auto count_of = [&](const char* k) -> unsigned long long {
    const json::Value* v = json::at(m, {"counts", k});
    return v && v->IsUint64() ? v->GetUint64() : 0;
  };
  const std::string data_key_id = json::get_string(m, {"encryption", "dataKeyId"});
  if (loc->encrypted && !loc->data_key) {
    std::printf("Name:         %s\nSource:       kbk\nPhase:        %s\nEncrypted:    yes (data key %s)\n", name.c_str(),
                json::get_string(m, {"phase"}).c_str(), data_key_id.c_str());
    std::printf("Started:      %s\nCompleted:    %s\nExpiration:   %s\n", json::get_string(m, {"startTimestamp"}).c_str(),
                json::get_string(m, {"completionTimestamp"}).c_str(), json::get_string(m, {"expiration"}).c_str());
    const json::Value* bytes = json::at(m, {"archive", "bytes"});
    std::printf("\nItems:        %llu (%s stored)\nWarnings:     %llu\nErrors:       %llu\n", count_of("items"),
                util::human_bytes(bytes && bytes->IsUint64() ? bytes->GetUint64() : 0).c_str(), count_of("warnings"),
                count_of("errors"));
    std::printf("\nThe cluster, selection, resource counts, warnings and errors are encrypted: pass "
                "--encryption-key-file to see them.\n");
    return 0;
  }
  auto sel = json::find(m, "selection");
  auto list_of = [&](const char* key) {
    std::vector<std::string> v;
    if (const json::Value* a = sel ? json::find(*sel, key) : nullptr; a && a->IsArray())
      for (const auto& s : a->GetArray()) v.emplace_back(s.GetString());
    return v.empty() ? std::string("<none>") : util::join(v, ", ");
  };
  std::printf("Name:         %s\n", name.c_str());
  std::printf("Source:       kbk %s\n", json::get_string(m, {"tool", "version"}).c_str());
  std::printf("Phase:        %s\n", json::get_string(m, {"phase"}).c_str());
  if (loc->encrypted) std::printf("Encrypted:    yes (data key %s)\n", loc->data_key->data_key_id().c_str());
  std::printf("Cluster:      %s (%s, kube-system uid %s)\n", json::get_string(m, {"cluster", "server"}).c_str(),
              json::get_string(m, {"cluster", "serverVersion", "gitVersion"}).c_str(),
              json::get_string(m, {"cluster", "kubeSystemUID"}).c_str());
  std::printf("Started:      %s\nCompleted:    %s\nExpiration:   %s\n", json::get_string(m, {"startTimestamp"}).c_str(),
              json::get_string(m, {"completionTimestamp"}).c_str(), json::get_string(m, {"expiration"}).c_str());
  std::printf("\nNamespaces:\n  Included:  %s\n  Excluded:  %s\n", list_of("includedNamespaces").c_str(),
              list_of("excludedNamespaces").c_str());
  std::printf("Resources:\n  Included:  %s\n  Excluded:  %s\n", list_of("includedResources").c_str(),
              list_of("excludedResources").c_str());
  std::string icr = "auto";
  if (const json::Value* v = sel ? json::find(*sel, "includeClusterResources") : nullptr; v && v->IsBool())
    icr = v->GetBool() ? "true" : "false";
  std::printf("  Cluster-scoped:  %s\n", icr.c_str());
  std::string ls = sel ? json::get_string(*sel, {"labelSelector"}) : "";
  std::printf("Label selector:  %s\n", ls.empty() ? "<none>" : ls.c_str());
  const json::Value* counts = json::find(m, "counts");
  auto num = [&](const char* k) -> unsigned long long {
    const json::Value* v = counts ? json::find(*counts, k) : nullptr;
    return v && v->IsUint64() ? v->GetUint64() : 0;
  };
  std::printf("\nItems:        %llu (%s stored)\nWarnings:     %llu\nErrors:       %llu\n", num("items"),
              util::human_bytes(json::at(m, {"archive", "bytes"}) && json::at(m, {"archive", "bytes"})->IsUint64()
                                    ? json::at(m, {"archive", "bytes"})->GetUint64()
                                    : 0)
                  .c_str(),
              num("warnings"), num("errors"));
  if (const json::Value* by = counts ? json::find(*counts, "byResource") : nullptr; by && by->IsObject()) {
    output::Table t({"RESOURCE", "ITEMS"});
    for (const auto& mem : by->GetObject())
      t.add_row({mem.name.GetString(), std::to_string(mem.value.IsUint64() ? mem.value.GetUint64() : 0)});
    std::printf("\n%s", t.render().c_str());
  }
  for (const char* key : {"errors", "warnings"}) {
    const json::Value* a = json::find(m, key);
    if (!a || !a->IsArray() || a->Empty()) continue;
    std::printf("\n%s:\n", key[0] == 'e' ? "Errors" : "Warnings");
    for (const auto& l : a->GetArray()) std::printf("  %s\n", l.GetString());
  }
  if (details) {
    std::printf("\nItems:\n");
    auto r = each_entry(*backend, name, *loc, [&](const archive::Entry& e) -> Result<void> {
      if (e.is_item && e.version_dir.empty()) std::printf("  %s\n", item_text(e.key).c_str());
      return {};
    });
    if (!r) return fail(r.error());
  }
  return 0;
}

int run_inspect(const GlobalOptions& g, const std::string& name, const std::string& cat, const std::string& key_file) {
  auto format = format_of(g, {output::Format::json, output::Format::yaml});
  const auto user = load_encryption_key(key_file);
  auto backend = open_storage(g);
  auto loc = open_backup(*backend, name, user ? &*user : nullptr, NeedKey::yes);
  if (!loc) return fail(loc.error());
  if (cat.empty()) {
    // The item list: one row per object.
    output::Table t({"RESOURCE", "NAMESPACE", "NAME", "VERSION", "BYTES"});
    json::Document d;
    d.SetArray();
    auto& a = d.GetAllocator();
    auto r = each_entry(*backend, name, *loc, [&](const archive::Entry& e) -> Result<void> {
      if (!e.is_item || !e.version_dir.empty()) return {};
      auto obj = json::parse(e.data, e.path);
      std::string api = obj ? json::get_string(*obj, {"apiVersion"}) : "";
      std::string version = api.substr(api.find('/') == std::string::npos ? 0 : api.find('/') + 1);
      if (format == output::Format::text) {
        t.add_row({e.key.group_resource(), e.key.namespace_.empty() ? "-" : e.key.namespace_, e.key.name, version,
                   std::to_string(e.data.size())});
      } else {
        json::Value v(rapidjson::kObjectType);
        v.AddMember("resource", str_value(e.key.group_resource(), a), a);
        v.AddMember("namespace", str_value(e.key.namespace_, a), a);
        v.AddMember("name", str_value(e.key.name, a), a);
        v.AddMember("apiVersion", str_value(api, a), a);
        v.AddMember("kind", str_value(obj ? json::get_string(*obj, {"kind"}) : "", a), a);
        v.AddMember("path", str_value(e.path, a), a);
        v.AddMember("bytes", static_cast<uint64_t>(e.data.size()), a);
        d.PushBack(v, a);
      }
      return {};
    });
    if (!r) return fail(r.error());
    if (format == output::Format::json) output::print_json(d);
    else if (format == output::Format::yaml) output::print_yaml(d);
    else std::printf("%s", t.render().c_str());
    return 0;
  }
  auto parts = util::split(cat, '/', false);
  if (parts.size() < 2 || parts.size() > 3)
    throw Fatal(ExitCode::usage, "--cat " + cat + ": expected resource/namespace/name or resource/name");
  const std::string want_ns = parts.size() == 3 ? parts[1] : "";
  const std::string want_name = parts.back();
  std::optional<json::Document> found;
  std::vector<std::string> candidates;
  auto r = each_entry(*backend, name, *loc, [&](const archive::Entry& e) -> Result<void> {
    if (!e.is_item || !e.version_dir.empty() || found) return {};
    if (e.key.name != want_name || e.key.namespace_ != want_ns) return {};
    KBK_ASSIGN_OR_RETURN(auto obj, json::parse(e.data, "backup " + name + ": " + e.path));
    if (!resource_matches(parts[0], e.key, json::get_string(obj, {"kind"}))) {
      candidates.push_back(item_text(e.key));
      return {};
    }
    found = std::move(obj);
    return {};
  });
  if (!r) return fail(r.error());
  if (!found) {
    std::string msg = "backup " + name + " holds no " + cat;
    if (!candidates.empty()) msg += " (same name: " + util::join(candidates, ", ") + ")";
    return fail(Error{Errc::not_found, msg});
  }
  if (format == output::Format::yaml) output::print_yaml(*found);
  else output::print_json(*found);
  return 0;
}

// An encrypted backup is downloaded decrypted (the .tar.gz a plain backup holds) with the key, as stored with --raw,
// and refused (exit 3) with neither. A decrypted download that fails authentication part-way is removed.
int run_download(const GlobalOptions& g, const std::string& name, std::string file, bool force, bool raw,
                 const std::string& key_file) {
  auto format = format_of(g, {output::Format::json});
  const auto user = load_encryption_key(key_file);
  auto progress_mode = output::parse_progress_mode(g.progress);
  if (!progress_mode) throw Fatal(ExitCode::usage, progress_mode.error().message);
  auto progress = output::make_progress(*progress_mode);
  auto meter = std::make_shared<storage::TransferProgress>(*progress);  // download: bytes, bytes/s, ETA
  auto backend = open_storage(g, false, meter);
  auto loc = open_backup(*backend, name, user ? &*user : nullptr, raw ? NeedKey::no : NeedKey::yes);
  if (!loc) return fail(loc.error());
  const bool decrypt = loc->data_key && !raw;
  if (file.empty()) file = raw && loc->encrypted ? name + ".kbk" : name + "-data.tar.gz";
  auto reader = archive::open_object(*backend, loc->archive, decrypt ? loc->key() : nullptr);
  if (!reader) return fail(reader.error());
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
  int fd = ::open(file.c_str(), flags, 0600);
  if (fd < 0) {
    if (errno == EEXIST) throw Fatal(ExitCode::usage, file + " exists; pass --force to overwrite it");
    return fail(Error{Errc::io, file + ": " + std::strerror(errno)});
  }
  uint64_t total = 0;
  char buf[1 << 16];
  for (;;) {
    auto n = (*reader)->read(buf, sizeof buf);
    if (!n) {
      ::close(fd);
      if (decrypt) ::unlink(file.c_str());  // what was written is not authenticated as a whole
      return fail(n.error());
    }
    if (*n == 0) break;
    size_t off = 0;
    while (off < *n) {
      ssize_t w = ::write(fd, buf + off, *n - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        ::close(fd);
        return fail(Error{Errc::io, file + ": " + std::strerror(e)});
      }
      off += static_cast<size_t>(w);
    }
    total += *n;
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return fail(Error{Errc::io, file + ": " + std::strerror(errno)});
  meter->finish();
  if (format == output::Format::json) {
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("name", str_value(name, a), a);
    d.AddMember("file", str_value(file, a), a);
    d.AddMember("bytes", total, a);
    d.AddMember("decrypted", decrypt, a);
    output::print_json(d);
  } else {
    std::fprintf(stderr, "Backup %s downloaded to %s (%s)\n", name.c_str(), file.c_str(), util::human_bytes(total).c_str());
  }
  return 0;
}

int run_delete(const GlobalOptions& g, const std::vector<std::string>& names) {
  auto format = format_of(g, {output::Format::json});
  auto backend = open_storage(g);
  int code = 0;
  json::Document deleted(rapidjson::kArrayType);
  for (const auto& name : names) {
    auto n = archive::delete_backup(*backend, name);
    if (!n) {
      Error e = n.error();
      if (e.is(Errc::not_found)) e.code = Errc::precondition;
      code = std::max(code, fail(e));
      continue;
    }
    if (format == output::Format::json) {
      json::Value entry(rapidjson::kObjectType);
      entry.AddMember("name", str_value(name, deleted.GetAllocator()), deleted.GetAllocator());
      entry.AddMember("objectsDeleted", *n, deleted.GetAllocator());
      deleted.PushBack(entry, deleted.GetAllocator());
    } else {
      std::printf("Backup %s deleted (%llu objects)\n", name.c_str(), static_cast<unsigned long long>(*n));
    }
  }
  if (format == output::Format::json) {
    json::Document d(rapidjson::kObjectType);
    d.AddMember("deleted", json::Value(deleted, d.GetAllocator()), d.GetAllocator());
    output::print_json(d);
  }
  return code;
}

// Also for an incomplete backup (a failed run uploads its log; no marker): its key objects tell whether it is
// encrypted.
int run_logs(const GlobalOptions& g, const std::string& name, const std::string& key_file) {
  auto format = format_of(g, {output::Format::json});
  const auto user = load_encryption_key(key_file);
  auto backend = open_storage(g);
  archive::BackupPaths p{name};
  auto marker = archive::read_marker(*backend, name);
  if (!marker) return fail(marker.error());
  if (!*marker) {
    auto lock = backend->stat(p.lock());
    if (!lock) return fail(lock.error());
    if (!*lock) {
      auto loc = locate(*backend, name);  // a Velero backup, or the error that says there is none
      if (!loc) return fail(loc.error());
    }
  }
  auto data_key = archive::backup_data_key(*backend, name, *marker ? &**marker : nullptr, user ? &*user : nullptr);
  if (!data_key) return fail(data_key.error());
  const archive::Encrypted enc = *data_key ? archive::Encrypted::yes : archive::Encrypted::no;
  auto gz = archive::read_object(*backend, p.logs(enc), *data_key ? &**data_key : nullptr);
  if (!gz) return fail(gz.error());
  auto text = archive::gunzip(*gz, "backup " + name + ": " + p.logs());
  if (!text) return fail(text.error());
  if (format == output::Format::json) {
    // {"name": ..., "lines": [...]}: one JSON document, one string per log line.
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("name", str_value(name, a), a);
    json::Value lines(rapidjson::kArrayType);
    for (const auto& line : util::split(*text, '\n')) lines.PushBack(str_value(line, a), a);
    d.AddMember("lines", lines, a);
    output::print_json(d);
    return 0;
  }
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

int run_verify(const GlobalOptions& g, const std::string& name, const std::string& key_file) {
  auto format = format_of(g, {output::Format::json});
  const auto user = load_encryption_key(key_file);
  auto backend = open_storage(g);
  auto report = archive::verify_backup(*backend, name, user ? &*user : nullptr);
  if (!report) {
    Error e = report.error();
    if (e.is(Errc::not_found)) e.code = Errc::precondition;
    return fail(e);
  }
  if (format == output::Format::json) {
    json::Document d;
    d.SetObject();
    auto& a = d.GetAllocator();
    d.AddMember("name", str_value(name, a), a);
    d.AddMember("ok", report->problems.empty(), a);
    d.AddMember("itemsChecked", report->items_checked, a);
    json::Value probs(rapidjson::kArrayType);
    for (const auto& pr : report->problems) probs.PushBack(str_value(pr, a), a);
    d.AddMember("problems", probs, a);
    output::print_json(d);
  } else if (report->problems.empty()) {
    std::printf("Backup %s: OK (%llu items match the manifest)\n", name.c_str(),
                static_cast<unsigned long long>(report->items_checked));
  } else {
    std::printf("Backup %s: %zu problem(s)\n", name.c_str(), report->problems.size());
    for (const auto& pr : report->problems) std::printf("  %s\n", pr.c_str());
  }
  if (report->problems.empty()) return 0;
  // One line on stderr names the backup and the first problem; the full list is the report above.
  std::string line = "backup " + name + ": " + report->problems.front();
  if (report->problems.size() > 1) line += " (and " + std::to_string(report->problems.size() - 1) + " more problems)";
  log::error(line);
  return static_cast<int>(ExitCode::failed);
}

// ---- rekey ---------------------------------------------------------------------------------------------------

struct RekeyFlags {
  std::vector<std::string> names;
  bool all = false;
  std::string key_file, new_key_file;
  bool keep_old = false;
};

bool same_user_key(const crypto::UserKey& a, const crypto::UserKey& b) {
  if (a.kind != b.kind) return false;
  return a.kind == crypto::UserKey::Kind::key ? a.key.bytes() == b.key.bytes() : a.passphrase == b.passphrase;
}

// Every named backup is checked before any is changed (missing or incomplete: exit 4; not encrypted: exit 3).
// Then each is rotated on its own: exit 2 when some failed (wrong old key, storage), 1 when all did.
int run_rekey(const GlobalOptions& g, const RekeyFlags& f) {
  auto format = format_of(g, {output::Format::json});
  if (f.all == !f.names.empty()) throw Fatal(ExitCode::usage, "name the backups to rekey or pass --all (not both)");
  if (f.key_file.empty()) throw Fatal(ExitCode::usage, "--encryption-key-file is required: the key that opens the backups now");
  if (f.new_key_file.empty()) throw Fatal(ExitCode::usage, "--new-encryption-key-file is required: the key to rotate to");
  const auto old_key = load_encryption_key(f.key_file);
  const auto new_key = load_encryption_key(f.new_key_file);
  if (same_user_key(*old_key, *new_key))
    throw Fatal(ExitCode::usage, "--new-encryption-key-file " + f.new_key_file + " holds the key of --encryption-key-file");
  auto backend = open_storage(g);

  std::vector<std::string> targets;
  if (f.all) {
    auto list = archive::list_backups(*backend);
    if (!list) return fail(list.error());
    for (const auto& b : *list) {
      if (b.phase == "Incomplete") log::info(0, "note: backup " + b.name + " is incomplete; skipped");
      else if (!b.encrypted) log::info(0, "note: backup " + b.name + " is not encrypted; skipped");
      else targets.push_back(b.name);
    }
    if (targets.empty()) {
      std::fprintf(stderr, "No encrypted backups in %s.\n", backend->display_url().c_str());
      if (format != output::Format::json) return 0;
    }
  } else {
    int code = 0;
    for (const auto& name : f.names) {
      if (!archive::valid_backup_name(name)) {
        code = std::max(code, fail(Error{Errc::config, "\"" + name + "\" is not a backup name"}));
        continue;
      }
      auto loc = locate(*backend, name);
      if (!loc) code = std::max(code, fail(loc.error()));
      else if (!loc->encrypted)
        code = std::max(code, fail(Error{Errc::config, "backup " + name + " is not encrypted: there is no key to rotate"}));
      else targets.push_back(name);
    }
    if (code != 0) return code;  // nothing changed
  }

  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::Value done(rapidjson::kArrayType);
  size_t failed = 0;
  for (const auto& name : targets) {
    auto r = archive::rekey_backup(*backend, name, *old_key, *new_key, f.keep_old);
    if (!r) {
      fail(r.error());
      ++failed;
      continue;
    }
    if (format == output::Format::json) {
      json::Value v(rapidjson::kObjectType);
      v.AddMember("name", str_value(name, a), a);
      if (r->added.empty()) v.AddMember("added", json::Value(), a);
      else v.AddMember("added", str_value(r->added, a), a);
      json::Value removed(rapidjson::kArrayType);
      for (const auto& k : r->removed) removed.PushBack(str_value(k, a), a);
      v.AddMember("removed", removed, a);
      done.PushBack(v, a);
      continue;
    }
    std::string line = "Backup " + name + ": ";
    line += r->added.empty() ? "the new key opens it already (" + r->key + ")" : "added " + r->added;
    if (!r->removed.empty()) line += "; removed " + util::join(r->removed, ", ");
    else if (!r->added.empty()) line += "; the old key still opens it";
    std::printf("%s\n", line.c_str());
  }
  if (format == output::Format::json) {
    d.AddMember("backups", done, a);
    output::print_json(d);
  }
  if (failed == 0) return 0;
  return static_cast<int>(failed < targets.size() ? ExitCode::partial : ExitCode::failed);
}

}  // namespace

void register_backup(CLI::App& app, GlobalOptions& g, RunState& state) {
  CLI::App* backup = app.add_subcommand("backup", "Create, list, inspect, verify, delete and rekey backups");
  backup->require_subcommand(1);

  auto* create = backup->add_subcommand("create", "Back up cluster resources into the storage location");
  auto f = std::make_shared<CreateFlags>();
  create->add_option("name", f->name, "Name of the backup")->required();
  create->add_option("--include-namespaces", f->include_namespaces, "Namespaces to include (globs; default all)")
      ->allow_extra_args(false);
  create->add_option("--exclude-namespaces", f->exclude_namespaces, "Namespaces to exclude (globs)")
      ->allow_extra_args(false);
  create->add_option("--include-resources", f->include_resources,
                     "Resources to include (any name kubectl accepts, globs such as *.apps; default all)")
      ->allow_extra_args(false);
  create->add_option("--exclude-resources", f->exclude_resources, "Resources to exclude")
      ->allow_extra_args(false);
  create->add_option("--include-cluster-resources", f->include_cluster_resources,
                     "Include cluster-scoped resources: true, false, or unset (only when all namespaces are)")
      ->expected(0, 1)
      ->default_str("true");
  create->add_option("--include-cluster-scoped-resources", f->include_cluster_scoped,
                     "Cluster-scoped resources to include (not with the --*-resources filters above)")
      ->allow_extra_args(false);
  create->add_option("--exclude-cluster-scoped-resources", f->exclude_cluster_scoped, "Cluster-scoped resources to exclude")
      ->allow_extra_args(false);
  create->add_option("--include-namespace-scoped-resources", f->include_namespace_scoped,
                     "Namespace-scoped resources to include")
      ->allow_extra_args(false);
  create->add_option("--exclude-namespace-scoped-resources", f->exclude_namespace_scoped,
                     "Namespace-scoped resources to exclude")
      ->allow_extra_args(false);
  create->add_option("-l,--selector", f->selector, "Only objects matching this label selector");
  create->add_option("--or-selector", f->or_selector, "Objects matching any of these selectors: \"a=b or c=d\"");
  create->add_option("--include-names", f->include_names,
                     "Only these objects of the types named: resource/namespace/name or resource/name (globs)")
      ->allow_extra_args(false);
  create->add_option("--exclude-names", f->exclude_names, "Leave these objects out: resource/namespace/name or resource/name")
      ->allow_extra_args(false);
  create->add_option("--with-related", f->with_related,
                     "Also back up what selected objects reference (PVC->PV->StorageClass, ConfigMaps, Secrets, "
                     "ServiceAccounts and their bindings, PriorityClasses, IngressClasses, CRDs)")
      ->expected(0, 1)
      ->default_str("true");
  create->add_flag("--include-events", f->include_events, "Also back up events (left out by default)");
  create->add_option("--parallel", f->parallel, "Resource types listed at once")->capture_default_str();
  create->add_option("--page-size", f->page_size, "Objects per LIST page")->capture_default_str();
  create->add_option("--ttl", f->ttl, "How long the backup is kept (Go duration)")->capture_default_str();
  create->add_option("--storage-location", f->storage_location, "Location name recorded for Velero")->capture_default_str();
  add_encryption_key_option(create, f->key_file,
                            "Encrypt the backup with this key or passphrase file (32 raw bytes, 64 hex digits or base64 "
                            "of 32 bytes is a key; anything else a passphrase); no velero-backup.json is written");
  create->add_option("--explain", f->explain,
                     "Say why resource/namespace/name (resource/name) is or is not in such a backup; writes nothing");
  set_runner(create, state, [&g, f] { return run_create(g, *f); });

  auto* list = backup->add_subcommand("list", "List the backups of the storage location");
  list->alias("get");
  set_runner(list, state, [&g] { return run_list(g); });

  auto* describe = backup->add_subcommand("describe", "Show a backup's selection, counts, warnings and errors");
  auto describe_name = std::make_shared<std::string>();
  auto details = std::make_shared<bool>(false);
  describe->add_option("name", *describe_name, "Backup name")->required();
  describe->add_flag("--details", *details, "Also list every item");
  auto describe_key = std::make_shared<std::string>();
  add_encryption_key_option(describe, *describe_key,
                            "Key file of an encrypted backup (without it only the plaintext summary is shown)");
  set_runner(describe, state, [&g, describe_name, details, describe_key] {
    return run_describe(g, *describe_name, *details, *describe_key);
  });

  auto* inspect = backup->add_subcommand("inspect", "List a backup's items or print one (--cat)");
  auto inspect_name = std::make_shared<std::string>();
  auto cat = std::make_shared<std::string>();
  inspect->add_option("name", *inspect_name, "Backup name")->required();
  inspect->add_option("--cat", *cat, "Print this item: resource/namespace/name or resource/name (-o yaml for YAML)");
  auto inspect_key = std::make_shared<std::string>();
  add_encryption_key_option(inspect, *inspect_key, "Key file of an encrypted backup");
  set_runner(inspect, state, [&g, inspect_name, cat, inspect_key] {
    return run_inspect(g, *inspect_name, *cat, *inspect_key);
  });

  auto* download = backup->add_subcommand("download", "Download a backup's tarball");
  auto download_name = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  download->add_option("name", *download_name, "Backup name")->required();
  // Velero spells this -o; kbk keeps -o for the output format (-o json), as every other command.
  download->add_option("-f,--file", *file, "File to write (default <name>-data.tar.gz)");
  download->add_flag("--force", *force, "Overwrite an existing file");
  auto raw = std::make_shared<bool>(false);
  download->add_flag("--raw", *raw, "Write the stored bytes as they are (an encrypted backup stays encrypted; default <name>.kbk)");
  auto download_key = std::make_shared<std::string>();
  add_encryption_key_option(download, *download_key, "Key file of an encrypted backup: writes the decrypted .tar.gz");
  set_runner(download, state, [&g, download_name, file, force, raw, download_key] {
    return run_download(g, *download_name, *file, *force, *raw, *download_key);
  });

  auto* del = backup->add_subcommand("delete", "Delete backups from the storage location (the marker first)");
  auto del_names = std::make_shared<std::vector<std::string>>();
  del->add_option("names", *del_names, "Backup names")->required();
  set_runner(del, state, [&g, del_names] { return run_delete(g, *del_names); });

  auto* logs = backup->add_subcommand("logs", "Print a backup's log");
  auto logs_name = std::make_shared<std::string>();
  logs->add_option("name", *logs_name, "Backup name")->required();
  auto logs_key = std::make_shared<std::string>();
  add_encryption_key_option(logs, *logs_key, "Key file of an encrypted backup");
  set_runner(logs, state, [&g, logs_name, logs_key] { return run_logs(g, *logs_name, *logs_key); });

  auto* verify = backup->add_subcommand("verify", "Check every item against the manifest's checksums");
  auto verify_name = std::make_shared<std::string>();
  verify->add_option("name", *verify_name, "Backup name")->required();
  auto verify_key = std::make_shared<std::string>();
  add_encryption_key_option(verify, *verify_key, "Key file of an encrypted backup");
  set_runner(verify, state, [&g, verify_name, verify_key] { return run_verify(g, *verify_name, *verify_key); });

  // restic's `key passwd` / `key add` (--new-password-file), with kbk's key file flags.
  auto* rekey = backup->add_subcommand(
      "rekey", "Rotate the encryption key of encrypted backups: wrap their data keys for a new key (no data is rewritten)");
  auto rf = std::make_shared<RekeyFlags>();
  rekey->add_option("names", rf->names, "Backup names");
  rekey->add_flag("--all", rf->all, "Every complete encrypted backup of the location (plain ones are skipped with a note)");
  add_encryption_key_option(rekey, rf->key_file, "Key or passphrase file that opens the backups now (required)");
  rekey->add_option("--new-encryption-key-file", rf->new_key_file,
                    "Key or passphrase file to rotate to (same rules as --encryption-key-file; required)");
  rekey->add_flag("--keep-old", rf->keep_old, "Keep the old key's key objects: both keys open the backups");
  set_runner(rekey, state, [&g, rf] { return run_rekey(g, *rf); });
}

}  // namespace kbk::cli
