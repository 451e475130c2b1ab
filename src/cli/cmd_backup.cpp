// kbk backup create|list|describe|inspect|download|delete|logs|verify|rekey. create needs a cluster; every other verb
// works from the location alone (docs/format-archive.md).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "app_flags.hpp"
#include "commands.hpp"
#include "hooks_text.hpp"
#include "selection_flags.hpp"
#include "volume_flags.hpp"
#include <kbk/volume/cluster.hpp>
#include <kbk/volume/restore.hpp>
#include "key_file.hpp"
#include <kbk/archive/encryption.hpp>
#include <kbk/archive/archive.hpp>
#include <kbk/archive/documents.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/archive/report.hpp>
#include <kbk/archive/reader.hpp>
#include <kbk/backup/backup.hpp>
#include <kbk/backup/metrics.hpp>
#include <kbk/backup/options.hpp>
#include <kbk/compress/gzip.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/kube/label_selector.hpp>
#include <kbk/output/output.hpp>
#include <kbk/repo/operations.hpp>
#include <kbk/repo/repository.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/storage/wrappers.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>
#include <kbk/volume/policy.hpp>

namespace kbk::cli {
namespace {

int fail(const Error& e) {
  log::error(e.message);  // clears a progress line first
  return static_cast<int>(exit_code_for(e));
}

json::Value str_value(std::string_view s, json::Allocator& a) { return json::make_string(s, a); }

std::string plural(uint64_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

// Text from a backup location as it may be shown on a terminal (util::printable).
std::string pr(std::string_view s) { return util::printable(s, 1024); }

// Errc::not_found of a backup is a precondition (exit 4), as a missing backup is for every command.
int fail_backup(Error e) {
  if (e.is(Errc::not_found)) e.code = Errc::precondition;
  return fail(e);
}

// The volumes of a marker or summary ("volumes" array) as a table, cut at `limit` rows with the rest counted.
void print_volumes(const json::Value* volumes, size_t limit, const std::string& more_hint) {
  // The marker's volumes are text from the location (the schema checked their types): printable.
  auto gs = [](const json::Value& v, std::initializer_list<std::string_view> path) { return pr(json::get_string(v, path)); };
  if (!volumes || !volumes->IsArray() || volumes->Empty()) return;
  size_t included = 0;
  for (const auto& v : volumes->GetArray())
    if (const json::Value* d = json::find(v, "dataIncluded"); d && d->IsBool() && d->GetBool()) ++included;
  const size_t n = volumes->Size();
  std::printf("\nVolumes: %zu, data %s\n", n, included == n ? "included" : included ? "partly included" : "not included");
  output::Table t({"KIND", "NAMESPACE", "NAME", "VOLUME", "STORAGECLASS", "DRIVER", "CAPACITY", "DATA"});
  size_t shown = 0;
  for (const auto& v : volumes->GetArray()) {
    if (shown++ == limit) break;
    const std::string kind = gs(v, {"kind"});
    const bool pod = kind == "PodVolume";
    std::string name = pod ? gs(v, {"pod"}) + ":" + gs(v, {"podVolume"}) : gs(v, {"claim"});
    std::string driver = gs(v, {"driver"});
    if (driver.empty()) driver = gs(v, {"source"});
    const json::Value* d = json::find(v, "dataIncluded");
    auto dash = [](std::string s) { return s.empty() ? std::string("-") : s; };
    // DATA: how the data was taken and its size ("fs-backup, 12.0 MiB in 31 files"), or why it is not there.
    std::string data;
    if (d && d->IsBool() && d->GetBool()) {
      data = gs(v, {"dataPath"});
      if (const json::Value* dd = json::find(v, "data"); dd && dd->IsObject()) {
        const json::Value* bytes = json::find(*dd, "bytes");
        const json::Value* files = json::find(*dd, "files");
        if (bytes && bytes->IsUint64() && files && files->IsUint64() && gs(v, {"dataPath"}) != "snapshot")
          data += ", " + util::human_bytes(bytes->GetUint64()) + " in " + plural(files->GetUint64(), "file", "files");
      }
    } else {
      data = "not included: " + gs(v, {"reason"});
    }
    t.add_row({kind, dash(gs(v, {"namespace"})), dash(name), dash(gs(v, {"persistentVolume"})),
               dash(gs(v, {"storageClass"})), dash(driver), dash(gs(v, {"capacity"})), data});
  }
  std::string text = t.render();
  for (const auto& line : util::split(text, '\n')) std::printf("  %s\n", line.c_str());
  if (n > limit) std::printf("  ... and %zu more%s\n", n - limit, more_hint.c_str());
}

// ---- create --------------------------------------------------------------------------------------------------

struct CreateFlags {
  std::string name;
  VolumeFlags volumes;
  SelectionFlags selection;  // the filters (selection_flags.hpp); --app is `app` below, as restore create's
  bool include_events = false;
  int parallel = 4;
  int64_t page_size = 500;
  double ttl = 720 * 3600;
  std::string explain;
  std::string storage_location = "default";
  std::string key_file;  // --encryption-key-file
  std::vector<std::string> labels;
  std::optional<std::string> cluster_name;  // --cluster-name; unset: the kubeconfig's cluster
  std::string fail_on = "partial";          // --fail-on partial|warning
  std::string metrics_file;                 // --metrics-file
  AppFlags app;          // --app, --app-path
  std::string hooks_file;  // --hooks
};

backup::Options to_options(const GlobalOptions& g, const CreateFlags& f) {
  backup::Options o;
  o.name = f.name;
  // NAME ending in '-' is a prefix, as Kubernetes' generateName: the UTC time is appended (nightly-20261206020000),
  // so a schedule's runs need no shell to name themselves.
  if (!o.name.empty() && o.name.back() == '-') o.name += util::format_compact(util::system_clock().now());
  // -n selects its namespace, as kubectl users expect (with --include-namespaces too it is a usage error).
  apply_selection_filters(g, f.selection, DashN::selects, o);
  o.include_events = f.include_events ? backup::IncludeEvents::yes : backup::IncludeEvents::no;
  o.parallel = f.parallel;
  o.page_size = f.page_size;
  o.ttl = std::chrono::seconds(static_cast<int64_t>(f.ttl));
  o.storage_location = f.storage_location;
  for (const auto& l : f.labels) {
    auto parsed = backup::parse_labels(l);
    if (!parsed) throw Fatal(ExitCode::usage, parsed.error().message);
    for (auto& [k, v] : *parsed) o.labels[k] = v;
  }
  o.volumes = volume_settings(f.volumes);
  o.volume_data = !f.volumes.no_volume_data;
  o.hooks_file = f.hooks_file;
  if (auto v = backup::validate(o); !v) throw Fatal(ExitCode::usage, v.error().message);
  if (!f.app.apps.empty()) {
    o.applications = load_applications(f.app.apps, f.app);
    // The applications' volume policy is read by the volume module's reader now, so a mistake stops the backup
    // before anything is written (FILE:LINE:COL, exit 3).
    if (const auto& vp = o.applications->volume_policy) {
      auto p = volume::PolicySet::parse(vp->text, vp->origin);
      if (!p) {
        for (const auto& c : p.error().causes) std::fprintf(stderr, "%s\n", c.message.c_str());
        throw Fatal(ExitCode::usage, vp->origin + ": invalid volume policy of application " + o.applications->display_name());
      }
    }
  }
  return o;
}

void print_summary(const backup::Summary& s, const output::Format& format) {
  const json::Document doc = backup::summary_to_json(s);
  if (format.structured()) {
    output::print(doc, format);
    return;
  }
  std::printf("Backup %s: %s in %s\n", s.name.c_str(), s.phase.c_str(), util::human_duration(s.duration_seconds).c_str());
  std::printf("  Location:  %s (backups/%s/)\n", s.location.c_str(), s.name.c_str());
  std::printf("  Items:     %llu (%s stored%s)\n", static_cast<unsigned long long>(s.items), util::human_bytes(s.bytes).c_str(),
              s.encrypted ? ", encrypted" : "");
  std::printf("  Warnings:  %llu\n", static_cast<unsigned long long>(s.warnings));
  std::printf("  Errors:    %llu\n", static_cast<unsigned long long>(s.errors));
  std::printf("  Expires:   %s\n", s.expiration.c_str());
  if (s.volumes.empty()) {
    std::printf("  Volumes:   none named by the backed-up objects\n");
  } else {
    size_t included = 0;
    uint64_t bytes = 0;
    for (const auto& v : s.volumes)
      if (v.data_included) {
        ++included;
        if (v.data) bytes += v.data->bytes;
      }
    std::printf("  Volumes:   %s, data of %zu included (%s)\n", plural(s.volumes.size(), "volume", "volumes").c_str(),
                included, util::human_bytes(bytes).c_str());
  }
  if (!s.by_resource.empty()) {
    output::Table t({"RESOURCE", "ITEMS"});
    for (const auto& [gr, n] : s.by_resource) t.add_row({gr, std::to_string(n)});
    std::printf("\n%s", t.render().c_str());
  }
  print_volumes(json::find(doc, "volumes"), 20, " (kbk backup describe " + s.name + " or -o json lists them all)");
  if (!s.error_lines.empty()) {
    std::printf("\nErrors:\n");
    for (const auto& l : s.error_lines) std::printf("  %s\n", l.c_str());
  }
  if (!s.warning_lines.empty()) {
    std::printf("\nWarnings:\n");
    for (const auto& l : s.warning_lines) std::printf("  %s\n", l.c_str());
  }
}

// What run_create learned, for --metrics-file: the summary when the backup completed, the cluster's name.
struct CreateOutcome {
  std::optional<backup::Summary> summary;
  std::string cluster_name;
};

int create_backup(const GlobalOptions& g, const CreateFlags& f, const backup::Options& options, CreateOutcome& outcome) {
  const output::Format format = output_format(g, {output::Format::json});
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
  ctx.cluster_name = f.cluster_name ? *f.cluster_name : config.cluster_name;
  outcome.cluster_name = ctx.cluster_name;
  for (const auto& [flag, value] : {std::pair{"upload", &g.limit_upload}, std::pair{"download", &g.limit_download}})
    if (!value->empty())
      if (auto sched = storage::parse_rate_schedule(*value))
        ctx.log_notes.push_back(std::string("bandwidth cap to the location, ") + flag + ": " + sched->describe());
  std::optional<volume::InterruptHandler> interrupts;
  if (options.volume_data) interrupts.emplace();  // Ctrl-C removes helper pods, claims and snapshots, then exits
  auto summary = backup::run(*client, *discovery, *backend, options, ctx);
  interrupts.reset();
  if (!summary) return fail(summary.error());
  print_summary(*summary, format);
  outcome.summary = *summary;
  if (summary->phase != "Completed") return static_cast<int>(ExitCode::partial);
  if (f.fail_on == "warning" && summary->warnings > 0) {
    log::error("backup " + summary->name + " completed with " + plural(summary->warnings, "warning", "warnings") +
               " (--fail-on warning)");
    return static_cast<int>(ExitCode::partial);
  }
  return 0;
}

void write_metrics(const CreateFlags& f, const CreateOutcome& o, int code, std::chrono::system_clock::time_point start) {
  auto unix_seconds = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
  };
  backup::RunMetrics m;
  m.cluster = o.cluster_name.empty() && f.cluster_name ? *f.cluster_name : o.cluster_name;
  m.backup = o.summary ? o.summary->name : f.name;
  m.success = code == 0;
  m.started = unix_seconds(start);
  m.finished = unix_seconds(std::chrono::system_clock::now());
  if (o.summary) {
    const backup::Summary& s = *o.summary;
    m.phase = s.phase;
    m.items = s.items;
    m.bytes = s.bytes;
    m.volumes = s.volumes.size();
    for (const auto& v : s.volumes)
      if (v.data_included) {
        ++m.volumes_with_data;
        if (v.data) m.volume_bytes += v.data->bytes;
      }
    m.warnings = s.warnings;
    m.errors = s.errors;
  } else {
    m.phase = "Failed";
    m.errors = 1;
  }
  if (auto w = backup::write_metrics_file(f.metrics_file, m); !w) log::error(w.error().message);
}

int run_create(const GlobalOptions& g, const CreateFlags& f) {
  const auto start = std::chrono::system_clock::now();
  const backup::Options options = to_options(g, f);
  if (f.cluster_name)
    if (auto v = backup::validate_cluster_name(*f.cluster_name); !v) throw Fatal(ExitCode::usage, v.error().message);
  if (f.fail_on != "partial" && f.fail_on != "warning")
    throw Fatal(ExitCode::usage, "--fail-on " + f.fail_on + ": expected partial or warning");
  CreateOutcome outcome;
  int code = 0;
  try {
    code = create_backup(g, f, options, outcome);
  } catch (const Fatal& e) {
    // The cluster or the location unreachable, a bad kubeconfig: a failed run for monitoring too.
    if (!f.metrics_file.empty() && f.explain.empty()) write_metrics(f, outcome, static_cast<int>(e.code()), start);
    throw;
  }
  if (!f.metrics_file.empty() && f.explain.empty()) write_metrics(f, outcome, code, start);
  return code;
}

// ---- list ----------------------------------------------------------------------------------------------------

struct ListFlags {
  std::vector<std::string> names;
  std::string selector;
  std::string sort_by = "name";
};

// --selector over the backups' own labels (backup create --labels; Velero's metadata.labels).
std::optional<kube::LabelSelector> parse_backup_selector(const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto s = kube::LabelSelector::parse(text);
  if (!s) throw Fatal(ExitCode::usage, "--selector " + text + ": " + s.error().message);
  return std::move(*s);
}

bool labels_match(const kube::LabelSelector& sel, const std::map<std::string, std::string>& labels) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  for (const auto& [k, v] : labels) d.AddMember(str_value(k, a), str_value(v, a), a);
  return sel.matches(&d);
}

int run_list(const GlobalOptions& g, const ListFlags& f) {
  const output::Format format = output_format(g, {output::Format::json, output::Format::name, output::Format::wide});
  if (f.sort_by != "name" && f.sort_by != "created" && f.sort_by != "size")
    throw Fatal(ExitCode::usage, "--sort-by " + f.sort_by + ": expected name, created or size");
  const auto selector = parse_backup_selector(f.selector);
  auto backend = open_storage(g);
  // One backup whose marker or velero-backup.json does not read is skipped and named (exit 2); the rest is listed.
  std::vector<Error> skipped;
  auto listed = archive::list_backups(*backend, &skipped);
  if (!listed) return fail(listed.error());
  for (const auto& e : skipped) log::error(e.message + " (skipped)");
  std::vector<archive::BackupListing> rows;
  int code = skipped.empty() ? 0 : static_cast<int>(ExitCode::partial);
  for (auto& b : *listed) {
    if (!f.names.empty() && std::find(f.names.begin(), f.names.end(), b.name) == f.names.end()) continue;
    if (selector && !labels_match(*selector, b.labels)) continue;
    if (!g.kube.cluster.empty() && b.cluster_name != g.kube.cluster && b.kube_system_uid != g.kube.cluster) continue;
    rows.push_back(std::move(b));
  }
  for (const auto& n : f.names)
    if (std::none_of(rows.begin(), rows.end(), [&](const archive::BackupListing& b) { return b.name == n; }))
      code = std::max(code, fail(Error{Errc::precondition, "backup " + n + " not found in " + backend->display_url()}));
  // Sorted as asked, ascending (kubectl's --sort-by); names break ties.
  std::stable_sort(rows.begin(), rows.end(), [&](const archive::BackupListing& a, const archive::BackupListing& b) {
    if (f.sort_by == "created" && a.started != b.started) return a.started < b.started;
    if (f.sort_by == "size" && a.bytes != b.bytes) return a.bytes < b.bytes;
    return a.name < b.name;
  });
  if (format.structured()) {
    output::print(archive::backup_list_to_json(rows), format);
    return code;
  }
  if (format == output::Format::name) {
    for (const auto& b : rows) std::printf("%s\n", b.name.c_str());
    return code;
  }
  const bool wide = format == output::Format::wide;
  std::vector<std::string> headers{"NAME", "STATUS", "SOURCE", "ENCRYPTED", "ERRORS", "WARNINGS", "ITEMS", "SIZE", "CREATED", "EXPIRES"};
  // The source cluster: in -o wide, and whenever the backups listed come from more than one cluster.
  std::set<std::string> clusters;
  for (const auto& b : rows)
    if (b.source == "kbk") clusters.insert(b.cluster_name + "/" + b.kube_system_uid);
  const bool show_cluster = wide || clusters.size() > 1;
  auto cluster_cell = [](const archive::BackupListing& b) {
    if (!b.cluster_name.empty()) return pr(b.cluster_name);
    if (!b.kube_system_uid.empty()) return "uid " + pr(b.kube_system_uid.substr(0, 8));
    return std::string("-");
  };
  if (show_cluster) headers.insert(headers.begin() + 1, "CLUSTER");
  if (wide) headers.push_back("LABELS");
  output::Table t(headers);
  for (const auto& b : rows) {
    std::vector<std::string> row{b.name, pr(b.phase), b.source, b.encrypted ? "yes" : "no", std::to_string(b.errors),
                                 std::to_string(b.warnings), std::to_string(b.items),
                                 b.bytes ? util::human_bytes(b.bytes) : "-", b.started.empty() ? "-" : pr(b.started),
                                 b.expires.empty() ? "-" : pr(b.expires)};
    if (show_cluster) row.insert(row.begin() + 1, cluster_cell(b));
    if (wide) {
      std::vector<std::string> l;
      for (const auto& [k, v] : b.labels) l.push_back(pr(k) + "=" + pr(v));
      row.push_back(l.empty() ? "<none>" : util::join(l, ","));
    }
    t.add_row(std::move(row));
  }
  if (t.empty()) {
    if (f.names.empty() && skipped.empty())
      std::fprintf(stderr, "No backups found in %s%s.\n", backend->display_url().c_str(),
                   selector ? (" matching --selector " + f.selector).c_str() : "");
    return code;
  }
  std::printf("%s", t.render().c_str());
  return code;
}

// ---- reading a backup ----------------------------------------------------------------------------------------

using archive::NeedKey;
using archive::OpenBackup;
using archive::item_text;

bool is_velero(const OpenBackup& b) { return b.source == archive::BackupSource::velero; }

// The strings of an array member (the schema checked they are strings), printable, joined.
std::string joined(const json::Value* arr, const char* none = "<none>") {
  std::vector<std::string> v;
  if (arr && arr->IsArray())
    for (const auto& s : arr->GetArray())
      if (s.IsString()) v.push_back(pr(std::string_view(s.GetString(), s.GetStringLength())));
  return v.empty() ? std::string(none) : util::join(v, ", ");
}

std::string str_of(const json::Value& m, std::initializer_list<std::string_view> path) {
  return pr(json::get_string(m, path));
}

unsigned long long uint_of(const json::Value& m, std::initializer_list<std::string_view> path) {
  const json::Value* v = json::at(m, path);
  return v && v->IsUint64() ? v->GetUint64() : 0;
}

// Without the key an encrypted backup is described from its plaintext summary (describing is not reading its
// contents: exit 0); --details lists items from the archive (read verified) and needs the key.
int run_describe(const GlobalOptions& g, const std::string& name, bool details, const std::string& key_file) {
  const output::Format format = output_format(g, {output::Format::json});
  const auto user = load_encryption_key(key_file);
  auto backend = open_storage(g);
  auto loc = archive::open_backup(*backend, name, user ? &*user : nullptr, details ? NeedKey::yes : NeedKey::no);
  if (!loc) return fail_backup(loc.error());
  archive::BackupPaths p{name};
  if (format.structured()) {
    auto out = archive::describe_to_json(*backend, *loc, details);
    if (!out) return fail(out.error());
    output::print(*out, format);
    return 0;
  }
  // --details: the items (kbk: the archive's manifest and entries, verified; Velero: its resource list).
  std::vector<std::string> item_lines;
  json::Document resource_list;
  if (details && !is_velero(*loc)) {
    auto r = archive::read_checked(*backend, *loc, [&](const archive::Entry& e, const json::Value*) -> Result<void> {
      if (e.is_item && e.version_dir.empty()) item_lines.push_back(item_text(e.key));
      return {};
    });
    if (!r) return fail(r.error());
  } else if (details) {
    archive::DocumentOptions o;
    o.gzipped = archive::Gzipped::yes;
    o.max_bytes = archive::k_max_list_bytes;
    auto rl = archive::read_document(*backend, p.resource_list(), "backup " + name + ": " + p.resource_list(),
                                     archive::resource_list_schema(), o);
    if (!rl) {
      if (!rl.error().is(Errc::not_found)) return fail(rl.error());
    } else {
      resource_list = std::move(*rl);
    }
  }
  const json::Value& m = loc->marker;
  if (is_velero(*loc)) {
    std::printf("Name:         %s\nSource:       velero\nPhase:        %s\nStarted:      %s\nCompleted:    %s\n"
                "Expiration:   %s\nFormat:       %s\n",
                name.c_str(), str_of(m, {"status", "phase"}).c_str(), str_of(m, {"status", "startTimestamp"}).c_str(),
                str_of(m, {"status", "completionTimestamp"}).c_str(), str_of(m, {"status", "expiration"}).c_str(),
                str_of(m, {"status", "formatVersion"}).c_str());
    if (const json::Value* ns = json::at(m, {"spec", "includedNamespaces"}))
      std::printf("Namespaces:   %s\n", joined(ns).c_str());
    std::printf("Volumes:      not listed (a Velero backup: kbk does not read Velero's volume snapshots or pod "
                "volume backups, and restores no volume data)\n");
    if (resource_list.IsObject()) {
      std::printf("\nResource List:\n");
      for (const auto& mem : resource_list.GetObject()) {
        std::printf("  %s:\n", pr(std::string_view(mem.name.GetString(), mem.name.GetStringLength())).c_str());
        for (const auto& s : mem.value.GetArray())
          std::printf("    - %s\n", pr(std::string_view(s.GetString(), s.GetStringLength())).c_str());
      }
    }
    return 0;
  }
  const std::string data_key_id = str_of(m, {"encryption", "dataKeyId"});
  if (loc->encrypted && !loc->data_key) {
    std::printf("Name:         %s\nSource:       kbk\nPhase:        %s\nEncrypted:    yes (data key %s)\n", name.c_str(),
                str_of(m, {"phase"}).c_str(), data_key_id.c_str());
    std::printf("Started:      %s\nCompleted:    %s\nExpiration:   %s\n", str_of(m, {"startTimestamp"}).c_str(),
                str_of(m, {"completionTimestamp"}).c_str(), str_of(m, {"expiration"}).c_str());
    std::printf("\nItems:        %llu (%s stored)\nWarnings:     %llu\nErrors:       %llu\n", uint_of(m, {"counts", "items"}),
                util::human_bytes(uint_of(m, {"archive", "bytes"})).c_str(), uint_of(m, {"counts", "warnings"}),
                uint_of(m, {"counts", "errors"}));
    std::printf("\nThe cluster, selection, resource counts, warnings and errors are encrypted: pass "
                "--encryption-key-file to see them.\n");
    return 0;
  }
  const json::Value* sel = json::find(m, "selection");
  auto list_of = [&](const char* key) { return joined(sel ? json::find(*sel, key) : nullptr); };
  std::printf("Name:         %s\n", name.c_str());
  std::printf("Source:       kbk %s\n", str_of(m, {"tool", "version"}).c_str());
  std::printf("Phase:        %s\n", str_of(m, {"phase"}).c_str());
  if (loc->encrypted) std::printf("Encrypted:    yes (data key %s)\n", loc->data_key->data_key_id().c_str());
  if (std::string cn = str_of(m, {"cluster", "name"}); !cn.empty())
    std::printf("Cluster name: %s\n", cn.c_str());
  std::printf("Cluster:      %s (%s, kube-system uid %s)\n", str_of(m, {"cluster", "server"}).c_str(),
              str_of(m, {"cluster", "serverVersion", "gitVersion"}).c_str(),
              str_of(m, {"cluster", "kubeSystemUID"}).c_str());
  std::printf("Started:      %s\nCompleted:    %s\nExpiration:   %s\n", str_of(m, {"startTimestamp"}).c_str(),
              str_of(m, {"completionTimestamp"}).c_str(), str_of(m, {"expiration"}).c_str());
  std::printf("\nNamespaces:\n  Included:  %s\n  Excluded:  %s\n", list_of("includedNamespaces").c_str(),
              list_of("excludedNamespaces").c_str());
  std::printf("Resources:\n  Included:  %s\n  Excluded:  %s\n", list_of("includedResources").c_str(),
              list_of("excludedResources").c_str());
  std::string icr = "auto";
  if (const json::Value* v = sel ? json::find(*sel, "includeClusterResources") : nullptr; v && v->IsBool())
    icr = v->GetBool() ? "true" : "false";
  std::printf("  Cluster-scoped:  %s\n", icr.c_str());
  std::string ls = sel ? str_of(*sel, {"labelSelector"}) : "";
  std::printf("Label selector:  %s\n", ls.empty() ? "<none>" : ls.c_str());
  {
    std::vector<std::string> labels;
    if (const json::Value* l = json::find(m, "labels"); l && l->IsObject())
      for (const auto& kv : l->GetObject())
        if (kv.value.IsString()) labels.push_back(pr(std::string_view(kv.name.GetString(), kv.name.GetStringLength())) + "=" +
                          pr(std::string_view(kv.value.GetString(), kv.value.GetStringLength())));
    std::printf("Labels:          %s\n", labels.empty() ? "<none>" : util::join(labels, ",").c_str());
  }
  std::printf("\nItems:        %llu (%s stored)\nWarnings:     %llu\nErrors:       %llu\n", uint_of(m, {"counts", "items"}),
              util::human_bytes(uint_of(m, {"archive", "bytes"})).c_str(), uint_of(m, {"counts", "warnings"}),
              uint_of(m, {"counts", "errors"}));
  if (const json::Value* by = json::at(m, {"counts", "byResource"}); by && by->IsObject()) {
    output::Table t({"RESOURCE", "ITEMS"});
    for (const auto& mem : by->GetObject())
      t.add_row({pr(std::string_view(mem.name.GetString(), mem.name.GetStringLength())),
                 std::to_string(mem.value.IsUint64() ? mem.value.GetUint64() : 0)});
    std::printf("\n%s", t.render().c_str());
  }
  if (const json::Value* vols = json::find(m, "volumes")) {
    if (vols->IsArray() && vols->Empty()) std::printf("\nVolumes: none named by the backed-up objects\n");
    else print_volumes(vols, details ? SIZE_MAX : 50, " (--details or -o json lists them all)");
  } else {
    std::printf("\nVolumes: not recorded (written by kbk %s, before backups listed their volumes); no volume data\n",
                str_of(m, {"tool", "version"}).c_str());
  }
  if (const json::Value* hk = json::find(m, "hooks"); hk && hk->IsObject()) print_hooks(*hk, details);
  for (const char* key : {"errors", "warnings"}) {
    const json::Value* a = json::find(m, key);
    if (!a || !a->IsArray() || a->Empty()) continue;
    std::printf("\n%s:\n", key[0] == 'e' ? "Errors" : "Warnings");
    for (const auto& l : a->GetArray())
      if (l.IsString()) std::printf("  %s\n", pr(std::string_view(l.GetString(), l.GetStringLength())).c_str());
  }
  if (details) {
    std::printf("\nItems:\n");
    for (const auto& l : item_lines) std::printf("  %s\n", l.c_str());
  }
  return 0;
}

int run_inspect(const GlobalOptions& g, const std::string& name, const std::string& cat, const std::string& key_file) {
  const output::Format format = output_format(g, {output::Format::json});
  const auto user = load_encryption_key(key_file);
  if (!cat.empty()) {
    const auto parts = util::split(cat, '/', false);
    if (parts.size() < 2 || parts.size() > 3)
      throw Fatal(ExitCode::usage, "--cat " + cat + ": expected resource/namespace/name or resource/name");
  }
  auto backend = open_storage(g);
  auto loc = archive::open_backup(*backend, name, user ? &*user : nullptr, NeedKey::yes);
  if (!loc) return fail_backup(loc.error());
  if (cat.empty()) {
    // The item list: one row per object, from the document -o json prints.
    auto d = archive::contents_to_json(*backend, *loc);
    if (!d) return fail(d.error());
    if (format.structured()) {
      output::print(*d, format);
      return 0;
    }
    output::Table t({"RESOURCE", "NAMESPACE", "NAME", "VERSION", "BYTES"});
    for (const auto& v : d->GetArray()) {
      const std::string api = json::get_string(v, {"apiVersion"});
      const std::string ns = json::get_string(v, {"namespace"});
      std::vector<std::string> row{json::get_string(v, {"resource"}), ns.empty() ? std::string("-") : ns,
                                   json::get_string(v, {"name"}),
                                   pr(api.substr(api.find('/') == std::string::npos ? 0 : api.find('/') + 1)),
                                   std::to_string(json::find(v, "bytes")->GetUint64())};
      t.add_row(std::move(row));
    }
    std::printf("%s", t.render().c_str());
    return 0;
  }
  auto doc = archive::find_object(*backend, *loc, cat);
  if (!doc) return fail(doc.error());
  // An object prints as JSON by default (as stored), or in the -o format asked.
  output::print(*doc, format == output::Format::text ? output::Format(output::Format::json) : format);
  return 0;
}

// An encrypted backup is downloaded decrypted (the .tar.gz a plain backup holds) with the key, as stored with --raw,
// and refused (exit 3) with neither. The stored bytes are checked against the marker's SHA-256 and size on the way
// (archive::open_archive_stream); a download that fails that or authentication part-way is removed.
int run_download(const GlobalOptions& g, const std::string& name, std::string file, bool force, bool raw,
                 const std::string& key_file) {
  const output::Format format = output_format(g, {output::Format::json});
  const auto user = load_encryption_key(key_file);
  auto progress_mode = output::parse_progress_mode(g.progress);
  if (!progress_mode) throw Fatal(ExitCode::usage, progress_mode.error().message);
  auto progress = output::make_progress(*progress_mode);
  auto meter = std::make_shared<storage::TransferProgress>(*progress);  // download: bytes, bytes/s, ETA
  auto backend = open_storage(g, false, meter);
  auto loc = archive::open_backup(*backend, name, user ? &*user : nullptr, raw ? NeedKey::no : NeedKey::yes);
  if (!loc) return fail_backup(loc.error());
  const bool decrypt = loc->data_key && !raw;
  if (file.empty()) file = raw && loc->encrypted ? name + ".kbk" : name + "-data.tar.gz";
  auto reader = archive::open_archive_stream(*backend, *loc, decrypt ? archive::Decrypt::yes : archive::Decrypt::no);
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
      ::unlink(file.c_str());  // not what the backup stored, or not authenticated as a whole
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
        ::unlink(file.c_str());
        return fail(Error{Errc::io, file + ": " + std::strerror(e)});
      }
      off += static_cast<size_t>(w);
    }
    total += *n;
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return fail(Error{Errc::io, file + ": " + std::strerror(errno)});
  meter->finish();
  if (format.structured()) {
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("name", str_value(name, a), a);
    d.AddMember("file", str_value(file, a), a);
    d.AddMember("bytes", total, a);
    d.AddMember("decrypted", decrypt, a);
    output::print(d, format);
  } else {
    std::fprintf(stderr, "Backup %s downloaded to %s (%s)\n", name.c_str(), file.c_str(), util::human_bytes(total).c_str());
  }
  return 0;
}

