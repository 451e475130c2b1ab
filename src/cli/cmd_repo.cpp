// kbk repo: the volume-data repository of a location (docs/format-repository.md). Subcommands backup, snapshots,
// ls, restore, diff, check, stats, forget, unlock; each opens the repository, takes its lock (shared; forget
// exclusive; unlock takes none) and calls one function of include/kbk/repo/operations.hpp.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <malloc.h>
#include <fcntl.h>
#include <unistd.h>

#include <set>

#include "commands.hpp"
#include "keep_flags.hpp"
#include "key_file.hpp"
#include <kbk/json/json.hpp>
#include <kbk/output/output.hpp>
#include <kbk/repo/operations.hpp>
#include <kbk/repo/repository.hpp>
#include <kbk/storage/retention.hpp>
#include <kbk/storage/wrappers.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::cli {
namespace {

struct RepoOptions {
  std::string key_file;
  std::string path;
  bool tar = false;
  std::vector<std::string> tags;
  std::string parent;
  std::string compression;
  std::string snapshot, snapshot2, ls_path;
  std::string target;
  bool read_data = false;
  std::string subset;
  bool remove_all = false;
  // forget
  std::vector<std::string> snapshots;
  KeepFlags keep;
  std::string host, only_path, group_by = "host,path";
  bool dry_run = false, prune = false;
  std::string max_repack_size;
};

// Chunks and packs are allocated and freed by the thousand; with glibc's default the larger ones are fresh mmaps
// whose pages fault in every time (measured: 7% of a backup's time on the development VM). Keep them in the heap.
void tune_malloc() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  mallopt(M_ARENA_MAX, 2);
}

int fail(const Error& e) {
  log::error(e.message);
  return static_cast<int>(exit_code_for(e));
}

output::Format format_of(const GlobalOptions& g) { return output_format(g, {output::Format::json}); }

std::unique_ptr<util::ProgressSink> progress_of(const GlobalOptions& g) {
  auto mode = output::parse_progress_mode(g.progress);
  if (!mode) throw Fatal(ExitCode::usage, mode.error().message);
  return output::make_progress(*mode);
}

struct Opened {
  std::unique_ptr<storage::Backend> backend;
  std::optional<crypto::UserKey> key;
  std::unique_ptr<repo::Repository> repo;
  std::unique_ptr<repo::Lock> lock;
};

// Opens (or, for backup, creates) the repository and takes a shared lock. Throws Fatal for configuration errors;
// returns nullopt after logging other failures (exit code in `code`).
std::optional<Opened> open_repo(const GlobalOptions& g, const RepoOptions& o, bool create, int& code,
                                compress::Setting compression = {}, bool exclusive = false) {
  Opened r;
  r.backend = open_storage(g, create);
  r.key = load_encryption_key(o.key_file);
  repo::OpenOptions oo;
  oo.key = r.key ? &*r.key : nullptr;
  oo.create = create;
  oo.compression = compression;
  auto opened = repo::Repository::open(*r.backend, oo);
  if (!opened) {
    if (opened.error().is(Errc::config)) throw Fatal(ExitCode::usage, opened.error().message);
    code = fail(opened.error());
    return std::nullopt;
  }
  r.repo = std::move(*opened);
  auto lock = repo::Lock::acquire(*r.backend, exclusive);
  if (!lock) {
    code = fail(lock.error());
    return std::nullopt;
  }
  r.lock = std::move(*lock);
  auto idx = r.repo->load_index();
  if (!idx) {
    code = fail(idx.error());
    return std::nullopt;
  }
  return r;
}

std::string short_id(const repo::Id& id) { return repo::to_hex(id).substr(0, 8); }

json::Value snapshot_json(const repo::Snapshot& s, json::Allocator& a) {
  json::Value v(rapidjson::kObjectType);
  v.AddMember("id", json::make_string(repo::to_hex(s.id), a), a);
  v.AddMember("time", json::make_string(s.time, a), a);
  v.AddMember("host", json::make_string(s.host, a), a);
  v.AddMember("source", json::make_string(s.source, a), a);
  v.AddMember("path", json::make_string(s.path, a), a);
  v.AddMember("tree", json::make_string(repo::to_hex(s.tree), a), a);
  if (s.parent) v.AddMember("parent", json::make_string(repo::to_hex(*s.parent), a), a);
  json::Value tags(rapidjson::kObjectType);
  for (const auto& [k, val] : s.tags) tags.AddMember(json::make_string(k, a), json::make_string(val, a), a);
  v.AddMember("tags", tags, a);
  json::Value b(rapidjson::kNullType);
  if (s.backup) b = json::make_string(*s.backup, a);
  v.AddMember("backup", b, a);
  v.AddMember("files", s.summary.files, a);
  v.AddMember("bytesTotal", s.summary.bytes_total, a);
  v.AddMember("bytesRead", s.summary.bytes_read, a);
  v.AddMember("bytesNew", s.summary.bytes_new, a);
  v.AddMember("bytesStored", s.summary.bytes_stored, a);
  return v;
}

