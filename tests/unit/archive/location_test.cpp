#include <catch2/catch.hpp>

#include <utime.h>

#include <filesystem>
#include <string>
#include <vector>

#include <kbk/archive/location.hpp>

#include "test_support.hpp"

using namespace kbk;
using namespace kbk::archive;
namespace fs = std::filesystem;

namespace {
using test::TempDir;

// A file location that records what is removed, in order.
class RecordingBackend : public storage::Backend {
public:
  explicit RecordingBackend(std::unique_ptr<storage::Backend> inner) : m_inner(std::move(inner)) {}
  std::vector<std::string> removed;
  std::string display_url() const override { return m_inner->display_url(); }
  Result<void> put(const std::string& k, std::string_view d, const storage::PutOptions& o) override {
    return m_inner->put(k, d, o);
  }
  Result<std::unique_ptr<storage::Writer>> put_stream(const std::string& k, const storage::PutOptions& o) override {
    return m_inner->put_stream(k, o);
  }
  Result<std::string> get(const std::string& k) override { return m_inner->get(k); }
  Result<std::unique_ptr<storage::Reader>> get_stream(const std::string& k, uint64_t off, uint64_t len) override {
    return m_inner->get_stream(k, off, len);
  }
  Result<std::optional<storage::ObjectInfo>> stat(const std::string& k) override { return m_inner->stat(k); }
  Result<void> list(const std::string& p,
                    const std::function<Result<void>(const storage::ObjectInfo&)>& f) override {
    return m_inner->list(p, f);
  }
  Result<std::vector<std::string>> list_prefixes(const std::string& p) override { return m_inner->list_prefixes(p); }
  Result<void> remove(const std::string& k) override {
    removed.push_back(k);
    return m_inner->remove(k);
  }
  Result<void> remove_many(const std::vector<std::string>& keys) override {
    removed.insert(removed.end(), keys.begin(), keys.end());
    return m_inner->remove_many(keys);
  }
  Result<uint64_t> cleanup_incomplete(std::chrono::seconds age, const std::string& f) override { return m_inner->cleanup_incomplete(age, f); }

private:
  std::unique_ptr<storage::Backend> m_inner;
};

std::string velero_backup(const std::string& phase) {
  return R"({"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"v"},"status":{"phase":")" + phase +
         R"(","startTimestamp":"2026-11-01T00:00:00Z","progress":{"itemsBackedUp":7},"errors":1}})";
}
}  // namespace

TEST_CASE("gzip and gunzip round-trip; damaged and truncated data is refused") {
  std::string text(10000, 'a');
  for (size_t i = 0; i < text.size(); i += 7) text[i] = static_cast<char>('a' + i % 26);
  std::string gz = gzip(text);
  REQUIRE(gz.size() > 18);
  CHECK(static_cast<unsigned char>(gz[0]) == 0x1f);
  auto back = gunzip(gz, "x");
  REQUIRE(back.ok());
  CHECK(*back == text);
  auto cut = gunzip(gz.substr(0, gz.size() / 2), "results.gz");
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().code == Errc::corrupt);
  CHECK(cut.error().message.find("results.gz") == 0);
  CHECK_FALSE(gunzip("not gzip at all", "x").ok());
  CHECK_FALSE(gunzip(gz, "x", 100).ok());  // over the size limit
}

TEST_CASE("list_backups tells kbk, incomplete and Velero backups apart") {
  TempDir t;
  auto b = storage::open(t.path, {});
  REQUIRE(b.ok());
  auto& be = **b;
  REQUIRE(be.put("backups/k1/kbk-lock.json", "{}", {}).ok());
  REQUIRE(be.put("backups/k1/kbk-manifest.json",
                 R"({"apiVersion":"kbk.io/v1alpha1","kind":"BackupManifest","name":"k1","phase":"PartiallyFailed",
                     "counts":{"items":3,"warnings":1,"errors":2},"archive":{"bytes":99,"encrypted":false}})",
                 {})
              .ok());
  REQUIRE(be.put("backups/k2/kbk-lock.json", "{}", {}).ok());
  REQUIRE(be.put("backups/k2/k2.tar.gz", "partial", {}).ok());
  REQUIRE(be.put("backups/v1/velero-backup.json", velero_backup("Completed"), {}).ok());
  REQUIRE(be.put("backups/v1/v1.tar.gz", "12345", {}).ok());
  REQUIRE(be.put("backups/v2/velero-backup.json", velero_backup("InProgress"), {}).ok());
  REQUIRE(be.put("backups/v3/velero-backup.json", "{not json", {}).ok());
  // Without a list for them, a backup that does not read fails the listing; with one, it is named there.
  auto strict = list_backups(be);
  REQUIRE_FALSE(strict.ok());
  CHECK(strict.error().message.find("backup v3: velero-backup.json: invalid JSON") == 0);
  std::vector<Error> skipped;
  auto l = list_backups(be, &skipped);
  REQUIRE(l.ok());
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0].code == Errc::corrupt);
  CHECK(skipped[0].message.find("backup v3: velero-backup.json") == 0);
  REQUIRE(l->size() == 3);
  CHECK(((*l)[0].name == "k1" && (*l)[0].source == "kbk" && (*l)[0].phase == "PartiallyFailed"));
  CHECK(((*l)[0].items == 3 && (*l)[0].warnings == 1 && (*l)[0].errors == 2 && (*l)[0].bytes == 99));
  CHECK(((*l)[1].name == "k2" && (*l)[1].phase == "Incomplete"));
  CHECK(((*l)[2].name == "v1" && (*l)[2].source == "velero" && (*l)[2].phase == "Completed"));
  CHECK(((*l)[2].items == 7 && (*l)[2].errors == 1 && (*l)[2].bytes == 5));
}

