// Unit tests of the repo module: chunker, formats, index table, trees, locks, and a repository over file://.
#include <archive.h>
#include <archive_entry.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kbk/repo/chunker.hpp>
#include <kbk/repo/format.hpp>
#include <kbk/repo/operations.hpp>
#include <kbk/repo/repository.hpp>
#include <kbk/repo/tree.hpp>
#include <kbk/storage/wrappers.hpp>
#include <kbk/util/strings.hpp>

using namespace kbk;
using namespace kbk::repo;
namespace fs = std::filesystem;

namespace {

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return s;
}

std::vector<std::string> chunks_of(const Cdc& cdc, const std::string& data) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t n = cdc.cut(reinterpret_cast<const unsigned char*>(data.data()) + pos, data.size() - pos);
    out.push_back(data.substr(pos, n));
    pos += n;
  }
  return out;
}

struct TempDir {
  fs::path path;
  TempDir() {
    char t[] = "/tmp/kbk-repo-test-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A new plain repository in a folder location.
struct PlainRepo {
  std::unique_ptr<storage::Backend> backend;
  std::unique_ptr<Repository> repo;
  explicit PlainRepo(const fs::path& location) {
    auto b = storage::open(location.string(), {{}, true});
    REQUIRE(b);
    backend = std::move(*b);
    OpenOptions oo;
    oo.create = true;
    auto r = Repository::open(*backend, oo);
    REQUIRE(r);
    repo = std::move(*r);
  }
};

void write(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}
std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST_CASE("Cdc: a byte inserted at the start of 64 MiB changes at most two chunks") {
  const GearTable gear = make_gear_table("test key");
  Cdc cdc(gear, 256u << 10, 1u << 20, 8u << 20);
  const std::string data = random_bytes(64u << 20, 7);
  const auto a = chunks_of(cdc, data);
  const auto b = chunks_of(cdc, "X" + data);
  std::multiset<std::string> sa(a.begin(), a.end());
  size_t changed = 0;
  for (const auto& c : b)
    if (!sa.count(c)) ++changed;
  CHECK(a.size() > 32);  // about 1 MiB on average
  CHECK(a.size() < 128);
  CHECK(changed <= 2);
  for (const auto& c : a) CHECK(c.size() <= (8u << 20));
}

TEST_CASE("make_gear_table: keys give different cut points") {
  const GearTable g1 = make_gear_table("k1"), g2 = make_gear_table("k2");
  Cdc c1(g1, 4096, 16384, 65536), c2(g2, 4096, 16384, 65536);
  const std::string data = random_bytes(1u << 20, 3);
  CHECK(chunks_of(c1, data) != chunks_of(c2, data));
}

TEST_CASE("encode_pack_header / decode_pack_header / trailer round trip") {
  std::vector<PackEntry> e(3);
  for (int i = 0; i < 3; ++i) {
    e[i].type = static_cast<BlobType>(i);
    e[i].length = 100u + i;
    e[i].raw_length = 200u + i;
    e[i].id.fill(static_cast<unsigned char>(i + 1));
  }
  auto d = decode_pack_header(encode_pack_header(e));
  REQUIRE(d);
  REQUIRE(d->size() == 3);
  CHECK((*d)[1].offset == 100);
  CHECK((*d)[2].offset == 201);
  CHECK((*d)[2].type == BlobType::list);
  CHECK((*d)[2].id == e[2].id);
  auto t = decode_pack_trailer(encode_pack_trailer(1234));
  REQUIRE(t);
  CHECK(*t == 1234);
  CHECK_FALSE(decode_pack_trailer("123456789"));
  CHECK_FALSE(decode_pack_header(std::string(40, 'x')));
}

TEST_CASE("encode_index / decode_index round trip and truncation") {
  PackRecord r;
  r.pack.fill(9);
  PackEntry e;
  e.offset = 5;
  e.length = 6;
  e.raw_length = 7;
  e.id.fill(3);
  r.entries = {e, e};
  const std::string s = encode_index({r});
  auto d = decode_index(s);
  REQUIRE(d);
  REQUIRE(d->size() == 1);
  CHECK((*d)[0].entries[1].raw_length == 7);
  CHECK_FALSE(decode_index(s.substr(0, s.size() - 1)));
}

TEST_CASE("IndexTable: inserts, finds, grows") {
  IndexTable t;
  for (uint32_t i = 0; i < 5000; ++i) {
    Id id{};
    std::memcpy(id.data(), &i, 4);
    id[31] = 1;
    CHECK(t.insert(id, Location{i, i, i, i}));
  }
  CHECK(t.size() == 5000);
  Id id{};
  uint32_t k = 4321;
  std::memcpy(id.data(), &k, 4);
  id[31] = 1;
  REQUIRE(t.find(id));
  CHECK(t.find(id)->offset == 4321);
  CHECK_FALSE(t.insert(id, Location{}));
  id[31] = 2;
  CHECK(t.find(id) == nullptr);
  CHECK(t.memory_bytes() / t.size() <= 96);
}

TEST_CASE("IndexTable: erase keeps every other entry findable, in clusters and across the wrap") {
  IndexTable t;
  std::vector<Id> ids;
  for (uint32_t i = 0; i < 3000; ++i) {
    Id id{};
    std::memcpy(id.data(), &i, 4);
    std::memcpy(id.data() + 8, &i, 4);
    id[31] = 7;
    ids.push_back(id);
    REQUIRE(t.insert(id, Location{i, 0, 0, 0}));
  }
  size_t left = ids.size();
  for (size_t i = 0; i < ids.size(); i += 3) {
    CHECK(t.erase(ids[i]));
    CHECK_FALSE(t.erase(ids[i]));
    --left;
  }
  CHECK(t.size() == left);
  for (size_t i = 0; i < ids.size(); ++i) {
    const Location* l = t.find(ids[i]);
    if (i % 3 == 0) {
      CHECK(l == nullptr);
    } else {
      REQUIRE(l);
      CHECK(l->pack == i);
    }
  }
  CHECK(t.insert(ids[0], Location{42, 0, 0, 0}));
  CHECK(t.find(ids[0])->pack == 42);
}

TEST_CASE("encode_tree / decode_tree: names with newlines and non-UTF-8 bytes, xattrs, content lists") {
  std::vector<Node> nodes(3);
  nodes[0].name = "b\nnewline";
  nodes[0].content.push_back(Id{});
  nodes[1].name = std::string("a\xff\xfe", 3);
  nodes[1].type = NodeType::symlink;
  nodes[1].link_target = std::string("t\xff", 2);
  nodes[1].xattrs.emplace_back("user.x", std::string("\0\1", 2));
  nodes[2].name = "c";
  nodes[2].content_list = Id{};
  nodes[2].size = 1ull << 40;
  nodes[2].mtime_ns = -5;
  const std::string json = encode_tree(nodes);
  auto d = decode_tree(json, "t");
  REQUIRE(d);
  REQUIRE(d->size() == 3);
  CHECK((*d)[0].name == std::string("a\xff\xfe", 3));  // sorted bytewise
  CHECK((*d)[0].link_target == std::string("t\xff", 2));
  CHECK((*d)[0].xattrs[0].second == std::string("\0\1", 2));
  CHECK((*d)[1].name == "b\nnewline");
  CHECK((*d)[2].content_list.has_value());
  CHECK((*d)[2].size == 1ull << 40);
  CHECK((*d)[2].mtime_ns == -5);
  CHECK_FALSE(decode_tree("{\"v\":2,\"nodes\":[]}", "t"));
  CHECK_FALSE(decode_tree("{\"v\":1,\"nodes\":[{\"name\":\"../x\",\"type\":\"file\"}]}", "t"));
  // A tree blob nested 200,000 levels (a plain repository's writer can store one under its own id): refused as no
  // tree, parsed iteratively (RapidJSON's recursive parser would overflow the stack).
  CHECK_FALSE(decode_tree(std::string(200000, '[') + std::string(200000, ']'), "t"));
}

TEST_CASE("valid_utf8") {
  CHECK(valid_utf8("héllo"));
  CHECK_FALSE(valid_utf8(std::string("\xc0\x80", 2)));
  CHECK_FALSE(valid_utf8(std::string("\xed\xa0\x80", 3)));
  CHECK_FALSE(valid_utf8(std::string("\xe2\x82", 2)));
}

TEST_CASE("Lock: shared locks coexist, an exclusive one is refused while they live, unlock removes stale ones") {
  TempDir dir;
  auto b = storage::open(dir.path.string(), {{}, true});
  REQUIRE(b);
  auto l1 = Lock::acquire(**b, false);
  REQUIRE(l1);
  auto l2 = Lock::acquire(**b, false);
  REQUIRE(l2);
  auto ex = Lock::acquire(**b, true);
  REQUIRE_FALSE(ex);
  CHECK(ex.error().is(Errc::precondition));
  (*l1)->release();
  (*l2)->release();
  auto ex2 = Lock::acquire(**b, true);
  REQUIRE(ex2);
  CHECK_FALSE(Lock::acquire(**b, false));
  (*ex2)->release();
  // A lock of a process that is gone (this host, a dead pid) is stale.
  REQUIRE((*b)->put(std::string(k_prefix) + "locks/dead",
                    "{\"version\":1,\"exclusive\":true,\"host\":\"" + [] {
                      char h[256] = {0};
                      gethostname(h, 255);
                      return std::string(h);
                    }() + "\",\"pid\":999999999,\"time\":\"2026-01-01T00:00:00Z\",\"refreshed\":\"2099-01-01T00:00:00Z\"}",
                    {}));
  auto l3 = Lock::acquire(**b, false);
  CHECK(l3);
  auto removed = remove_locks(**b, false);
  REQUIRE(removed);
  CHECK(removed->size() == 1);
}

TEST_CASE("Repository: backup and restore round trip, encrypted, with dedup, check and prune") {
  TempDir dir;
  const fs::path src = dir.path / "src";
  fs::create_directories(src / "d");
  write(src / "small", "hello");
  const std::string big = random_bytes(3u << 20, 11);
  write(src / "d" / "big", big);
  write(src / "d" / "copy", big);
  const std::string huge = random_bytes(70u << 20, 12);  // a large file: fixed blocks and a content list
  write(src / "huge", huge);
  auto b = storage::open((dir.path / "loc").string(), {{}, true});
  REQUIRE(b);
  auto key = crypto::parse_user_key("a passphrase for the test", "key");
  REQUIRE(key);
  OpenOptions oo;
  oo.key = &*key;
  oo.create = true;
  auto r = Repository::open(**b, oo);
  REQUIRE(r);
  CHECK((*r)->config().encrypted);
  BackupOptions bo;
  auto res = backup_folder(**r, src.string(), bo);
  REQUIRE(res);
  CHECK(res->snapshot.summary.files == 4);
  // The copy deduplicates: new bytes are about big + huge + small.
  CHECK(res->snapshot.summary.bytes_new < big.size() + huge.size() + 100000);
  // A second backup with the first as parent reads nothing.
  bo.parent = res->snapshot;
  auto res2 = backup_folder(**r, src.string(), bo);
  REQUIRE(res2);
  CHECK(res2->snapshot.summary.bytes_read == 0);
  CHECK(res2->snapshot.summary.files_unchanged == 4);
  // Reopen (a new process would) and restore.
  auto r2 = Repository::open(**b, oo);
  REQUIRE(r2);
  REQUIRE((*r2)->load_index());
  RestoreOptions ro;
  REQUIRE(restore_to_folder(**r2, res2->snapshot, (dir.path / "out").string(), ro));
  CHECK(read(dir.path / "out" / "small") == "hello");
  CHECK(read(dir.path / "out" / "d" / "copy") == big);
  CHECK(read(dir.path / "out" / "huge") == huge);
  // Wrong key.
  auto wrong = crypto::parse_user_key("another passphrase", "key");
  OpenOptions bad = oo;
  bad.key = &*wrong;
  bad.create = false;
  auto rw = Repository::open(**b, bad);
  REQUIRE_FALSE(rw);
  CHECK(rw.error().is(Errc::crypto));
  // check is clean; prune of nothing keeps everything.
  CheckOptions co;
  co.read_data = true;
  auto rep = check(**r2, co);
  REQUIRE(rep);
  CHECK(rep->errors.empty());
  auto plan = plan_repo_prune(**r2, [](const std::string&) { return true; }, 1ull << 40);
  REQUIRE(plan);
  CHECK(plan->drop_packs.empty());
  CHECK(plan->unused_blobs == 0);
}

TEST_CASE("plan_repo_prune / execute_repo_prune: snapshots of removed backups go with their blobs; the rest restores") {
  TempDir dir;
  PlainRepo pr(dir.path / "loc");
  Repository& repo = *pr.repo;
  storage::Backend& backend = *pr.backend;
  const fs::path s1 = dir.path / "s1", s2 = dir.path / "s2";
  fs::create_directories(s1);
  fs::create_directories(s2);
  const std::string shared = random_bytes(2u << 20, 21), only1 = random_bytes(20u << 20, 22),
                    only2 = random_bytes(1u << 20, 23);
  write(s1 / "shared", shared);
  write(s1 / "only", only1);
  write(s2 / "shared", shared);
  write(s2 / "only", only2);
  BackupOptions bo;
  bo.backup = "nightly-1";
  auto first = backup_folder(repo, s1.string(), bo);
  REQUIRE(first);
  bo.backup = "nightly-2";
  auto second = backup_folder(repo, s2.string(), bo);
  REQUIRE(second);
  // An orphan pack, as a killed backup leaves.
  Id orphan{};
  orphan[0] = 0xab;
  REQUIRE(backend.put(Repository::pack_key(orphan), "junk", {}));
  auto plan = plan_repo_prune(repo, [](const std::string& name) { return name == "nightly-2"; }, 1ull << 40);
  REQUIRE(plan);
  CHECK(plan->kept.size() == 1);
  CHECK(plan->forgotten.size() == 1);
  CHECK(plan->orphan_packs.size() == 1);
  CHECK(plan->unused_bytes >= only1.size() / 2);
  auto done = execute_repo_prune(repo, *plan);
  REQUIRE(done);
  CHECK(done->snapshots_removed == 1);
  auto r2 = Repository::open(backend, {});
  REQUIRE(r2);
  auto rep = check(**r2, CheckOptions{true, 0, 0, nullptr});
  REQUIRE(rep);
  CHECK(rep->errors.empty());
  CHECK(rep->notes.empty());
  auto snaps = (*r2)->list_snapshots();
  REQUIRE(snaps);
  REQUIRE(snaps->size() == 1);
  auto st = stats(**r2);
  REQUIRE(st);
  CHECK(st->raw_bytes < shared.size() + only2.size() + (1u << 20));  // only1 is gone
  REQUIRE(restore_to_folder(**r2, snaps->front(), (dir.path / "out").string(), RestoreOptions{}));
  CHECK(read(dir.path / "out" / "shared") == shared);
  CHECK(read(dir.path / "out" / "only") == only2);
}

TEST_CASE("backup_folder over a faulty backend: failed and cut-off writes leave a repository check calls clean") {
  TempDir dir;
  const fs::path src = dir.path / "src";
  fs::create_directories(src);
  for (int i = 0; i < 6; ++i) write(src / ("f" + std::to_string(i)), random_bytes(6u << 20, 30 + i));
  const std::string loc = (dir.path / "loc").string();
  {
    auto b = storage::open(loc, {{}, true});
    REQUIRE(b);
    OpenOptions oo;
    oo.create = true;
    auto r = Repository::open(**b, oo);
    REQUIRE(r);
  }
  for (auto plan : {storage::FaultPlan{2, 0, {}}, storage::FaultPlan{0, 2, std::chrono::milliseconds(1)}}) {
    auto inner = storage::open(loc, {});
    REQUIRE(inner);
    auto faulty = storage::wrap_faults(std::move(*inner), plan);
    auto r = Repository::open(*faulty, {});
    REQUIRE(r);
    REQUIRE((*r)->load_index());
    auto res = backup_folder(**r, src.string(), BackupOptions{});
    REQUIRE_FALSE(res);
    CHECK(res.error().message.find("injected fault") != std::string::npos);
    auto b = storage::open(loc, {});
    auto clean = Repository::open(**b, {});
    REQUIRE(clean);
    auto rep = check(**clean, CheckOptions{true, 0, 0, nullptr});
    REQUIRE(rep);
    CHECK(rep->errors.empty());
    auto snaps = (*clean)->list_snapshots();
    REQUIRE(snaps);
    CHECK(snaps->empty());  // no snapshot lists without its data
  }
  auto b = storage::open(loc, {});
  auto r = Repository::open(**b, {});
  REQUIRE(r);
  REQUIRE((*r)->load_index());
  auto res = backup_folder(**r, src.string(), BackupOptions{});
  REQUIRE(res);
  REQUIRE(restore_to_folder(**r, res->snapshot, (dir.path / "out").string(), RestoreOptions{}));
  for (int i = 0; i < 6; ++i) CHECK(read(dir.path / "out" / ("f" + std::to_string(i))) == read(src / ("f" + std::to_string(i))));
  auto rep = check(**r, CheckOptions{true, 0, 0, nullptr});
  REQUIRE(rep);
  CHECK(rep->errors.empty());
}

namespace {
Snapshot snap_at(const char* time, int64_t epoch_s, const std::string& host, const std::string& path, uint8_t tag) {
  Snapshot s;
  s.id[0] = tag;
  s.time = time;
  s.time_ns = epoch_s * 1'000'000'000LL;
  s.host = host;
  s.path = path;
  return s;
}
}  // namespace

TEST_CASE("plan_forget: restic's rules per host and path, only over snapshots of no backup, filtered by tag") {
  const int64_t day = 86400, d0 = 1796515200;  // 2026-12-05T00:00:00Z
  std::vector<Snapshot> all = {
      snap_at("a", d0 - 2 * day + 3600, "h1", "/data", 1),  // two days ago
      snap_at("b", d0 - day + 3600, "h1", "/data", 2),      // yesterday, early
      snap_at("c", d0 - day + 7200, "h1", "/data", 3),      // yesterday, later: the day's newest
      snap_at("d", d0 + 3600, "h1", "/data", 4),            // today
      snap_at("e", d0 - 2 * day, "h2", "/data", 5),         // another host: its own group
      snap_at("f", d0 + 60, "h1", "/data", 6),              // a volume snapshot of a backup: never in the plan
  };
  all[5].backup = "nightly";
  all[3].tags = {{"app", "shop"}};
  storage::retention::Policy p;
  p.keep_daily = 2;
  const auto now = storage::retention::TimePoint(std::chrono::seconds(d0 + day));
  auto ds = plan_forget(all, {}, p, ForgetGroup::host_path, now);
  std::map<uint8_t, bool> keep;
  for (const auto& d : ds) keep[d.snapshot.id[0]] = d.keep;
  CHECK(ds.size() == 5);
  CHECK(keep.count(6) == 0);
  CHECK(keep[4]);   // today's newest
  CHECK(keep[3]);   // yesterday's newest
  CHECK(!keep[2]);  // yesterday, not the newest
  CHECK(!keep[1]);  // the third day: no count left
  CHECK(keep[5]);   // h2's only snapshot
  // One group: h2's snapshot competes with h1's for the two days.
  ds = plan_forget(all, {}, p, ForgetGroup::none, now);
  keep.clear();
  for (const auto& d : ds) keep[d.snapshot.id[0]] = d.keep;
  CHECK(!keep[5]);
  // A tag filter applies the rule to the tagged snapshots only: the others are not in the plan at all.
  ForgetFilter f;
  f.tags = {{"app", "shop"}};
  storage::retention::Policy last;
  last.keep_last = 1;
  ds = plan_forget(all, f, last, ForgetGroup::host_path, now);
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].snapshot.id[0] == 4);
  CHECK(ds[0].keep);
  f = {};
  f.host = "h2";
  ds = plan_forget(all, f, last, ForgetGroup::host_path, now);
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].snapshot.id[0] == 5);
}