std::optional<repo::Snapshot> resolve(repo::Repository& r, const std::string& spec, int& code) {
  auto all = r.list_snapshots();
  if (!all) {
    code = fail(all.error());
    return std::nullopt;
  }
  auto s = repo::Repository::find_snapshot(*all, spec);
  if (!s) {
    if (s.error().is(Errc::config)) throw Fatal(ExitCode::usage, s.error().message);
    log::error(s.error().message);
    code = static_cast<int>(ExitCode::precondition);
    return std::nullopt;
  }
  return *s;
}

int run_backup(const GlobalOptions& g, const RepoOptions& o) {
  const auto format = format_of(g);
  tune_malloc();
  compress::Setting comp;
  if (!o.compression.empty()) {
    auto c = compress::parse_setting(o.compression);
    if (!c) throw Fatal(ExitCode::usage, "--" + c.error().message);
    comp = *c;
  }
  repo::BackupOptions bo;
  for (const auto& t : o.tags) {
    auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0) throw Fatal(ExitCode::usage, "--tag " + t + ": expected KEY=VALUE");
    bo.tags.emplace_back(t.substr(0, eq), t.substr(eq + 1));
  }
  const bool from_stdin = o.path == "-";
  if (from_stdin && !o.tar) throw Fatal(ExitCode::usage, "reading - (stdin) needs --tar");
  int code = 0;
  auto r = open_repo(g, o, true, code, comp);
  if (!r) return code;
  if (o.compression.empty()) comp = r->repo->config().compression;
  bo.compression = comp;
  auto all = r->repo->list_snapshots();
  if (!all) return fail(all.error());
  if (!o.parent.empty()) {
    auto p = repo::Repository::find_snapshot(*all, o.parent);
    if (!p) {
      if (p.error().is(Errc::config)) throw Fatal(ExitCode::usage, p.error().message);
      log::error("--parent: " + p.error().message);
      return static_cast<int>(ExitCode::precondition);
    }
    bo.parent = *p;
  } else if (!o.tar) {
    // restic's default parent: the newest snapshot of the same path and host.
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    for (auto it = all->rbegin(); it != all->rend(); ++it)
      if (it->source == "folder" && it->path == o.path && it->host == host) {
        bo.parent = *it;
        break;
      }
  }
  auto progress = progress_of(g);
  bo.progress = progress.get();
  Result<repo::BackupResult> res = from_stdin ? repo::backup_tar(*r->repo, 0, "stdin", bo)
                                   : o.tar    ? Result<repo::BackupResult>(unexpected(Errc::config, ""))
                                              : repo::backup_folder(*r->repo, o.path, bo);
  if (o.tar && !from_stdin) {
    int fd = ::open(o.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Fatal(ExitCode::usage, o.path + ": cannot open the tar file");
    res = repo::backup_tar(*r->repo, fd, o.path, bo);
    ::close(fd);
  }
  if (!res) {
    if (res.error().is(Errc::config)) throw Fatal(ExitCode::usage, res.error().message);
    return fail(res.error());
  }
  for (const auto& w : res->warnings) log::warning(w);
  const auto& s = res->snapshot;
  if (format.structured()) {
    json::Document d;
    d.SetObject();
    auto& a = d.GetAllocator();
    d.AddMember("id", json::make_string(repo::to_hex(s.id), a), a);
    d.AddMember("parent", s.parent ? json::make_string(repo::to_hex(*s.parent), a) : json::Value(), a);
    d.AddMember("files", s.summary.files, a);
    d.AddMember("filesUnchanged", s.summary.files_unchanged, a);
    d.AddMember("dirs", s.summary.dirs, a);
    d.AddMember("bytesRead", s.summary.bytes_read, a);
    d.AddMember("bytesTotal", s.summary.bytes_total, a);
    d.AddMember("bytesNew", s.summary.bytes_new, a);
    d.AddMember("bytesStored", s.summary.bytes_stored, a);
    d.AddMember("blobsNew", s.summary.blobs_new, a);
    d.AddMember("seconds", util::round_seconds(s.summary.seconds), a);
    d.AddMember("warnings", static_cast<uint64_t>(res->warnings.size()), a);
    d.AddMember("repositoryCreated", r->repo->created(), a);
    output::print(d, format);
  } else {
    std::printf("snapshot %s saved%s\n", repo::to_hex(s.id).c_str(),
                r->repo->created() ? " (new repository)" : "");
    std::printf("files: %llu (%llu unchanged), read %s, new %s, stored %s, in %s\n",
                static_cast<unsigned long long>(s.summary.files),
                static_cast<unsigned long long>(s.summary.files_unchanged), util::human_bytes(s.summary.bytes_read).c_str(),
                util::human_bytes(s.summary.bytes_new).c_str(), util::human_bytes(s.summary.bytes_stored).c_str(),
                util::human_duration(s.summary.seconds).c_str());
  }
  return res->warnings.empty() ? 0 : static_cast<int>(ExitCode::partial);
}