struct DeleteFlags {
  std::vector<std::string> names;
  bool all = false;
  std::string selector;
  bool confirm = false;
  std::string key_file;
};

// The deleted backups' snapshots in the location's volume repository are forgotten too (their data stays until the
// next kbk prune reclaims it). nullopt when they could not be, said why (kbk prune forgets them later).
std::optional<uint64_t> forget_volume_snapshots(storage::Backend& b, const std::string& key_file,
                                                const std::set<std::string>& names) {
  const std::string later = " (kbk prune forgets them later)";
  auto exists = repo::repository_exists(b);
  if (!exists) {
    log::error("the deleted backups' volume snapshots were not forgotten: " + exists.error().message + later);
    return std::nullopt;
  }
  if (!*exists) return 0;
  auto key = load_encryption_key(key_file);
  repo::OpenOptions oo;
  oo.key = key ? &*key : nullptr;
  auto r = repo::Repository::open(b, oo);
  Result<uint64_t> n = unexpected(Errc::internal_error, "not run");
  if (!r) {
    n = std::move(r).error();
  } else if (auto lock = repo::Lock::acquire(b, true); !lock) {
    n = std::move(lock).error();
  } else {
    n = repo::forget_backup_snapshots(**r, names);
    (*lock)->release();
  }
  if (!n) {
    log::error("the deleted backups' volume snapshots were not forgotten: " + n.error().message + later);
    return std::nullopt;
  }
  return *n;
}