TEST_CASE("forget + prune: forgotten snapshots go with the blobs only they used; a backup's snapshot is refused") {
  TempDir dir;
  PlainRepo pr(dir.path / "loc");
  Repository& repo = *pr.repo;
  storage::Backend& backend = *pr.backend;
  const fs::path src = dir.path / "src";
  fs::create_directories(src);
  const std::string keep_data = random_bytes(3u << 20, 31), old_data = random_bytes(5u << 20, 32);
  write(src / "keep", keep_data);
  write(src / "old", old_data);
  auto first = backup_folder(repo, src.string(), BackupOptions{});
  REQUIRE(first);
  fs::remove(src / "old");
  auto second = backup_folder(repo, src.string(), BackupOptions{});
  REQUIRE(second);
  BackupOptions of_backup;
  of_backup.backup = "nightly";
  auto third = backup_folder(repo, src.string(), of_backup);
  REQUIRE(third);
  auto snaps = repo.list_snapshots();
  REQUIRE(snaps);
  REQUIRE(snaps->size() == 3);
  storage::retention::Policy p;
  p.keep_last = 1;
  auto ds = plan_forget(*snaps, {}, p, ForgetGroup::host_path, std::chrono::system_clock::now());
  REQUIRE(ds.size() == 2);  // the backup's snapshot is not a candidate
  std::set<std::string> drop;
  std::vector<Snapshot> drop_snaps;
  for (const auto& d : ds)
    if (!d.keep) {
      drop.insert(to_hex(d.snapshot.id));
      drop_snaps.push_back(d.snapshot);
    }
  REQUIRE(drop.size() == 1);
  std::vector<Snapshot> of_backup_snap;
  for (const auto& s : *snaps)
    if (s.backup) of_backup_snap.push_back(s);
  auto refused = forget_snapshots(repo, of_backup_snap);
  REQUIRE(!refused);
  CHECK(refused.error().is(Errc::precondition));
  auto plan = plan_repo_prune_snapshots(repo, [&](const Snapshot& s) { return !drop.count(to_hex(s.id)); }, 1ull << 40);
  REQUIRE(plan);
  CHECK(plan->forgotten.size() == 1);
  CHECK(plan->unused_bytes >= old_data.size() / 2);
  auto done = execute_repo_prune(repo, *plan);
  REQUIRE(done);
  CHECK(done->snapshots_removed == 1);
  auto r2 = Repository::open(backend, {});
  REQUIRE(r2);
  auto rep = check(**r2, CheckOptions{true, 0, 0, nullptr});
  REQUIRE(rep);
  CHECK(rep->errors.empty());
  auto left = (*r2)->list_snapshots();
  REQUIRE(left);
  CHECK(left->size() == 2);
  auto st = stats(**r2);
  REQUIRE(st);
  CHECK(st->raw_bytes < keep_data.size() + (1u << 20));  // old_data is gone
  for (const auto& s : *left) {
    const auto out = dir.path / ("out-" + to_hex(s.id).substr(0, 8));
    REQUIRE(restore_to_folder(**r2, s, out.string(), RestoreOptions{}));
    CHECK(read(out / "keep") == keep_data);
  }
}