int run_snapshots(const GlobalOptions& g, const RepoOptions& o) {
  const auto format = format_of(g);
  int code = 0;
  auto r = open_repo(g, o, false, code);
  if (!r) return code;
  auto all = r->repo->list_snapshots();
  if (!all) return fail(all.error());
  if (format.structured()) {
    json::Document d;
    d.SetArray();
    for (const auto& s : *all) d.PushBack(snapshot_json(s, d.GetAllocator()), d.GetAllocator());
    output::print(d, format);
    return 0;
  }
  output::Table t({"ID", "TIME", "HOST", "SOURCE", "PATH", "FILES", "SIZE", "TAGS"});
  for (const auto& s : *all) {
    std::vector<std::string> tags;
    for (const auto& [k, v] : s.tags) tags.push_back(k + "=" + v);
    t.add_row({short_id(s.id), s.time, s.host, s.source, s.path, std::to_string(s.summary.files),
               util::human_bytes(s.summary.bytes_total), util::join(tags, ",")});
  }
  std::fputs(t.render().c_str(), stdout);
  std::printf("%zu snapshot(s)\n", all->size());
  return 0;
}

std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

int run_ls(const GlobalOptions& g, const RepoOptions& o) {
  const auto format = format_of(g);
  int code = 0;
  auto r = open_repo(g, o, false, code);
  if (!r) return code;
  auto s = resolve(*r->repo, o.snapshot, code);
  if (!s) return code;
  repo::Id tree = s->tree;
  std::string prefix;
  std::optional<repo::Node> single;
  if (!o.ls_path.empty() && o.ls_path != "/") {
    std::string p = o.ls_path;
    while (!p.empty() && p.front() == '/') p.erase(0, 1);
    while (!p.empty() && p.back() == '/') p.pop_back();
    auto n = repo::find_path(*r->repo, *s, p);
    if (!n) return fail(n.error());
    if (!*n) {
      log::error("snapshot " + short_id(s->id) + " has no " + o.ls_path);
      return static_cast<int>(ExitCode::precondition);
    }
    if ((*n)->type == repo::NodeType::dir) tree = *(*n)->subtree;
    else single = **n;
    prefix = p;
  }
  json::Document d;
  d.SetArray();
  auto& a = d.GetAllocator();
  auto emit = [&](const std::string& path, const repo::Node& n) -> Result<void> {
    if (format.structured()) {
      json::Value v(rapidjson::kObjectType);
      v.AddMember("path", json::make_string("/" + path, a), a);
      v.AddMember("type", json::make_string(repo::node_type_name(n.type), a), a);
      v.AddMember("mode", n.mode, a);
      v.AddMember("uid", n.uid, a);
      v.AddMember("gid", n.gid, a);
      v.AddMember("size", n.size, a);
      v.AddMember("mtimeUnixNano", n.mtime_ns, a);
      if (n.type == repo::NodeType::symlink) v.AddMember("linkTarget", json::make_string(n.link_target, a), a);
      d.PushBack(v, a);
    } else {
      char mode[16];
      std::snprintf(mode, sizeof mode, "%04o", n.mode);
      std::printf("%-8s %s %5u %5u %12llu  /%s%s\n", repo::node_type_name(n.type), mode, n.uid, n.gid,
                  static_cast<unsigned long long>(n.size), printable(path).c_str(),
                  n.type == repo::NodeType::symlink ? (" -> " + printable(n.link_target)).c_str() : "");
    }
    return {};
  };
  Result<void> w = single ? emit(prefix, *single) : repo::walk(*r->repo, tree, prefix, emit);
  if (!w) return fail(w.error());
  if (format.structured()) output::print(d, format);
  return 0;
}