TEST_CASE("read_marker checks the format version") {
  TempDir t;
  auto b = storage::open(t.path, {});
  REQUIRE(b.ok());
  auto none = read_marker(**b, "x");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  REQUIRE((*b)->put("backups/x/kbk-manifest.json", R"({"apiVersion":"kbk.io/v2"})", {}).ok());
  auto newer = read_marker(**b, "x");
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.error().message.find("kbk.io/v2") != std::string::npos);
}

TEST_CASE("delete_backup removes every object of the backup and nothing else") {
  TempDir t;
  auto b = storage::open(t.path, {});
  REQUIRE(b.ok());
  for (std::string k : {"backups/a/kbk-manifest.json", "backups/a/a.tar.gz", "backups/a/velero-backup.json",
                        "backups/ab/kbk-manifest.json"})
    REQUIRE((*b)->put(k, "x", {}).ok());
  auto n = delete_backup(**b, "a");
  REQUIRE(n.ok());
  CHECK(*n == 3);
  CHECK_FALSE(fs::exists(t.path + "/backups/a"));
  CHECK(fs::exists(t.path + "/backups/ab/kbk-manifest.json"));
  auto missing = delete_backup(**b, "a");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
}

TEST_CASE("list_backups dates an incomplete backup by its lock: startTimestamp, else the lock's modification time") {
  TempDir t;
  auto b = storage::open(t.path, {});
  REQUIRE(b.ok());
  auto& be = **b;
  REQUIRE(be.put("backups/busy/kbk-lock.json",
                 R"({"apiVersion":"kbk.io/v1alpha1","kind":"BackupLock","name":"busy","startTimestamp":"2026-11-20T08:00:00Z"})",
                 {})
              .ok());
  REQUIRE(be.put("backups/odd/kbk-lock.json", "{not json", {}).ok());
  struct utimbuf when {};
  when.actime = when.modtime = 1700000000;  // 2023-11-14T22:13:20Z
  REQUIRE(::utime((t.path + "/backups/odd/kbk-lock.json").c_str(), &when) == 0);
  auto l = list_backups(be);
  REQUIRE(l.ok());
  REQUIRE(l->size() == 2);
  CHECK(((*l)[0].name == "busy" && (*l)[0].phase == "Incomplete" && (*l)[0].started == "2026-11-20T08:00:00Z"));
  CHECK(((*l)[1].name == "odd" && (*l)[1].phase == "Incomplete" && (*l)[1].started == "2023-11-14T22:13:20Z"));
}

TEST_CASE("delete_backup removes the marker first and the lock last") {
  TempDir t;
  auto inner = storage::open(t.path, {});
  REQUIRE(inner.ok());
  RecordingBackend be(std::move(*inner));
  for (std::string k : {"backups/a/a.tar.gz", "backups/a/kbk-lock.json", "backups/a/kbk-manifest.json",
                        "backups/a/velero-backup.json"})
    REQUIRE(be.put(k, "x", {}).ok());
  REQUIRE(delete_backup(be, "a").ok());
  REQUIRE(be.removed.size() == 4);
  CHECK(be.removed.front() == "backups/a/kbk-manifest.json");
  CHECK(be.removed.back() == "backups/a/kbk-lock.json");
  CHECK_FALSE(fs::exists(t.path + "/backups/a"));
}

TEST_CASE("valid_backup_name accepts DNS subdomain names only") {
  CHECK(valid_backup_name("nightly-20261126"));
  CHECK(valid_backup_name("a.b"));
  CHECK_FALSE(valid_backup_name(""));
  CHECK_FALSE(valid_backup_name("Nightly"));
  CHECK_FALSE(valid_backup_name("a/b"));
  CHECK_FALSE(valid_backup_name("-a"));
  CHECK_FALSE(valid_backup_name("a..b"));
  CHECK_FALSE(valid_backup_name(std::string(254, 'a')));
}

TEST_CASE("list_backups marks an incomplete backup encrypted when it has a key object") {
  TempDir t;
  auto b = storage::open(t.path, {});
  REQUIRE(b.ok());
  auto& be = **b;
  REQUIRE(be.put("backups/enc/kbk-lock.json", "{}", {}).ok());
  REQUIRE(be.put("backups/enc/kbk-key-0123456789abcdef", "{}", {}).ok());
  REQUIRE(be.put("backups/plain/kbk-lock.json", "{}", {}).ok());
  REQUIRE(be.put("backups/plain/plain.tar.gz", "partial", {}).ok());
  auto l = list_backups(be);
  REQUIRE(l.ok());
  REQUIRE(l->size() == 2);
  CHECK(((*l)[0].name == "enc" && (*l)[0].phase == "Incomplete" && (*l)[0].encrypted));
  CHECK(((*l)[1].name == "plain" && (*l)[1].phase == "Incomplete" && !(*l)[1].encrypted));
}
