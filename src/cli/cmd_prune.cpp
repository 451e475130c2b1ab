// kbk prune: flags, then archive::plan_prune (restic's retention rules per --group-by, incomplete backups by age)
// and archive::execute_prune (marker first, lock last; stale multipart uploads aborted), then the plan printed.
// Idempotent and safe to interrupt: a half-deleted backup has lost its marker first, so it never lists as
// complete, and keeps its lock to the end, so it lists as Incomplete and the next prune finishes it.
#include <cctype>
#include <cstdio>
#include <map>
#include <set>

#include "commands.hpp"
#include "keep_flags.hpp"
#include "key_file.hpp"
#include <kbk/archive/location.hpp>
#include <kbk/archive/prune.hpp>
#include <kbk/json/json.hpp>
#include <kbk/output/output.hpp>
#include <kbk/repo/operations.hpp>
#include <kbk/repo/repository.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/storage/retention.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::cli {
namespace {

namespace retention = storage::retention;

struct PruneOptions {
  KeepFlags keep;
  bool expired = false;
  bool dry_run = false;
  std::string group_by = "none";
  double incomplete_age = 24 * 3600;
  std::string max_repack_size;
  std::string key_file;
};

// The volume repository's part of prune (docs/format-repository.md section 13): snapshots of removed backups go,
// blobs no kept snapshot reaches go, mostly-garbage packs are repacked. Returns the JSON summary (or null when the
// location has no repository) and sets `code` on failure.
json::Value prune_repository(storage::Backend& b, const PruneOptions& o, const std::set<std::string>& existing,
                             const std::set<std::string>& removed, json::Allocator& a, int& code, std::string& text) {
  json::Value out(rapidjson::kNullType);
  auto exists = repo::repository_exists(b);
  if (!exists) {
    log::error("volume repository: " + exists.error().message);
    code = static_cast<int>(ExitCode::partial);
    return out;
  }
  if (!*exists) return out;
  uint64_t max_repack = UINT64_MAX;
  if (!o.max_repack_size.empty()) {
    auto r = storage::parse_rate(o.max_repack_size);
    if (!r) throw Fatal(ExitCode::usage, "--max-repack-size " + o.max_repack_size + ": expected a size like 500MiB or 2GiB");
    max_repack = *r;
  }
  auto key = load_encryption_key(o.key_file);
  repo::OpenOptions oo;
  oo.key = key ? &*key : nullptr;
  auto r = repo::Repository::open(b, oo);
  if (!r) {
    log::error("volume repository not pruned: " + r.error().message);
    code = static_cast<int>(r.error().is(Errc::config) ? ExitCode::usage : ExitCode::partial);
    return out;
  }
  std::unique_ptr<repo::Lock> lock;
  if (!o.dry_run) {
    auto l = repo::Lock::acquire(b, true);
    if (!l) {
      log::error("volume repository not pruned: " + l.error().message);
      code = static_cast<int>(ExitCode::partial);
      return out;
    }
    lock = std::move(*l);
  }
  auto plan = repo::plan_repo_prune(**r, [&](const std::string& name) {
    return existing.count(name) && !removed.count(name);
  }, max_repack);
  if (!plan) {
    log::error("volume repository not pruned: " + plan.error().message);
    code = static_cast<int>(ExitCode::partial);
    return out;
  }
  repo::RepoPruneResult res;
  if (!o.dry_run) {
    auto e = repo::execute_repo_prune(**r, *plan);
    if (!e) {
      log::error("volume repository prune stopped: " + e.error().message + " (safe to run again)");
      code = static_cast<int>(ExitCode::partial);
    } else {
      res = *e;
    }
  }
  out.SetObject();
  out.AddMember("snapshotsKept", static_cast<uint64_t>(plan->kept.size()), a);
  out.AddMember("snapshotsRemoved", static_cast<uint64_t>(plan->forgotten.size()), a);
  out.AddMember("blobsUsed", plan->used_blobs, a);
  out.AddMember("blobsUnused", plan->unused_blobs, a);
  out.AddMember("packsKept", static_cast<uint64_t>(plan->keep_packs.size()), a);
  out.AddMember("packsRemoved", static_cast<uint64_t>(plan->drop_packs.size()), a);
  out.AddMember("packsRepacked", static_cast<uint64_t>(plan->repack_packs.size()), a);
  out.AddMember("orphanPacks", static_cast<uint64_t>(plan->orphan_packs.size()), a);
  out.AddMember("bytesRepacked", plan->repack_bytes, a);
  out.AddMember("bytesFreed", plan->drop_bytes + plan->repack_reclaim + plan->orphan_bytes, a);
  out.AddMember("packsWritten", res.packs_written, a);
  const char* verb = o.dry_run ? "would remove" : "removed";
  text = std::string("volume repository: ") + verb + " " + std::to_string(plan->forgotten.size()) + " snapshot(s), " +
         std::to_string(plan->unused_blobs) + " unused blob(s); packs: " + std::to_string(plan->drop_packs.size()) +
         " deleted, " + std::to_string(plan->repack_packs.size()) + " repacked (" + util::human_bytes(plan->repack_bytes) +
         " copied), " + std::to_string(plan->orphan_packs.size()) + " orphaned; " +
         util::human_bytes(plan->drop_bytes + plan->repack_reclaim + plan->orphan_bytes) + (o.dry_run ? " to free\n" : " freed\n");
  return out;
}

retention::Policy parse_policy(const PruneOptions& o) {
  retention::Policy p = keep_policy(o.keep, "backup");
  p.expired = o.expired;
  if (p.empty())
    throw Fatal(ExitCode::usage, "no retention rule: pass --keep-last, --keep-hourly, --keep-daily, --keep-weekly, "
                                 "--keep-monthly, --keep-yearly, --keep-within or --expired");
  return p;
}

json::Value strings(const std::vector<std::string>& v, json::Allocator& a) {
  json::Value out(rapidjson::kArrayType);
  for (const auto& s : v) out.PushBack(json::make_string(s, a), a);
  return out;
}

std::string backend_cluster_hint(const std::string& cluster) {
  return "cluster " + cluster + " (--cluster matches backup create's --cluster-name or the kube-system uid)";
}

int run(const GlobalOptions& g, const PruneOptions& o) {
  const output::Format format = output_format(g, {output::Format::json});
  const retention::Policy policy = parse_policy(o);
  const bool by_cluster = o.group_by == "cluster";
  const auto age = std::chrono::seconds(static_cast<int64_t>(o.incomplete_age));
  std::string age_text = util::format_duration(o.incomplete_age);  // "24h0m0s" reads as "24h"
  for (const char* zero : {"0s", "0m"})
    if (age_text.size() > 2 && util::ends_with(age_text, zero) && !std::isdigit(static_cast<unsigned char>(age_text[age_text.size() - 3])))
      age_text.resize(age_text.size() - 2);

  auto opened = open_storage(g);
  storage::Backend& b = *opened;
  auto listing = archive::list_backups(b);
  if (!listing) {
    log::error(listing.error().message);
    return static_cast<int>(exit_code_for(listing.error()));
  }
  // --cluster NAME (the global flag): only that cluster's backups are considered (its recorded name or kube-system
  // uid), so each cluster of a fleet prunes its own backups in a shared bucket. The volume repository below still
  // sees every backup of the location.
  std::vector<archive::BackupListing> considered;
  std::map<std::string, std::string> cluster_names;  // prune group (uid, else server) -> recorded name
  for (const auto& l : *listing) {
    if (!l.cluster_name.empty()) cluster_names[l.cluster] = l.cluster_name;
    if (!g.kube.cluster.empty() && l.cluster_name != g.kube.cluster && l.kube_system_uid != g.kube.cluster) continue;
    considered.push_back(l);
  }
  if (!g.kube.cluster.empty() && considered.empty())
    log::warning("no backup of " + backend_cluster_hint(g.kube.cluster) + " in " + b.display_url());
  // A group is shown by its recorded name when no other group has that name (two clusters given one name by
  // mistake are shown by uid), else by its key.
  std::map<std::string, int> name_uses;
  for (const auto& [group, name] : cluster_names) ++name_uses[name];
  auto group_label = [&](const std::string& group) {
    auto f = cluster_names.find(group);
    return f == cluster_names.end() || name_uses[f->second] > 1 ? group : f->second;
  };
  const archive::PrunePlan plan =
      archive::plan_prune(considered, policy, by_cluster ? archive::GroupBy::cluster : archive::GroupBy::none, age,
                          std::chrono::system_clock::now());
  for (const auto& s : plan.skipped)
    if (s.reason == "no start time")
      log::warning("backup " + s.name + " has no start time in its kbk-manifest.json; prune leaves it alone");
  archive::PruneResult result;
  if (!o.dry_run) result = archive::execute_prune(b, plan, age);
  std::set<std::string> failed;
  for (const auto& f : result.failures) {
    log::error(f.name.empty() ? f.error.message : "deleting backup " + f.name + ": " + f.error.message);
    if (!f.name.empty()) failed.insert(f.name);
  }

  // The volume repository: snapshots of backups this prune removed (or that no longer exist) go, with their blobs.
  std::set<std::string> existing, removed_names;
  for (const auto& l : *listing) existing.insert(l.name);
  for (const auto& d : plan.decisions)
    if (!d.keep) removed_names.insert(d.item.name);
  for (const auto& i : plan.incomplete)
    if (i.remove) removed_names.insert(i.name);
  int repo_code = 0;
  std::string repo_text;
  json::Document repo_doc;
  json::Value repo_summary = prune_repository(b, o, existing, removed_names, repo_doc.GetAllocator(), repo_code, repo_text);

  std::set<std::string> encrypted;  // shown, not needed: prune reads only the plaintext summary of encrypted backups
  for (const auto& l : *listing)
    if (l.encrypted) encrypted.insert(l.name);
  const char* gone_word = o.dry_run ? "would remove" : "removed";
  if (format.structured()) {
    json::Document doc;
    doc.SetObject();
    auto& a = doc.GetAllocator();
    json::Value keep(rapidjson::kArrayType), gone(rapidjson::kArrayType), inc_gone(rapidjson::kArrayType),
        inc_keep(rapidjson::kArrayType), skip(rapidjson::kArrayType), failures(rapidjson::kArrayType);
    for (const auto& d : plan.decisions) {
      json::Value v(rapidjson::kObjectType);
      v.AddMember("name", json::make_string(d.item.name, a), a);
      if (by_cluster) {
        v.AddMember("cluster", json::make_string(d.item.group, a), a);
        auto n = cluster_names.find(d.item.group);
        v.AddMember("clusterName", json::make_string(n == cluster_names.end() ? "" : n->second, a), a);
      }
      v.AddMember("startTimestamp", json::make_string(util::format_rfc3339(d.item.started), a), a);
      if (d.item.expires) v.AddMember("expiration", json::make_string(util::format_rfc3339(*d.item.expires), a), a);
      v.AddMember("encrypted", encrypted.count(d.item.name) > 0, a);
      v.AddMember("reasons", strings(d.reasons, a), a);
      (d.keep ? keep : gone).PushBack(v, a);
    }
    for (const auto& i : plan.incomplete) {
      json::Value v(rapidjson::kObjectType);
      v.AddMember("name", json::make_string(i.name, a), a);
      v.AddMember("startTimestamp", json::make_string(i.started, a), a);
      (i.remove ? inc_gone : inc_keep).PushBack(v, a);
    }
    for (const auto& s : plan.skipped) {
      json::Value v(rapidjson::kObjectType);
      v.AddMember("name", json::make_string(s.name, a), a);
      v.AddMember("reason", json::make_string(s.reason, a), a);
      skip.PushBack(v, a);
    }
    for (const auto& f : result.failures) {
      json::Value v(rapidjson::kObjectType);
      if (!f.name.empty()) v.AddMember("name", json::make_string(f.name, a), a);
      v.AddMember("error", json::make_string(f.error.message, a), a);
      failures.PushBack(v, a);
    }
    doc.AddMember("dryRun", o.dry_run, a);
    doc.AddMember("groupBy", json::make_string(o.group_by, a), a);
    doc.AddMember("kept", keep, a);
    doc.AddMember("removed", gone, a);
    doc.AddMember("incompleteRemoved", inc_gone, a);
    doc.AddMember("incompleteKept", inc_keep, a);
    doc.AddMember("skipped", skip, a);
    doc.AddMember("uploadsAborted", result.uploads_aborted, a);
    doc.AddMember("failed", failures, a);
    json::Value rs(repo_summary, a);
    doc.AddMember("repository", rs, a);
    output::print(doc, format);
  } else {
    std::vector<std::string> headers{"BACKUP", "STARTED", "ENCRYPTED", "ACTION", "REASONS"};
    if (by_cluster) headers.insert(headers.begin(), "CLUSTER");
    output::Table table(headers);
    auto row = [&](const std::string& group, std::vector<std::string> r) {
      if (by_cluster) r.insert(r.begin(), group.empty() ? "-" : group_label(group));
      table.add_row(std::move(r));
    };
    auto action = [&](const std::string& name) {
      return failed.count(name) ? std::string("FAILED to remove") : std::string(gone_word);
    };
    size_t kept_n = 0, gone_n = 0, inc_gone_n = 0;
    for (const auto& d : plan.decisions) {
      (d.keep ? kept_n : gone_n)++;
      row(d.item.group, {d.item.name, util::format_rfc3339(d.item.started), encrypted.count(d.item.name) ? "yes" : "no",
                         d.keep ? "keep" : action(d.item.name), util::join(d.reasons, ", ")});
    }
    for (const auto& i : plan.incomplete) {
      if (i.remove) ++inc_gone_n;
      row("", {i.name, i.started, "-", i.remove ? action(i.name) : std::string("keep"),
               i.remove ? "incomplete, started over " + age_text + " ago"
                        : "incomplete, started under " + age_text + " ago (may be in progress)"});
    }
    if (!table.empty()) std::fputs(table.render().c_str(), stdout);
    std::printf("%s%s %zu backup(s) and %zu incomplete backup(s), kept %zu", o.dry_run ? "dry run: " : "", gone_word,
                gone_n, inc_gone_n, kept_n);
    if (!plan.skipped.empty()) std::printf(", left %zu alone (Velero's or without start time)", plan.skipped.size());
    if (o.dry_run) std::printf("; nothing deleted, no upload aborted\n");
    else std::printf("; aborted %llu stale upload(s)\n", static_cast<unsigned long long>(result.uploads_aborted));
    std::fputs(repo_text.c_str(), stdout);
  }
  if (repo_code == static_cast<int>(ExitCode::usage)) return repo_code;
  // Exit 1 when every deletion failed; 2 when some deletion or the upload cleanup failed and the rest was done.
  if (result.failures.empty()) return repo_code;
  return static_cast<int>(!failed.empty() && result.removed.empty() ? ExitCode::failed : ExitCode::partial);
}

}  // namespace