int run_restore(const GlobalOptions& g, const RepoOptions& o) {
  const auto format = format_of(g);
  tune_malloc();
  if (o.target.empty()) throw Fatal(ExitCode::usage, "--target DIR|- is required");
  int code = 0;
  auto r = open_repo(g, o, false, code);
  if (!r) return code;
  auto s = resolve(*r->repo, o.snapshot, code);
  if (!s) return code;
  repo::RestoreOptions ro;
  ro.owners = ::geteuid() == 0;
  auto progress = progress_of(g);
  ro.progress = progress.get();
  Result<repo::RestoreResult> res = o.target == "-" ? repo::restore_to_tar(*r->repo, *s, 1, ro)
                                                    : repo::restore_to_folder(*r->repo, *s, o.target, ro);
  if (!res) {
    if (res.error().is(Errc::config)) throw Fatal(ExitCode::usage, res.error().message);
    return fail(res.error());
  }
  for (const auto& w : res->warnings) log::warning(w);
  if (o.target == "-") return res->warnings.empty() ? 0 : 2;
  if (format.structured()) {
    json::Document d;
    d.SetObject();
    auto& a = d.GetAllocator();
    d.AddMember("snapshot", json::make_string(repo::to_hex(s->id), a), a);
    d.AddMember("target", json::make_string(o.target, a), a);
    d.AddMember("files", res->files, a);
    d.AddMember("dirs", res->dirs, a);
    d.AddMember("bytes", res->bytes, a);
    d.AddMember("warnings", static_cast<uint64_t>(res->warnings.size()), a);
    output::print(d, format);
  } else {
    std::printf("restored snapshot %s to %s: %llu files, %llu folders, %s\n", short_id(s->id).c_str(), o.target.c_str(),
                static_cast<unsigned long long>(res->files), static_cast<unsigned long long>(res->dirs),
                util::human_bytes(res->bytes).c_str());
  }
  return res->warnings.empty() ? 0 : static_cast<int>(ExitCode::partial);
}

int run_diff(const GlobalOptions& g, const RepoOptions& o) {
  const auto format = format_of(g);
  int code = 0;
  auto r = open_repo(g, o, false, code);
  if (!r) return code;
  auto a = resolve(*r->repo, o.snapshot, code);
  if (!a) return code;
  auto b = resolve(*r->repo, o.snapshot2, code);
  if (!b) return code;
  auto d = repo::diff(*r->repo, *a, *b);
  if (!d) return fail(d.error());
  if (format.structured()) {
    json::Document doc;
    doc.SetArray();
    auto& al = doc.GetAllocator();
    for (const auto& e : *d) {
      json::Value v(rapidjson::kObjectType);
      v.AddMember("change", json::make_string(std::string(1, e.change), al), al);
      v.AddMember("path", json::make_string("/" + e.path, al), al);
      doc.PushBack(v, al);
    }
    output::print(doc, format);
  } else {
    for (const auto& e : *d) std::printf("%c    /%s\n", e.change, printable(e.path).c_str());
    std::printf("%zu change(s) from %s to %s\n", d->size(), short_id(a->id).c_str(), short_id(b->id).c_str());
  }
  return 0;
}

int run_stats(const GlobalOptions& g, const RepoOptions& o) {
  const auto format = format_of(g);
  int code = 0;
  auto r = open_repo(g, o, false, code);
  if (!r) return code;
  auto st = repo::stats(*r->repo);
  if (!st) return fail(st.error());
  const double dedup = st->raw_bytes ? double(st->logical_bytes) / double(st->raw_bytes) : 0;
  const double comp = st->stored_bytes ? double(st->raw_bytes) / double(st->stored_bytes) : 0;
  if (format.structured()) {
    json::Document d;
    d.SetObject();
    auto& a = d.GetAllocator();
    d.AddMember("snapshots", st->snapshots, a);
    d.AddMember("files", st->files, a);
    d.AddMember("logicalBytes", st->logical_bytes, a);
    d.AddMember("uniqueBytes", st->raw_bytes, a);
    d.AddMember("storedBytes", st->stored_bytes, a);
    d.AddMember("dedupRatio", std::round(dedup * 1000) / 1000, a);  // no float noise (docs/output.md)
    d.AddMember("compressionRatio", std::round(comp * 1000) / 1000, a);
    d.AddMember("blobs", st->blobs, a);
    d.AddMember("packs", st->packs, a);
    d.AddMember("packBytes", st->pack_bytes, a);
    d.AddMember("indexFiles", st->index_files, a);
    d.AddMember("indexMemoryBytes", st->index_memory, a);
    d.AddMember("encrypted", r->repo->config().encrypted, a);
    output::print(d, format);
  } else {
    std::printf("snapshots:          %llu\n", static_cast<unsigned long long>(st->snapshots));
    std::printf("logical size:       %s (%llu files in all snapshots)\n", util::human_bytes(st->logical_bytes).c_str(),
                static_cast<unsigned long long>(st->files));
    std::printf("unique data:        %s\n", util::human_bytes(st->raw_bytes).c_str());
    std::printf("stored size:        %s in %llu packs (%s)\n", util::human_bytes(st->stored_bytes).c_str(),
                static_cast<unsigned long long>(st->packs), util::human_bytes(st->pack_bytes).c_str());
    std::printf("dedup ratio:        %.2f\ncompression ratio:  %.2f\n", dedup, comp);
    std::printf("blobs:              %llu (index in memory: %s)\n", static_cast<unsigned long long>(st->blobs),
                util::human_bytes(st->index_memory).c_str());
    std::printf("encrypted:          %s\n", r->repo->config().encrypted ? "yes" : "no");
  }
  return 0;
}