// Which backups, asked first on a terminal: deleting is for good. Named backups may be anything listed (Velero's
// too); --all and --selector choose among kbk's own (complete and incomplete), as prune leaves Velero's alone.
int run_delete(const GlobalOptions& g, const DeleteFlags& f) {
  const output::Format format = output_format(g, {output::Format::json});
  const int ways = (!f.names.empty()) + (f.all ? 1 : 0) + (!f.selector.empty());
  if (ways != 1) throw Fatal(ExitCode::usage, "name the backups to delete, or pass --all or --selector (one of them)");
  const auto selector = parse_backup_selector(f.selector);
  (void)storage_url(g);  // a missing location is said first: it is the first thing to fix
  if (!f.confirm && !::isatty(STDIN_FILENO))
    throw Fatal(ExitCode::usage, "backup delete removes backups for good: pass --confirm (stdin is not a terminal to ask on)");
  auto backend = open_storage(g);
  std::vector<std::string> names = f.names;
  int code = 0;
  if (f.all || selector) {
    // A backup whose marker does not read is not deleted by --all or --selector (its labels are unknown): it is
    // named, with exit 2, and deleted when named.
    std::vector<Error> skipped;
    auto listed = archive::list_backups(*backend, &skipped);
    if (!listed) return fail(listed.error());
    for (const auto& e : skipped) log::error(e.message + " (skipped: name it to delete it)");
    if (!skipped.empty()) code = static_cast<int>(ExitCode::partial);
    size_t velero = 0;
    for (const auto& b : *listed) {
      if (b.source != "kbk") {
        velero += !selector || labels_match(*selector, b.labels);
        continue;
      }
      if (selector && !labels_match(*selector, b.labels)) continue;
      names.push_back(b.name);
    }
    if (velero) log::info(0, "note: " + plural(velero, "Velero backup is", "Velero backups are") +
                                 " left alone (name one to delete it)");
    if (names.empty()) {
      std::fprintf(stderr, "No kbk backups %s in %s; nothing deleted.\n",
                   selector ? ("match --selector " + f.selector).c_str() : "found", backend->display_url().c_str());
      if (format.structured()) output::print(json::parse(R"({"deleted": []})", "empty").value(), format);
      return code;
    }
  }
  if (!f.confirm) {
    std::string shown;
    for (size_t i = 0; i < names.size() && i < 10; ++i) shown += (i ? ", " : "") + names[i];
    if (names.size() > 10) shown += " and " + std::to_string(names.size() - 10) + " more";
    std::fprintf(stderr, "Delete %s from %s (%s)? This cannot be undone. [y/N] ",
                 plural(names.size(), "backup", "backups").c_str(), backend->display_url().c_str(), shown.c_str());
    std::fflush(stderr);
    char answer[16] = {0};
    if (!std::fgets(answer, sizeof answer, stdin) || (answer[0] != 'y' && answer[0] != 'Y')) {
      std::fprintf(stderr, "Nothing deleted.\n");
      return 0;
    }
  }
  json::Document deleted(rapidjson::kArrayType);
  std::set<std::string> gone;
  for (const auto& name : names) {
    if (!archive::valid_backup_name(name)) {
      code = std::max(code, fail(Error{Errc::config, "\"" + pr(name) + "\" is not a backup name"}));
      continue;
    }
    auto n = archive::delete_backup(*backend, name);
    if (!n) {
      code = std::max(code, fail_backup(n.error()));
      continue;
    }
    gone.insert(name);
    if (format.structured()) {
      json::Value entry(rapidjson::kObjectType);
      entry.AddMember("name", str_value(name, deleted.GetAllocator()), deleted.GetAllocator());
      entry.AddMember("objectsDeleted", *n, deleted.GetAllocator());
      deleted.PushBack(entry, deleted.GetAllocator());
    } else {
      std::printf("Backup %s deleted (%llu objects)\n", name.c_str(), static_cast<unsigned long long>(*n));
    }
  }
  std::optional<uint64_t> forgotten;
  if (!gone.empty()) {
    forgotten = forget_volume_snapshots(*backend, f.key_file, gone);
    if (!forgotten) code = std::max(code, static_cast<int>(ExitCode::partial));
    else if (*forgotten && !format.structured())
      std::printf("%s of the deleted backups forgotten; their data is freed by the next kbk prune\n",
                  plural(*forgotten, "volume snapshot", "volume snapshots").c_str());
  }
  if (format.structured()) {
    json::Document d(rapidjson::kObjectType);
    d.AddMember("deleted", json::copy(deleted, d.GetAllocator()), d.GetAllocator());
    json::Value fv(rapidjson::kNullType);
    if (forgotten) fv.SetUint64(*forgotten);
    d.AddMember("volumeSnapshotsForgotten", fv, d.GetAllocator());
    output::print(d, format);
  }
  return code;
}