void register_prune(CLI::App& app, GlobalOptions& g, RunState& state) {
  static PruneOptions o;
  CLI::App* cmd = app.add_subcommand(
      "prune",
      "Delete backups by retention rules (restic's), incomplete backups and stale multipart uploads; no rule exits 3");
  add_keep_flags(cmd, o.keep, "backup",
                 "Keep every backup started within this span of the newest (restic's units: 1y6m, 7d, 36h; m is months)");
  cmd->add_flag("--expired", o.expired, "Delete backups past their expiration (--ttl) unless a keep rule keeps them");
  cmd->add_option("--group-by", o.group_by, "none: one group; cluster: one group per source cluster")
      ->check(CLI::IsMember({"none", "cluster"}))
      ->type_name("cluster|none")
      ->capture_default_str();
  cmd->add_flag("--dry-run", o.dry_run, "Print the plan; delete nothing");
  add_duration_option(cmd, "--incomplete-older-than", o.incomplete_age,
                      "Remove incomplete backups and abort multipart uploads started longer ago than this");
  cmd->add_option("--max-repack-size", o.max_repack_size,
                  "Volume repository: copy at most this much still-used data out of mostly-unused packs")
      ->type_name("SIZE");
  add_encryption_key_option(cmd, o.key_file, "Key file of an encrypted volume repository (needed to reclaim it)");
  set_runner(cmd, state, [&g] { return run(g, o); });
  document(cmd,
           {"kbk prune --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --dry-run",
            "kbk prune --keep-last 10 --expired --storage s3://corp-backups/prod",
            "kbk prune --keep-within 30d --group-by cluster -o json",
            "# in each cluster's CronJob: only this cluster's backups of the shared bucket",
            "kbk prune --cluster prod-eu-1 --keep-daily 14 --storage s3://fleet-backups"},
           "Rules apply to all complete kbk backups of the location as one group (--group-by cluster: one group per "
           "source cluster, by kube-system uid; --cluster NAME: only that cluster's backups, by recorded name or "
           "uid), newest first; a backup any keep rule keeps stays. Calendar buckets are UTC, weeks ISO "
           "weeks. When a bucket rule has counts left at the oldest backup, the oldest is kept too (as restic). "
           "--keep-within takes restic's units (y, m for months, d, h), not Go's. Deletes without prompting, marker "
           "first, so a half-deleted backup never lists as complete; --dry-run previews. Velero's backups are left "
           "alone. Then the volume repository (kbk repo): snapshots of removed backups are dropped (snapshots of kept "
           "backups and those of no backup stay), unused blobs deleted, packs over 20% unused repacked up to "
           "--max-repack-size; a new index is written before any pack is deleted.");
}

}  // namespace kbk::cli