int run_check(const GlobalOptions& g, const RepoOptions& o) {
  const auto format = format_of(g);
  repo::CheckOptions co;
  co.read_data = o.read_data;
  if (!o.subset.empty()) {
    auto parts = util::split(o.subset, '/');
    bool ok = parts.size() == 2 && !parts[0].empty() && !parts[1].empty() &&
              parts[0].find_first_not_of("0123456789") == std::string::npos &&
              parts[1].find_first_not_of("0123456789") == std::string::npos && parts[0].size() < 9 && parts[1].size() < 9;
    if (ok) {
      co.subset_n = static_cast<uint32_t>(std::stoul(parts[0]));
      co.subset_m = static_cast<uint32_t>(std::stoul(parts[1]));
    }
    if (!ok || co.subset_n < 1 || co.subset_n > co.subset_m)
      throw Fatal(ExitCode::usage, "--read-data-subset " + o.subset + ": expected n/m with 1 <= n <= m, like 1/10");
  }
  auto backend = open_storage(g, false);
  auto key = load_encryption_key(o.key_file);
  repo::OpenOptions oo;
  oo.key = key ? &*key : nullptr;
  auto opened = repo::Repository::open(*backend, oo);
  if (!opened) {
    if (opened.error().is(Errc::config)) throw Fatal(ExitCode::usage, opened.error().message);
    return fail(opened.error());
  }
  auto lock = repo::Lock::acquire(*backend, false);
  if (!lock) return fail(lock.error());
  auto progress = progress_of(g);
  co.progress = progress.get();
  auto rep = repo::check(**opened, co);
  if (!rep) return fail(rep.error());
  for (const auto& e : rep->errors) log::error(e);
  if (format.structured()) {
    json::Document d;
    d.SetObject();
    auto& a = d.GetAllocator();
    json::Value errs(rapidjson::kArrayType), notes(rapidjson::kArrayType);
    for (const auto& e : rep->errors) errs.PushBack(json::make_string(e, a), a);
    for (const auto& e : rep->notes) notes.PushBack(json::make_string(e, a), a);
    d.AddMember("ok", rep->errors.empty(), a);
    d.AddMember("errors", errs, a);
    d.AddMember("notes", notes, a);
    d.AddMember("snapshots", rep->snapshots, a);
    d.AddMember("trees", rep->trees, a);
    d.AddMember("packs", rep->packs, a);
    d.AddMember("packsRead", rep->packs_read, a);
    d.AddMember("blobsRead", rep->blobs_checked, a);
    output::print(d, format);
  } else {
    for (const auto& n : rep->notes) std::printf("note: %s\n", n.c_str());
    std::printf("%s: %llu snapshots, %llu trees, %llu packs%s, %zu error(s)\n", rep->errors.empty() ? "no errors" : "damaged",
                static_cast<unsigned long long>(rep->snapshots), static_cast<unsigned long long>(rep->trees),
                static_cast<unsigned long long>(rep->packs),
                rep->packs_read ? (", " + std::to_string(rep->packs_read) + " read (" + std::to_string(rep->blobs_checked) +
                                   " blobs)").c_str()
                                : "",
                rep->errors.size());
  }
  return rep->errors.empty() ? 0 : static_cast<int>(ExitCode::failed);
}