// ---- a helper pod that lies: hostile tar streams into the repository --------------------------------------------

namespace {

struct TarEntry {
  std::string path;
  mode_t type;
  std::string data;  // file content, or the link target
};

// A tar stream (pax) of the entries, as a mover's helper pod could send it.
std::string tar_stream(const std::vector<TarEntry>& entries) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  std::string out(1 << 20, '\0');
  size_t used = 0;
  REQUIRE(archive_write_open_memory(a, out.data(), out.size(), &used) == ARCHIVE_OK);
  for (const auto& e : entries) {
    struct archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_filetype(ae, e.type);
    archive_entry_set_perm(ae, 0644);
    if (e.type == AE_IFLNK) archive_entry_set_symlink(ae, e.data.c_str());
    if (e.type == AE_IFREG) archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
    REQUIRE(archive_write_header(a, ae) == ARCHIVE_OK);
    if (e.type == AE_IFREG) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

Result<BackupResult> backup_stream(Repository& repo, const std::string& stream) {
  const int fd = ::memfd_create("tar", MFD_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, stream.data(), stream.size()) == static_cast<ssize_t>(stream.size()));
  ::lseek(fd, 0, SEEK_SET);
  auto r = backup_tar(repo, fd, "volume", BackupOptions{});
  ::close(fd);
  return r;
}

size_t entries_in(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST_CASE("backup_tar: a stream that climbs out, is absolute or goes through its own symlinks restores inside the target") {
  TempDir dir;
  const fs::path outside = dir.path / "outside";
  fs::create_directories(outside);
  PlainRepo p(dir.path / "loc");
  auto res = backup_stream(*p.repo, tar_stream({
      {"../escape", AE_IFREG, "x"},
      {"/abs/evil", AE_IFREG, "y"},
      {"out", AE_IFLNK, outside.string()},
      {"out/planted", AE_IFREG, "z"},         // through the symlink just made
      {"d", AE_IFDIR, ""},
      {"d", AE_IFREG, "a file over the folder"},
      {"link2", AE_IFLNK, outside.string()},
      {"link2/sub", AE_IFDIR, ""},
      {"link2/sub/planted", AE_IFREG, "z"},
      {"ok/file", AE_IFREG, "kept"},
  }));
  REQUIRE(res);
  const std::string warnings = util::join(res->warnings, "\n");
  CHECK(warnings.find("../escape") != std::string::npos);
  CHECK(warnings.find("out/planted") != std::string::npos);
  CHECK(warnings.find("link2/sub") != std::string::npos);
  CHECK(warnings.find("skipped entry d ") != std::string::npos);
  const fs::path target = dir.path / "target";
  auto restored = restore_to_folder(*p.repo, res->snapshot, target.string(), RestoreOptions{});
  REQUIRE(restored);
  CHECK(entries_in(outside) == 0);
  CHECK_FALSE(fs::exists(dir.path / "escape"));
  CHECK(read(target / "abs" / "evil") == "y");
  CHECK(read(target / "ok" / "file") == "kept");
  CHECK(fs::is_symlink(target / "out"));
  CHECK(fs::is_directory(fs::symlink_status(target / "d")));
  auto rep = check(*p.repo, CheckOptions{true, 0, 0, nullptr});
  REQUIRE(rep);
  CHECK(rep->errors.empty());
}

TEST_CASE("backup_tar: a stream cut mid-way, then the same files through the same repository: all stored") {
  // The cut stream's blobs were left in the index table as pending: the next backup (the next volume of the same
  // run) took them for stored, and its snapshot named blobs no pack held (found by fuzz.repo_tar).
  TempDir dir;
  PlainRepo p(dir.path / "loc");
  std::vector<TarEntry> files;
  for (int i = 0; i < 8; ++i) files.push_back({"f" + std::to_string(i), AE_IFREG, random_bytes(100000, 70 + i)});
  const std::string whole = tar_stream(files);
  auto cut = backup_stream(*p.repo, whole.substr(0, whole.size() / 2));
  REQUIRE_FALSE(cut);
  auto res = backup_stream(*p.repo, whole);
  REQUIRE(res);
  const fs::path target = dir.path / "target";
  REQUIRE(restore_to_folder(*p.repo, res->snapshot, target.string(), RestoreOptions{}));
  for (const auto& f : files) CHECK(read(target / f.path) == f.data);
  auto rep = check(*p.repo, CheckOptions{true, 0, 0, nullptr});
  REQUIRE(rep);
  CHECK(rep->errors.empty());
}

TEST_CASE("restore_to_folder: never descends through a symlink already in the target") {
  TempDir dir;
  const fs::path outside = dir.path / "outside";
  fs::create_directories(outside);
  fs::create_directories(dir.path / "src" / "sub");
  write(dir.path / "src" / "sub" / "f", "data");
  PlainRepo p(dir.path / "loc");
  auto res = backup_folder(*p.repo, (dir.path / "src").string(), BackupOptions{});
  REQUIRE(res);
  const fs::path target = dir.path / "target";
  fs::create_directories(target);
  fs::create_symlink(outside, target / "sub");
  auto restored = restore_to_folder(*p.repo, res->snapshot, target.string(), RestoreOptions{});
  REQUIRE_FALSE(restored);
  CHECK(restored.error().message.find("is not a folder") != std::string::npos);
  CHECK(entries_in(outside) == 0);
}

TEST_CASE("decode_tree: a name twice (a symlink and a folder at one path) is a damaged tree") {
  const std::string id(64, 'a');
  auto t = decode_tree(R"({"v":1,"nodes":[{"name":"x","type":"symlink","linkTarget":"/etc"},)"
                       R"({"name":"x","type":"dir","subtree":")" + id + R"("}]})", "tree t");
  REQUIRE_FALSE(t);
  CHECK(t.error().code == Errc::corrupt);
  CHECK(t.error().message == "tree t: node x is named twice");
}

TEST_CASE("decode_blob / open_object: zstd bombs and claimed lengths are refused before anything is allocated") {
  TempDir dir;
  PlainRepo p(dir.path / "loc");
  auto stored = [](uint8_t codec, uint32_t raw, std::string_view data) {
    std::string s(1, static_cast<char>(codec));
    for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((raw >> (8 * i)) & 0xff));
    s.append(data);
    return s;
  };
  // 48 MiB of zeros is a zstd frame of a few KiB that declares its size.
  std::string bomb;
  REQUIRE(compress::compress_block({compress::Codec::zstd, 3}, std::string(48u << 20, '\0'), bomb));
  CHECK(bomb.size() < 64 * 1024);
  const Id id = p.repo->blob_id("x");
  for (uint32_t claim : {1024u, 47u << 20, 64u << 20}) {  // less than the frame holds, or an allowed but wrong size
    auto b = p.repo->decode_blob(id, stored(2, claim, bomb));
    REQUIRE_FALSE(b);
    CHECK(b.error().message == "blob " + to_hex(id) + " claims an impossible length");
  }
  // Nine bytes that claim a 1 GiB index file, raw or lz4.
  for (uint8_t codec : {0, 1}) {
    auto o = p.repo->open_object(stored(codec, 1u << 30, "abcd"), "index file x");
    REQUIRE_FALSE(o);
    CHECK(o.error().message == "index file x claims an impossible length");
  }
  // The frame's true size opens (and then fails the id check, as a bomb under the wrong id must).
  auto b = p.repo->decode_blob(id, stored(2, 48u << 20, bomb));
  REQUIRE_FALSE(b);
  CHECK(b.error().message.find("does not hash to its id") != std::string::npos);
}

TEST_CASE("restore_to_tar --sparse: zero blocks leave the stream, and GNU tar extracts them as holes") {
  TempDir dir;
  PlainRepo pr(dir.path / "loc");
  Repository& repo = *pr.repo;
  const fs::path src = dir.path / "src";
  fs::create_directories(src);
  // 24 MiB of which one byte and one 64 KiB run of random data are written; the rest is hole.
  const uint64_t size = 24u << 20;
  const std::string run = random_bytes(64u << 10, 41);
  {
    std::ofstream f(src / "sparse", std::ios::binary);
    f.seekp(5000000);
    f << 'x';
    f.seekp(17u << 20);
    f << run;
    f.seekp(static_cast<std::streamoff>(size - 1));
    f << '\0';
  }
  fs::resize_file(src / "sparse", size);
  write(src / "plain", random_bytes(300000, 42));
  write(src / "all-hole", "");
  fs::resize_file(src / "all-hole", 9u << 20);
  auto b = backup_folder(repo, src.string(), BackupOptions{});
  REQUIRE(b);
  for (bool sparse : {false, true}) {
    const fs::path tar = dir.path / (sparse ? "sparse.tar" : "full.tar"), out = dir.path / (sparse ? "x-sparse" : "x-full");
    const int fd = ::open(tar.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    RestoreOptions ro;
    ro.sparse = sparse;
    auto r = restore_to_tar(repo, b->snapshot, fd, ro);
    ::close(fd);
    REQUIRE(r);
    CHECK(r->bytes == size + 300000 + (9u << 20));
    fs::create_directories(out);
    REQUIRE(std::system(("tar -x -f " + tar.string() + " -C " + out.string()).c_str()) == 0);
    CHECK(read(out / "sparse") == read(src / "sparse"));
    CHECK(read(out / "plain") == read(src / "plain"));
    CHECK(fs::file_size(out / "all-hole") == (9u << 20));
    CHECK(read(out / "all-hole") == std::string(9u << 20, '\0'));
    struct stat st {};
    REQUIRE(::stat((out / "sparse").c_str(), &st) == 0);
    if (sparse) {
      // The stream carries the data blocks and the sparse map only; the file allocates a few blocks.
      CHECK(fs::file_size(tar) < (1u << 20));
      CHECK(st.st_blocks * 512 < (1 << 20));
      REQUIRE(::stat((out / "all-hole").c_str(), &st) == 0);
      CHECK(st.st_blocks == 0);
    } else {
      CHECK(fs::file_size(tar) > size);
      CHECK(st.st_blocks * 512 >= static_cast<long>(size));
    }
  }
}

namespace {

// Forwards to a backend and counts the ranged reads of packs, each taking 30 ms as a round trip through the in-pod
// mover's exec stream does (the restore queues the next files meanwhile).
class CountingBackend final : public storage::Backend {
public:
  explicit CountingBackend(storage::Backend& inner) : m_inner(inner) {}
  std::atomic<int> pack_reads{0};
  std::string display_url() const override { return m_inner.display_url(); }
  Result<void> put(const std::string& k, std::string_view d, const storage::PutOptions& o) override {
    return m_inner.put(k, d, o);
  }
  Result<std::unique_ptr<storage::Writer>> put_stream(const std::string& k, const storage::PutOptions& o) override {
    return m_inner.put_stream(k, o);
  }
  Result<std::string> get(const std::string& k) override { return m_inner.get(k); }
  Result<std::unique_ptr<storage::Reader>> get_stream(const std::string& k, uint64_t off, uint64_t len) override {
    if (k.find("/data/") != std::string::npos || k.rfind("data/", 0) == 0) {
      ++pack_reads;
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    return m_inner.get_stream(k, off, len);
  }
  Result<std::optional<storage::ObjectInfo>> stat(const std::string& k) override { return m_inner.stat(k); }
  Result<void> list(const std::string& p, const std::function<Result<void>(const storage::ObjectInfo&)>& f) override {
    return m_inner.list(p, f);
  }
  Result<std::vector<std::string>> list_prefixes(const std::string& p) override { return m_inner.list_prefixes(p); }
  Result<void> remove(const std::string& k) override { return m_inner.remove(k); }
  Result<void> remove_many(const std::vector<std::string>& k) override { return m_inner.remove_many(k); }
  Result<uint64_t> cleanup_incomplete(std::chrono::seconds a, const std::string& f) override {
    return m_inner.cleanup_incomplete(a, f);
  }

private:
  storage::Backend& m_inner;
};

}  // namespace

TEST_CASE("restore_to_folder reads a folder of small files with a few ranged reads per pack, not one per file") {
  TempDir dir;
  const fs::path src = dir.path / "src";
  fs::create_directories(src / "small");
  for (int i = 0; i < 600; ++i) write(src / "small" / ("f" + std::to_string(i)), random_bytes(1000 + i * 13, 700 + i));
  write(src / "big", random_bytes(20u << 20, 77));
  PlainRepo p(dir.path / "loc");
  auto res = backup_folder(*p.repo, src.string(), BackupOptions{});
  REQUIRE(res);
  size_t packs = 0;
  REQUIRE(p.backend->list("", [&](const storage::ObjectInfo& o) -> Result<void> {
    if (o.key.find("data/") != std::string::npos) ++packs;
    return {};
  }));
  CountingBackend counting(*p.backend);
  auto r = Repository::open(counting, {});
  REQUIRE(r);
  REQUIRE((*r)->load_index());
  RestoreOptions ro;
  ro.workers = 2;
  REQUIRE(restore_to_folder(**r, res->snapshot, (dir.path / "out").string(), ro));
  for (int i = 0; i < 600; ++i)
    REQUIRE(read(dir.path / "out" / "small" / ("f" + std::to_string(i))) == read(src / "small" / ("f" + std::to_string(i))));
  CHECK(read(dir.path / "out" / "big") == read(src / "big"));
  // 600 files and a 20 MiB file in a few packs: each read takes what was queued meanwhile (25 to 45 reads here),
  // far from the 600+ of one read per file.
  INFO("packs " << packs << ", ranged reads of packs " << counting.pack_reads.load());
  CHECK(counting.pack_reads.load() <= 150);
}