struct LogsFlags {
  std::string name;
  std::string key_file;
  bool follow = false;
  double timeout = 0;  // --timeout for -f; 0: no limit
};

// -f: kbk uploads a backup's log when the backup ends (completed or failed), so following a running backup means
// waiting for that: the backup is polled every 2s until its log is there, then the log is printed. A backup whose
// writer ran on this machine and is gone (killed) ends the wait with exit 1; --timeout ends it with exit 4.
Result<bool> wait_for_log(storage::Backend& backend, const std::string& name, double timeout) {
  archive::BackupPaths p{name};
  const auto start = std::chrono::steady_clock::now();
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  bool said = false;
  for (;;) {
    KBK_ASSIGN_OR_RETURN(auto plain, backend.stat(p.logs(archive::Encrypted::no)));
    KBK_ASSIGN_OR_RETURN(auto sealed, backend.stat(p.logs(archive::Encrypted::yes)));
    if (plain || sealed) return true;
    KBK_ASSIGN_OR_RETURN(auto lock, backend.stat(p.lock()));
    if (!lock) return false;  // not a running kbk backup: the caller reports what it is
    auto doc = archive::read_document(backend, p.lock(), "backup " + name + ": kbk-lock.json", archive::lock_schema(),
                                      {archive::Gzipped::no, archive::k_max_small_bytes});
    const std::string lock_host = doc ? pr(json::get_string(*doc, {"host"})) : "";
    const json::Value* pid = doc ? json::find(*doc, "pid") : nullptr;
    if (lock_host == host && pid && pid->IsInt64() && ::kill(static_cast<pid_t>(pid->GetInt64()), 0) != 0 && errno == ESRCH)
      return unexpected(Errc::unknown, "backup " + name + " was interrupted: its writer (pid " +
                                          std::to_string(pid->GetInt64()) + " on this host) is gone and uploaded no log; "
                                          "remove it with kbk backup delete " + name);
    if (!said) {
      std::fprintf(stderr, "Waiting for backup %s to finish (started %s on %s): kbk uploads the log at the end.\n",
                   name.c_str(), doc ? pr(json::get_string(*doc, {"startTimestamp"})).c_str() : "?",
                   lock_host.empty() ? "?" : lock_host.c_str());
      said = true;
    }
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (timeout > 0 && waited >= timeout)
      return unexpected(Errc::precondition, "backup " + name + " is still running after " + util::format_duration(timeout) +
                                                " (--timeout)");
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
}

// ---- extract ---------------------------------------------------------------------------------------------------

int run_extract(const GlobalOptions& g, const std::string& name, const std::string& which, const std::string& target,
                const std::string& key_file) {
  const output::Format format = output_format(g, {output::Format::json});
  const auto user = load_encryption_key(key_file);
  auto backend = open_storage(g);
  auto loc = open_backup(*backend, name, user ? &*user : nullptr, NeedKey::yes);
  if (!loc) return fail(loc.error());
  if (loc->source != archive::BackupSource::kbk) throw Fatal(ExitCode::precondition, "backup " + name + " was written by Velero: kbk reads no volume data of it");
  auto records = volume::volumes_of_manifest(loc->marker);
  if (!records) return fail(records.error().wrap("backup " + name));
  auto progress_mode = output::parse_progress_mode(g.progress);
  if (!progress_mode) throw Fatal(ExitCode::usage, progress_mode.error().message);
  auto progress = output::make_progress(*progress_mode);
  auto res = volume::extract_volume(*backend, user ? &*user : nullptr, *records, which, target, progress.get());
  if (!res) {
    if (res.error().is(Errc::not_found)) throw Fatal(ExitCode::precondition, "backup " + name + ": " + res.error().message);
    return fail(res.error().wrap("backup " + name));
  }
  for (const auto& w : res->warnings) log::warning(w);
  if (format.structured()) {
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("backup", str_value(name, a), a);
    d.AddMember("volume", str_value(res->volume, a), a);
    d.AddMember("snapshot", str_value(res->snapshot, a), a);
    d.AddMember("target", str_value(res->target, a), a);
    d.AddMember("files", res->files, a);
    d.AddMember("dirs", res->dirs, a);
    d.AddMember("bytes", res->bytes, a);
    output::print(d, format);
  } else {
    std::printf("%s: %llu files, %llu folders, %s into %s (repository snapshot %s)\n", res->volume.c_str(),
                static_cast<unsigned long long>(res->files), static_cast<unsigned long long>(res->dirs),
                util::human_bytes(res->bytes).c_str(), res->target.c_str(), res->snapshot.substr(0, 8).c_str());
  }
  return 0;
}

// Also for an incomplete backup (a failed run uploads its log; no marker): its key objects tell whether it is
// encrypted. The log is streamed through the bounded gzip decoder (at most archive::k_max_log_bytes) and printed
// line by line, made printable.
int run_logs(const GlobalOptions& g, const LogsFlags& f) {
  const std::string& name = f.name;
  const output::Format format = output_format(g, {output::Format::json});
  const auto user = load_encryption_key(f.key_file);
  if (!archive::valid_backup_name(name)) throw Fatal(ExitCode::usage, "\"" + pr(name) + "\" is not a backup name");
  auto backend = open_storage(g);
  archive::BackupPaths p{name};
  if (f.follow) {
    auto waited = wait_for_log(*backend, name, f.timeout);
    if (!waited) return fail(waited.error());
  }
  auto marker = archive::read_marker(*backend, name);
  if (!marker) return fail(marker.error());
  if (!*marker) {
    auto lock = backend->stat(p.lock());
    if (!lock) return fail(lock.error());
    if (!*lock) {
      auto loc = archive::open_backup(*backend, name, nullptr, NeedKey::no);  // a Velero backup, or why there is none
      if (!loc) return fail_backup(loc.error());
    }
  }
  auto data_key = archive::backup_data_key(*backend, name, *marker ? &**marker : nullptr, user ? &*user : nullptr);
  if (!data_key) return fail(data_key.error());
  const archive::Encrypted enc = *data_key ? archive::Encrypted::yes : archive::Encrypted::no;
  compress::InflateLimits limits;
  limits.max_bytes = archive::k_max_log_bytes;
  limits.ratio_after = archive::k_bomb_ratio_after;
  auto reader = archive::open_gzip_object(*backend, p.logs(enc), "backup " + name + ": " + p.logs(enc),
                                          *data_key ? &**data_key : nullptr, limits);
  if (!reader) {
    if (reader.error().is(Errc::not_found) && !*marker)
      return fail(Error{Errc::precondition, "backup " + name + " has no log yet: it is still being written, or was "
                                            "killed before the end (kbk backup logs -f " + name + " waits for it)"});
    return fail(reader.error());
  }
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::Value lines(rapidjson::kArrayType);
  // Lines as they come (the log is from the location: made printable; -o json holds them, within the limit).
  auto r = archive::each_line(**reader, [&](std::string_view line) {
    if (format.structured()) {
      lines.PushBack(str_value(util::valid_utf8(line) ? std::string(line) : pr(line), a), a);
    } else {
      std::string out = util::printable(line, 0, util::Newlines::keep) + "\n";
      std::fwrite(out.data(), 1, out.size(), stdout);
    }
  });
  if (!r) {
    std::fflush(stdout);
    return fail(r.error());
  }
  if (format.structured()) {
    // {"name": ..., "lines": [...]}: one JSON document, one string per log line.
    d.AddMember("name", str_value(name, a), a);
    d.AddMember("lines", lines, a);
    output::print(d, format);
    return 0;
  }
  return 0;
}

int run_verify(const GlobalOptions& g, const std::string& name, const std::string& key_file) {
  const output::Format format = output_format(g, {output::Format::json});
  const auto user = load_encryption_key(key_file);
  auto backend = open_storage(g);
  auto report = archive::verify_backup(*backend, name, user ? &*user : nullptr);
  if (!report) return fail_backup(report.error());
  if (format.structured()) {
    json::Document d;
    d.SetObject();
    auto& a = d.GetAllocator();
    d.AddMember("name", str_value(name, a), a);
    d.AddMember("ok", report->problems.empty(), a);
    d.AddMember("itemsChecked", report->items_checked, a);
    json::Value probs(rapidjson::kArrayType);
    for (const auto& pr_text : report->problems) probs.PushBack(str_value(pr(pr_text), a), a);
    d.AddMember("problems", probs, a);
    output::print(d, format);
  } else if (report->problems.empty()) {
    std::printf("Backup %s: OK (%llu items match the manifest)\n", name.c_str(),
                static_cast<unsigned long long>(report->items_checked));
  } else {
    std::printf("Backup %s: %zu problem(s)\n", name.c_str(), report->problems.size());
    for (const auto& pr_text : report->problems) std::printf("  %s\n", pr(pr_text).c_str());
  }
  if (report->problems.empty()) return 0;
  // One line on stderr names the backup and the first problem; the full list is the report above.
  log::error(archive::verification_error(name, *report).message);
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
  const output::Format format = output_format(g, {output::Format::json});
  if (f.all == !f.names.empty()) throw Fatal(ExitCode::usage, "name the backups to rekey or pass --all (not both)");
  if (f.key_file.empty()) throw Fatal(ExitCode::usage, "--encryption-key-file is required: the key that opens the backups now");
  if (f.new_key_file.empty()) throw Fatal(ExitCode::usage, "--new-encryption-key-file is required: the key to rotate to");
  const auto old_key = load_encryption_key(f.key_file);
  const auto new_key = load_encryption_key(f.new_key_file);
  if (same_user_key(*old_key, *new_key))
    throw Fatal(ExitCode::usage, "--new-encryption-key-file " + f.new_key_file + " holds the key of --encryption-key-file");
  auto backend = open_storage(g);

  std::vector<std::string> targets;
  size_t unreadable = 0;  // --all: backups whose marker does not read (skipped, named, exit 2)
  if (f.all) {
    std::vector<Error> skipped;
    auto list = archive::list_backups(*backend, &skipped);
    if (!list) return fail(list.error());
    for (const auto& e : skipped) log::error(e.message + " (skipped)");
    unreadable = skipped.size();
    for (const auto& b : *list) {
      if (b.phase == "Incomplete") log::info(0, "note: backup " + b.name + " is incomplete; skipped");
      else if (!b.encrypted) log::info(0, "note: backup " + b.name + " is not encrypted; skipped");
      else targets.push_back(b.name);
    }
    if (targets.empty()) {
      std::fprintf(stderr, "No encrypted backups in %s.\n", backend->display_url().c_str());
      if (!format.structured()) return unreadable ? static_cast<int>(ExitCode::partial) : 0;
    }
  } else {
    int code = 0;
    for (const auto& name : f.names) {
      if (!archive::valid_backup_name(name)) {
        code = std::max(code, fail(Error{Errc::config, "\"" + name + "\" is not a backup name"}));
        continue;
      }
      auto loc = archive::open_backup(*backend, name, nullptr, NeedKey::no);
      if (!loc) code = std::max(code, fail_backup(loc.error()));
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
    if (format.structured()) {
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
  if (format.structured()) {
    d.AddMember("backups", done, a);
    output::print(d, format);
  }
  if (failed == 0) return unreadable ? static_cast<int>(ExitCode::partial) : 0;
  return static_cast<int>(failed < targets.size() || unreadable ? ExitCode::partial : ExitCode::failed);
}

}  // namespace

void register_backup(CLI::App& app, GlobalOptions& g, RunState& state) {
  CLI::App* backup = app.add_subcommand("backup", "Create, list, inspect, verify, delete and rekey backups");
  document(backup, {"kbk backup create nightly -n shop", "kbk backup list", "kbk backup describe nightly",
                    "kbk backup delete nightly --confirm"});

  auto* create = backup->add_subcommand("create", "Back up cluster resources into the storage location");
  auto f = std::make_shared<CreateFlags>();
  create->add_option("NAME", f->name, "Name of the backup; ending in '-', a prefix the UTC time is appended to")->required();
  add_selection_flags(create, f->selection, SelectionKind::backup, AppOptions::own);
  create->add_flag("--include-events", f->include_events, "Also back up events (left out by default)");
  add_list_option(create, "--labels", f->labels, "Labels of the backup itself: KEY=VALUE (backup list/delete --selector)",
                  value::k_key_value);
  create->add_option("--cluster-name", f->cluster_name,
                     "The source cluster's name recorded in the backup (backup list --cluster, prune --cluster); "
                     "default the kubeconfig's cluster, none in-cluster")
      ->type_name(value::k_name);
  create->add_option("--fail-on", f->fail_on,
                     "What makes the run exit non-zero (2): partial (a PartiallyFailed backup) or warning (warnings too)")
      ->type_name("partial|warning")
      ->capture_default_str();
  create->add_option("--metrics-file", f->metrics_file,
                     "Write the run's outcome here in Prometheus text format (node_exporter textfile collector, "
                     "Pushgateway): last success time, duration, items, bytes, volumes, warnings, failures")
      ->type_name(value::k_file);
  create->add_option("--parallel", f->parallel, "Resource types listed at once")->type_name(value::k_count)->capture_default_str();
  create->add_option("--page-size", f->page_size, "Objects per LIST page")->type_name(value::k_count)->capture_default_str();
  add_duration_option(create, "--ttl", f->ttl, "How long the backup is kept (kbk prune --expired removes it after)");
  create->add_option("--storage-location", f->storage_location, "Location name recorded for Velero")
      ->type_name(value::k_name)
      ->capture_default_str();
  add_encryption_key_option(create, f->key_file,
                            "Encrypt the backup with this key or passphrase file (32 raw bytes, 64 hex digits or base64 "
                            "of 32 bytes is a key; anything else a passphrase); no velero-backup.json is written");
  add_app_flags(create, f->app, true);
  add_volume_backup_flags(create, f->volumes);
  create->add_option("--hooks", f->hooks_file,
                     "Hooks file (docs/hooks.md: kbk.io/v1 Hooks, or a Velero Backup's spec.hooks): commands run in "
                     "pods around the cut of their volumes, with session hooks that hold a lock across it")
      ->type_name(value::k_file);
  create->add_option("--explain", f->explain,
                     "Say why resource/namespace/name (resource/name) is or is not in such a backup; writes nothing")
      ->type_name("RESOURCE/NS/NAME");
  document(create,
           {"# one namespace (as -n does for kubectl), or several with globs",
            "kbk backup create shop-nightly -n shop",
            "kbk backup create nightly --include-namespaces 'shop*,db' --exclude-resources events",
            "# the whole cluster, encrypted, kept a week",
            "kbk backup create full --encryption-key-file backup.key --ttl 168h --labels tier=prod",
            "# an application, not a namespace: what its definition selects and what that needs (kbk app)",
            "kbk backup create blog-nightly --app examples/apps/wordpress.yaml",
            "# why is this object (not) in the backup?",
            "kbk backup create x --include-namespaces shop --explain secrets/shop/db-password",
            "# volume data: every pod volume from the live file system, movers on backup nodes, capped by day",
            "kbk backup create db -n shop --default-volumes-to-fs-backup --mover-node-selector role=backup \\",
            "    --limit-upload 50MiB@08:00-20:00,500MiB",
            "# Velero's volume policy file, unchanged; or the resources only",
            "kbk backup create db -n shop --resource-policies policy.yaml",
            "kbk backup create cfg -n shop --no-volume-data",
            "# a namespace that enforces Pod Security restricted: CSI snapshots read as root in kbk's own namespace",
            "kbk backup create vault -n vault --mover-namespace kbk-movers",
            "# a database held still while its volumes are cut (pod annotations are read without --hooks)",
            "kbk backup create db -n shop --hooks examples/hooks/mariadb.yaml"},
           "-n NS backs up that namespace (as --include-namespaces NS; not both). Every list flag takes one value "
           "per occurrence (commas for more), so the backup's NAME can come anywhere. Volume data (docs/volumes.md): "
           "each claim and data-holding pod volume takes a data path in Velero's order (policy file, pod "
           "annotations, flags): snapshot-move-data (the default where the CSI driver has a VolumeSnapshotClass), "
           "fs-backup, fs-backup-workload or snapshot; helper pods are short-lived, unprivileged and labelled "
           "kbk.io/temporary=true (Ctrl-C removes them; kbk cleanup removes what a killed run left). The summary, "
           "backup describe and -o json list every volume with dataIncluded, its path and why. A volume that fails "
           "makes the backup PartiallyFailed (exit 2). A selection that matches nothing (a namespace that does not "
           "exist) is a warning of the backup; the backup still completes. Hooks (docs/hooks.md): Velero's "
           "pre/post.hook.backup.velero.io annotations, kbk's session.hook.backup.kbk.io ones and --hooks run per pod: "
           "pre hooks, sessions quiesced, that pod's volumes cut, sessions released, post hooks; a pre hook or "
           "session failing with onError Fail leaves that pod's volumes out (exit 2).");
  set_runner(create, state, [&g, f] { return run_create(g, *f); });

  auto* list = backup->add_subcommand("list", "List the backups of the storage location (all, or the ones named)");
  list->alias("get");
  auto lf = std::make_shared<ListFlags>();
  list->add_option("NAMES", lf->names, "Only these backups (a missing one exits 4)")->type_name(value::k_backup);
  list->add_option("-l,--selector", lf->selector, "Only backups whose labels (backup create --labels) match")
      ->type_name(value::k_selector);
  list->add_option("--sort-by", lf->sort_by, "Order: name, created (oldest first) or size (smallest first)")
      ->type_name("name|created|size")
      ->capture_default_str();
  document(list,
           {"kbk backup list", "kbk backup list --sort-by created -o wide", "kbk backup get nightly -o yaml",
            "kbk backup list -l tier=prod -o name",
            "# one bucket, many clusters: the backups of one",
            "kbk backup list --cluster prod-eu-1",
            "kbk backup list -o jsonpath='{range .items[?(@.phase==\"PartiallyFailed\")]}{.name}{\"\\n\"}{end}'"},
           "backup get is backup list (Velero's name). -o json prints {\"kind\": \"BackupList\", \"items\": [{\"name\", "
           "\"phase\", \"source\", \"cluster\": {\"name\", \"kubeSystemUID\"}, \"startTimestamp\", \"completionTimestamp\", "
           "\"expiration\", \"counts\": {\"items\", \"warnings\", \"errors\"}, \"encrypted\", \"bytes\", \"labels\"}]}; -o "
           "wide adds CLUSTER and LABELS (CLUSTER shows too when the backups come from more than one cluster). "
           "--cluster NAME (the global flag) lists only the backups of that cluster: its recorded name (backup "
           "create --cluster-name) or kube-system uid.");
  set_runner(list, state, [&g, lf] { return run_list(g, *lf); });

  auto* describe = backup->add_subcommand("describe", "Show a backup's selection, counts, volumes, warnings and errors");
  auto describe_name = std::make_shared<std::string>();
  auto details = std::make_shared<bool>(false);
  describe->add_option("NAME", *describe_name, "Backup name")->required()->type_name(value::k_backup);
  describe->add_flag("--details", *details, "Also list every item (and every volume)");
  auto describe_key = std::make_shared<std::string>();
  add_encryption_key_option(describe, *describe_key,
                            "Key file of an encrypted backup (without it only the plaintext summary is shown)");
  document(describe, {"kbk backup describe nightly", "kbk backup describe nightly --details",
                      "kbk backup describe nightly -o jsonpath='{range .volumes[*]}{.namespace}/{.claim}{\"\\n\"}{end}'"},
           "The Volumes section lists every PersistentVolumeClaim, PersistentVolume and pod volume the backed-up "
           "objects name, whether the backup holds its data, how (data path, size) or why not. -o json "
           "prints the backup's marker (docs/format-archive.md), with the item list under --details.");
  set_runner(describe, state, [&g, describe_name, details, describe_key] {
    return run_describe(g, *describe_name, *details, *describe_key);
  });

  auto* inspect = backup->add_subcommand("inspect", "List a backup's items or print one (--cat)");
  auto inspect_name = std::make_shared<std::string>();
  auto cat = std::make_shared<std::string>();
  inspect->add_option("NAME", *inspect_name, "Backup name")->required()->type_name(value::k_backup);
  inspect->add_option("--cat", *cat, "Print this item: resource/namespace/name or resource/name (-o yaml for YAML)")
      ->type_name("RESOURCE/NS/NAME");
  auto inspect_key = std::make_shared<std::string>();
  add_encryption_key_option(inspect, *inspect_key, "Key file of an encrypted backup");
  document(inspect, {"kbk backup inspect nightly", "kbk backup inspect nightly --cat deployments.apps/shop/web -o yaml",
                     "kbk backup inspect nightly --cat deploy/shop/web -o jsonpath='{.spec.replicas}'"});
  set_runner(inspect, state, [&g, inspect_name, cat, inspect_key] {
    return run_inspect(g, *inspect_name, *cat, *inspect_key);
  });

  auto* download = backup->add_subcommand("download", "Download a backup's tarball");
  auto download_name = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  download->add_option("NAME", *download_name, "Backup name")->required()->type_name(value::k_backup);
  // Velero spells this -o; kbk keeps -o for the output format (-o json), as every other command.
  download->add_option("-f,--file", *file, "File to write (default <name>-data.tar.gz)")->type_name(value::k_file);
  download->add_flag("--force", *force, "Overwrite an existing file");
  auto raw = std::make_shared<bool>(false);
  download->add_flag("--raw", *raw, "Write the stored bytes as they are (an encrypted backup stays encrypted; default <name>.kbk)");
  auto download_key = std::make_shared<std::string>();
  add_encryption_key_option(download, *download_key, "Key file of an encrypted backup: writes the decrypted .tar.gz");
  document(download, {"kbk backup download nightly", "kbk backup download nightly -f /tmp/nightly.tar.gz --force",
                      "tar tzf nightly-data.tar.gz | head"},
           "Velero's -o is -f here: -o is the output format of every kbk command.");
  set_runner(download, state, [&g, download_name, file, force, raw, download_key] {
    return run_download(g, *download_name, *file, *force, *raw, *download_key);
  });

  auto* del = backup->add_subcommand("delete", "Delete backups from the storage location (the marker first)");
  auto df = std::make_shared<DeleteFlags>();
  del->add_option("NAMES", df->names, "Backup names")->type_name(value::k_backup);
  del->add_flag("--all", df->all, "Every kbk backup of the location, complete or incomplete (Velero's are left alone)");
  del->add_option("-l,--selector", df->selector, "The kbk backups whose labels (backup create --labels) match")
      ->type_name(value::k_selector);
  del->add_flag("--confirm", df->confirm, "Delete without asking (required when stdin is not a terminal)");
  add_encryption_key_option(del, df->key_file, "Key file of an encrypted volume repository (to forget the backups' volume snapshots)");
  document(del, {"kbk backup delete nightly-20261101 --confirm", "kbk backup delete -l tier=test --confirm -o json",
                 "kbk backup delete --all    # asks first on a terminal"},
           "Deleting is for good: on a terminal kbk asks first, elsewhere --confirm is required (exit 3 without it). "
           "Each backup goes marker first and lock last, so an interrupted delete lists as Incomplete and the next "
           "delete or prune finishes it. The deleted backups' volume snapshots are forgotten from the location's "
           "volume repository (an encrypted one needs --encryption-key-file); their data is freed by the next kbk "
           "prune. When they cannot be forgotten (no key, the repository locked) the exit status is 2 and kbk prune "
           "forgets them later. For retention rules use kbk prune.");
  set_runner(del, state, [&g, df] { return run_delete(g, *df); });

  auto* logs = backup->add_subcommand("logs", "Print a backup's log (-f waits for a running backup's)");
  auto lgf = std::make_shared<LogsFlags>();
  logs->add_option("NAME", lgf->name, "Backup name")->required()->type_name(value::k_backup);
  logs->add_flag("-f,--follow", lgf->follow,
                 "Wait for a running backup to end and print its log (kbk uploads the log at the end)");
  add_duration_option(logs, "--timeout", lgf->timeout, "With -f: stop waiting after this long (exit 4; default no limit)");
  add_encryption_key_option(logs, lgf->key_file, "Key file of an encrypted backup");
  document(logs, {"kbk backup logs nightly", "kbk backup logs nightly | grep -E ' (ERROR|WARN) '",
                  "kbk backup logs nightly -f --timeout 2h"},
           "Each line carries an RFC 3339 timestamp and a level (ERROR, WARN, INFO). A backup uploads its log when "
           "it ends, completed or failed: -f polls the location every 2 seconds until the log is there (a backup "
           "whose writer ran on this machine and is gone ends the wait with exit 1). For the live lines of a backup "
           "you start, pass --log-file to backup create.");
  set_runner(logs, state, [&g, lgf] { return run_logs(g, *lgf); });
  auto ex = std::make_shared<std::array<std::string, 4>>();  // name, volume, target, key file
  CLI::App* extract = backup->add_subcommand(
      "extract", "Restore one volume's files from a backup into a local folder, without a cluster (holes, hard links, "
                 "modes and times kept; owners as root)");
  extract->add_option("NAME", (*ex)[0], "Backup name")->required()->type_name(value::k_backup);
  extract->add_option("--volume", (*ex)[1], "The volume: NAMESPACE/CLAIM, or NAMESPACE/POD/VOLUME for a pod volume")->required()->type_name("NS/CLAIM");
  extract->add_option("--target", (*ex)[2], "Folder to write (created when missing)")->required()->type_name(value::k_dir);
  add_encryption_key_option(extract, (*ex)[3], "Key file of an encrypted backup");
  document(extract,
           {"kbk backup extract nightly --volume shop/data-db-0 --target ./db-0",
            "kbk backup extract nightly --volume shop/web-6d9f/cache --target /tmp/cache -o json"},
           "Reads the volume's repository snapshot from the location (no cluster): files, folders, symlinks, hard "
           "links, holes, modes and times as backed up; owners when kbk runs as root. Only volumes whose data was "
           "moved into the repository (snapshot-move-data, fs-backup) can be extracted; a snapshot-only volume, one "
           "without data or one not in the backup exits 4.");
  set_runner(extract, state, [&g, ex] { return run_extract(g, (*ex)[0], (*ex)[1], (*ex)[2], (*ex)[3]); });


  auto* verify = backup->add_subcommand("verify", "Check every item against the manifest's checksums");
  auto verify_name = std::make_shared<std::string>();
  verify->add_option("NAME", *verify_name, "Backup name")->required()->type_name(value::k_backup);
  auto verify_key = std::make_shared<std::string>();
  add_encryption_key_option(verify, *verify_key, "Key file of an encrypted backup");
  document(verify, {"kbk backup verify nightly", "kbk backup verify nightly -o json"},
           "Exit 0 when every item matches, 1 with one line naming the first problem (the report lists them all).");
  set_runner(verify, state, [&g, verify_name, verify_key] { return run_verify(g, *verify_name, *verify_key); });

  // restic's `key passwd` / `key add` (--new-password-file), with kbk's key file flags.
  auto* rekey = backup->add_subcommand(
      "rekey", "Rotate the encryption key of encrypted backups: wrap their data keys for a new key (no data is rewritten)");
  auto rf = std::make_shared<RekeyFlags>();
  rekey->add_option("NAMES", rf->names, "Backup names")->type_name(value::k_backup);
  rekey->add_flag("--all", rf->all, "Every complete encrypted backup of the location (plain ones are skipped with a note)");
  add_encryption_key_option(rekey, rf->key_file, "Key or passphrase file that opens the backups now (required)");
  rekey->add_option("--new-encryption-key-file", rf->new_key_file,
                    "Key or passphrase file to rotate to (same rules as --encryption-key-file; required)")
      ->type_name(value::k_file);
  rekey->add_flag("--keep-old", rf->keep_old, "Keep the old key's key objects: both keys open the backups");
  document(rekey, {"kbk backup rekey nightly --encryption-key-file old.key --new-encryption-key-file new.key",
                   "kbk backup rekey --all --encryption-key-file old.key --new-encryption-key-file new.key -o json"});
  set_runner(rekey, state, [&g, rf] { return run_rekey(g, *rf); });
}

}  // namespace kbk::cli