int run_forget(const GlobalOptions& g, const RepoOptions& o) {
  const auto format = format_of(g);
  namespace rt = storage::retention;
  const rt::Policy policy = keep_policy(o.keep, "snapshot");
  const bool by_policy = policy.has_keep_rule();
  if (by_policy == !o.snapshots.empty())
    throw Fatal(ExitCode::usage, by_policy ? "give SNAPSHOT ids or --keep-* rules, not both"
                                           : "nothing to forget: name SNAPSHOTs or give a rule (--keep-last, "
                                             "--keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, "
                                             "--keep-yearly, --keep-within)");
  repo::ForgetGroup group;
  if (o.group_by == "host,path" || o.group_by == "path,host") group = repo::ForgetGroup::host_path;
  else if (o.group_by == "host") group = repo::ForgetGroup::host;
  else if (o.group_by == "path") group = repo::ForgetGroup::path;
  else if (o.group_by == "none" || o.group_by.empty()) group = repo::ForgetGroup::none;
  else throw Fatal(ExitCode::usage, "--group-by " + o.group_by + ": expected host,path, host, path or none");
  repo::ForgetFilter filter;
  for (const auto& t : o.tags) {
    auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0) throw Fatal(ExitCode::usage, "--tag " + t + ": expected KEY=VALUE");
    filter.tags.emplace_back(t.substr(0, eq), t.substr(eq + 1));
  }
  if (!o.host.empty()) filter.host = o.host;
  if (!o.only_path.empty()) filter.path = o.only_path;
  if (!by_policy && (!filter.tags.empty() || filter.host || filter.path))
    throw Fatal(ExitCode::usage, "--tag, --host and --path choose what the --keep-* rules apply to; named SNAPSHOTs need none");
  uint64_t max_repack = UINT64_MAX;
  if (!o.max_repack_size.empty()) {
    auto r = storage::parse_rate(o.max_repack_size);
    if (!r) throw Fatal(ExitCode::usage, "--max-repack-size " + o.max_repack_size + ": expected a size like 500MiB or 2GiB");
    max_repack = *r;
  }

  int code = 0;
  auto r = open_repo(g, o, false, code, {}, !o.dry_run);
  if (!r) return code;
  auto all = r->repo->list_snapshots();
  if (!all) return fail(all.error());

  std::vector<repo::ForgetDecision> decisions;
  if (by_policy) {
    decisions = repo::plan_forget(*all, filter, policy, group, std::chrono::system_clock::now());
  } else {
    std::set<std::string> seen;
    for (const auto& spec : o.snapshots) {
      auto s = repo::Repository::find_snapshot(*all, spec);
      if (!s) {
        if (s.error().is(Errc::config)) throw Fatal(ExitCode::usage, s.error().message);
        log::error(s.error().message);
        return static_cast<int>(ExitCode::precondition);
      }
      if (s->backup) {
        log::error("snapshot " + short_id(s->id) + " belongs to backup " + *s->backup +
                   ": it goes with the backup (kbk backup delete " + *s->backup + ")");
        return static_cast<int>(ExitCode::precondition);
      }
      if (!seen.insert(repo::to_hex(s->id)).second) continue;
      decisions.push_back({*s, false, {"named"}, ""});
    }
  }
  std::vector<repo::Snapshot> drop;
  std::set<std::string> drop_ids;
  for (const auto& d : decisions)
    if (!d.keep) {
      drop.push_back(d.snapshot);
      drop_ids.insert(repo::to_hex(d.snapshot.id));
    }

  // --prune: forget and reclaim in one pass (execute_repo_prune deletes the forgotten snapshot objects first).
  std::optional<repo::PrunePlanRepo> plan;
  repo::RepoPruneResult pruned;
  uint64_t removed = 0;
  if (o.prune) {
    auto p = repo::plan_repo_prune_snapshots(
        *r->repo, [&](const repo::Snapshot& s) { return !drop_ids.count(repo::to_hex(s.id)); }, max_repack);
    if (!p) return fail(p.error());
    plan = std::move(*p);
    if (!o.dry_run) {
      auto e = repo::execute_repo_prune(*r->repo, *plan);
      if (!e) {
        log::error("prune stopped: " + e.error().message + " (safe to run again)");
        return static_cast<int>(ExitCode::failed);
      }
      pruned = *e;
      removed = pruned.snapshots_removed;
    }
  } else if (!o.dry_run) {
    auto n = repo::forget_snapshots(*r->repo, drop);
    if (!n) return fail(n.error());
    removed = *n;
  }

  if (format.structured()) {
    json::Document d;
    d.SetObject();
    auto& a = d.GetAllocator();
    json::Value kept(rapidjson::kArrayType), gone(rapidjson::kArrayType);
    for (const auto& dec : decisions) {
      json::Value v = snapshot_json(dec.snapshot, a);
      json::Value reasons(rapidjson::kArrayType);
      for (const auto& why : dec.reasons) reasons.PushBack(json::make_string(why, a), a);
      v.AddMember("reasons", reasons, a);
      if (!dec.group.empty()) v.AddMember("group", json::make_string(dec.group, a), a);
      (dec.keep ? kept : gone).PushBack(v, a);
    }
    d.AddMember("dryRun", o.dry_run, a);
    d.AddMember("kept", kept, a);
    d.AddMember("removed", gone, a);
    d.AddMember("snapshotsRemoved", removed, a);
    json::Value pv(rapidjson::kNullType);
    if (plan) {
      pv.SetObject();
      pv.AddMember("blobsUsed", plan->used_blobs, a);
      pv.AddMember("blobsUnused", plan->unused_blobs, a);
      pv.AddMember("packsRemoved", static_cast<uint64_t>(plan->drop_packs.size()), a);
      pv.AddMember("packsRepacked", static_cast<uint64_t>(plan->repack_packs.size()), a);
      pv.AddMember("orphanPacks", static_cast<uint64_t>(plan->orphan_packs.size()), a);
      pv.AddMember("bytesRepacked", plan->repack_bytes, a);
      pv.AddMember("bytesFreed", plan->drop_bytes + plan->repack_reclaim + plan->orphan_bytes, a);
      pv.AddMember("packsWritten", pruned.packs_written, a);
    }
    d.AddMember("prune", pv, a);
    output::print(d, format);
    return 0;
  }
  output::Table t({"ID", "TIME", "HOST", "PATH", "ACTION", "WHY"});
  for (const auto& dec : decisions)
    t.add_row({short_id(dec.snapshot.id), dec.snapshot.time, dec.snapshot.host, printable(dec.snapshot.path),
               dec.keep ? "keep" : (o.dry_run ? "would remove" : "remove"), util::join(dec.reasons, ", ")});
  if (!decisions.empty()) std::fputs(t.render().c_str(), stdout);
  const size_t kept_n = decisions.size() - drop.size();
  std::printf("%s %zu snapshot(s), kept %zu%s\n", o.dry_run ? "would remove" : "removed",
              o.dry_run ? drop.size() : static_cast<size_t>(removed), kept_n,
              plan || o.dry_run ? "" : " (their data stays until kbk prune or forget --prune)");
  if (plan) {
    const uint64_t freed = plan->drop_bytes + plan->repack_reclaim + plan->orphan_bytes;
    std::printf("prune: %llu unused blob(s); packs: %zu deleted, %zu repacked (%s copied), %zu orphaned; %s %s\n",
                static_cast<unsigned long long>(plan->unused_blobs), plan->drop_packs.size(), plan->repack_packs.size(),
                util::human_bytes(plan->repack_bytes).c_str(), plan->orphan_packs.size(),
                util::human_bytes(freed).c_str(), o.dry_run ? "to free" : "freed");
  }
  return 0;
}

int run_unlock(const GlobalOptions& g, const RepoOptions& o) {
  const auto format = format_of(g);
  auto backend = open_storage(g, false);
  auto exists = repo::repository_exists(*backend);
  if (!exists) return fail(exists.error());
  if (!*exists) {
    log::error("no repository at " + backend->display_url());
    return static_cast<int>(ExitCode::precondition);
  }
  auto removed = repo::remove_locks(*backend, o.remove_all);
  if (!removed) return fail(removed.error());
  if (format.structured()) {
    json::Document d;
    d.SetObject();
    json::Value v(rapidjson::kArrayType);
    for (const auto& k : *removed) v.PushBack(json::make_string(k, d.GetAllocator()), d.GetAllocator());
    d.AddMember("removed", v, d.GetAllocator());
    output::print(d, format);
  } else {
    std::printf("removed %zu lock(s)\n", removed->size());
  }
  return 0;
}

}  // namespace

void register_repo(CLI::App& app, GlobalOptions& g, RunState& state) {
  static RepoOptions o;
  CLI::App* cmd = app.add_subcommand(
      "repo", "The volume-data repository of the location: deduplicated, compressed, encrypted snapshots of folders");
  document(cmd, {"kbk repo backup ./data --storage /var/backups/kbk", "kbk repo snapshots", "kbk repo check --read-data"});
  auto key = [&](CLI::App* c) {
    add_encryption_key_option(c, o.key_file,
                              "Key file or passphrase file of an encrypted repository (a new repository is encrypted "
                              "with it)")
        ->type_name("FILE");
  };
  auto* backup = cmd->add_subcommand("backup", "Back up a folder, or a tar stream (--tar; - reads stdin), as a snapshot");
  backup->add_option("PATH", o.path, "The folder (or tar file with --tar, or - for stdin)")->required()->type_name("PATH|-");
  backup->add_flag("--tar", o.tar, "Read a tar stream (GNU, PAX, ustar) instead of a folder");
  backup->add_option("--tag", o.tags, "Label the snapshot (repeatable)")->type_name("KEY=VALUE");
  backup->add_option("--parent", o.parent,
                     "Snapshot whose unchanged files are not read again (default: the newest of the same path)")
      ->type_name("SNAPSHOT");
  backup->add_option("--compression", o.compression, "lz4 (default), zstd, zstd:LEVEL or none")
      ->type_name("lz4|zstd[:LEVEL]|none");
  key(backup);
  set_runner(backup, state, [&g] { return run_backup(g, o); });
  document(backup, {"kbk repo backup ./data --tag app=shop", "tar c -C /data . | kbk repo backup --tar - --compression zstd"},
           "The first backup creates the repository under plugins/kbk/repository/ of --storage. Exit 2 when some "
           "files could not be read (the snapshot holds the rest).");

  auto* snaps = cmd->add_subcommand("snapshots", "List the snapshots");
  key(snaps);
  set_runner(snaps, state, [&g] { return run_snapshots(g, o); });
  document(snaps, {"kbk repo snapshots", "kbk repo snapshots -o json"});

  auto* ls = cmd->add_subcommand("ls", "List the files of a snapshot (SNAPSHOT: id, unique prefix or latest)");
  ls->add_option("SNAPSHOT", o.snapshot, "Snapshot")->required()->type_name("SNAPSHOT");
  ls->add_option("PATH", o.ls_path, "Only this folder or file")->type_name("PATH");
  key(ls);
  set_runner(ls, state, [&g] { return run_ls(g, o); });
  document(ls, {"kbk repo ls latest", "kbk repo ls 4f2a9c etc/"});

  auto* restore = cmd->add_subcommand("restore", "Restore a snapshot into a folder, or as a tar stream to stdout (-)");
  restore->add_option("SNAPSHOT", o.snapshot, "Snapshot")->required()->type_name("SNAPSHOT");
  restore->add_option("--target", o.target, "Folder to restore into (created when missing), or - for a tar stream")
      ->type_name("DIR|-");
  key(restore);
  set_runner(restore, state, [&g] { return run_restore(g, o); });
  document(restore, {"kbk repo restore latest --target ./restored", "kbk repo restore 4f2a9c --target - | tar t"});

  auto* diff = cmd->add_subcommand("diff", "What changed between two snapshots (+ added, - removed, M modified, U metadata, T type)");
  diff->add_option("SNAPSHOT1", o.snapshot, "Older snapshot")->required()->type_name("SNAPSHOT");
  diff->add_option("SNAPSHOT2", o.snapshot2, "Newer snapshot")->required()->type_name("SNAPSHOT");
  key(diff);
  set_runner(diff, state, [&g] { return run_diff(g, o); });
  document(diff, {"kbk repo diff 4f2a9c latest"});

  auto* check = cmd->add_subcommand("check", "Check the repository's structure (and data); every problem is listed");
  check->add_flag("--read-data", o.read_data, "Also read, decrypt and hash every blob");
  check->add_option("--read-data-subset", o.subset, "Read the n-th of m subsets of the packs")->type_name("n/m");
  key(check);
  set_runner(check, state, [&g] { return run_check(g, o); });
  document(check, {"kbk repo check", "kbk repo check --read-data-subset 1/10"},
           "Exit 1 when any damage is found; packs no index names are notes, not damage.");

  auto* stats = cmd->add_subcommand("stats", "Logical and stored size, dedup and compression ratios, packs and blobs");
  key(stats);
  set_runner(stats, state, [&g] { return run_stats(g, o); });
  document(stats, {"kbk repo stats", "kbk repo stats -o json"});

  auto* forget = cmd->add_subcommand(
      "forget", "Remove snapshots by id or by restic's keep rules (--keep-daily 7 ...); --prune reclaims their data");
  forget->add_option("SNAPSHOT", o.snapshots, "Snapshots to remove (id, unique prefix or latest)")->type_name("SNAPSHOT");
  add_keep_flags(forget, o.keep, "snapshot",
                 "Keep every snapshot newer than this before the newest (restic's units: 7d, 36h, 1y6m)");
  forget->add_option("--tag", o.tags, "Apply the rules only to snapshots with this tag (repeatable: all must match)")
      ->type_name("KEY=VALUE");
  forget->add_option("--host", o.host, "Apply the rules only to snapshots taken on this host")->type_name("HOST");
  forget->add_option("--path", o.only_path, "Apply the rules only to snapshots of this path")->type_name("PATH");
  forget->add_option("--group-by", o.group_by, "Apply the rules to each group on its own (default host,path)")
      ->type_name("host,path|host|path|none");
  forget->add_flag("--dry-run", o.dry_run, "Print what would be removed; change nothing");
  forget->add_flag("--prune", o.prune, "Also drop the data no remaining snapshot uses (as kbk prune does)");
  forget->add_option("--max-repack-size", o.max_repack_size, "With --prune: copy at most this much out of partly used packs")
      ->type_name("SIZE");
  key(forget);
  set_runner(forget, state, [&g] { return run_forget(g, o); });
  document(forget,
           {"kbk repo forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run",
            "kbk repo forget 4f2a9c 81d0e3 --prune", "kbk repo forget --keep-last 3 --tag app=shop --prune -o json"},
           "Only snapshots made by kbk repo backup are considered: the volume snapshots of a resource backup go with "
           "that backup (kbk backup delete, kbk prune), and naming one exits 4. The rules are kbk prune's (and "
           "restic's), in UTC. Without --prune the snapshots' data stays in the repository until kbk prune or a later "
           "forget --prune. Takes the repository's exclusive lock unless --dry-run.");

  auto* unlock = cmd->add_subcommand("unlock", "Remove stale locks (30 minutes without refresh, or their process gone)");
  unlock->add_flag("--remove-all", o.remove_all, "Remove every lock, stale or not");
  set_runner(unlock, state, [&g] { return run_unlock(g, o); });
  document(unlock, {"kbk repo unlock", "kbk repo unlock --remove-all"});
}

}  // namespace kbk::cli
