// What every reader of a backup checks (include/kbk/archive/reader.hpp, documents.hpp) against a backup written as
// the backup engine writes it, then changed the way someone with write access to the location could.
#include <catch2/catch.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <kbk/archive/archive.hpp>
#include <kbk/archive/documents.hpp>
#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/archive/reader.hpp>
#include <kbk/compress/gzip.hpp>
#include <kbk/crypto/hash.hpp>

#include "test_support.hpp"

using namespace kbk;
using namespace kbk::archive;

namespace {

namespace fs = std::filesystem;

struct Location {
  test::TempDir dir;
  std::unique_ptr<storage::Backend> backend;
  Location() {
    auto b = storage::open(dir.path, {});
    REQUIRE(b.ok());
    backend = std::move(*b);
  }
  std::string file(const std::string& key) const { return dir.path + "/" + key; }
};

ItemKey cm_key(const std::string& name) { return {"", "v1", "configmaps", "app", name}; }
std::string cm(const std::string& name, const std::string& value = "v") {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
         R"(","namespace":"app"},"data":{"k":")" + value + R"("}})";
}

// A kbk backup as the engine writes it: items, kbk/manifest.json with their checksums, the marker with the
// archive's. `edit_manifest` changes the manifest's text before it is stored.
void write_backup(Location& loc, const std::string& name, const std::vector<std::pair<ItemKey, std::string>>& items,
                  const std::function<void(std::string&)>& edit_manifest = nullptr,
                  const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  BackupPaths p{name};
  auto sink = loc.backend->put_stream(p.tarball(), {});
  REQUIRE(sink.ok());
  auto w = make_writer(std::move(*sink));
  REQUIRE(w.ok());
  std::string listed;
  for (const auto& [key, json] : items) {
    auto sum = (*w)->add_item(key, json, true);
    REQUIRE(sum.ok());
    listed += std::string(listed.empty() ? "" : ",") + R"({"group":")" + key.group + R"(","version":")" + key.version +
              R"(","resource":")" + key.resource + R"(","namespace":")" + key.namespace_ + R"(","name":")" + key.name +
              R"(","sha256":")" + *sum + R"("})";
  }
  for (const auto& [path, data] : extra) REQUIRE((*w)->add_file(path, data).ok());
  const std::string head = R"({"apiVersion":"kbk.io/v1alpha1","kind":"BackupManifest","name":")" + name +
                           R"(","uid":"u-1","phase":"Completed","counts":{"items":)" + std::to_string(items.size()) + "}";
  std::string manifest = head + R"(,"items":[)" + listed + "]}";
  if (edit_manifest) edit_manifest(manifest);
  REQUIRE((*w)->add_file("kbk/manifest.json", manifest).ok());
  REQUIRE((*w)->finish().ok());
  REQUIRE(loc.backend
              ->put(p.marker(),
                    head + R"(,"archive":{"key":")" + p.tarball() + R"(","bytes":)" +
                        std::to_string((*w)->bytes_written()) + R"(,"sha256":")" + (*w)->stream_sha256() + R"("}})",
                    {})
              .ok());
}

std::vector<std::string> problems_of(Location& loc, const std::string& name) {
  auto r = verify_backup(*loc.backend, name);
  REQUIRE(r.ok());
  return r->problems;
}

// Rewrites the stored tarball and the marker's checksum and size to match it (an attacker who updates both).
void replace_archive(Location& loc, const std::string& name, const std::string& bytes) {
  BackupPaths p{name};
  REQUIRE(loc.backend->put(p.tarball(), bytes, {}).ok());
  auto marker = loc.backend->get(p.marker());
  REQUIRE(marker.ok());
  auto doc = json::parse(*marker);
  REQUIRE(doc.ok());
  auto& a = doc->GetAllocator();
  json::set(*json::find(*doc, "archive"), "sha256", json::make_string(crypto::sha256_hex(bytes), a), a);
  json::set(*json::find(*doc, "archive"), "bytes", json::Value(static_cast<uint64_t>(bytes.size())), a);
  REQUIRE(loc.backend->put(p.marker(), json::to_string(*doc), {}).ok());
}

la_ssize_t append_cb(struct archive*, void* out, const void* b, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(b), n);
  return static_cast<la_ssize_t>(n);
}

// A plain tar of (name, data, type) entries, written by libarchive, then gzipped by compress::gzip.
std::string targz(const std::vector<std::tuple<std::string, std::string, unsigned>>& entries) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_add_filter_none(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open2(a, &out, nullptr, append_cb, nullptr, nullptr);
  for (const auto& [name, data, type] : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_copy_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, type == AE_IFREG ? static_cast<la_int64_t>(data.size()) : 0);
    archive_write_header(a, e);
    if (!data.empty()) archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return compress::gzip(out);
}

std::string read_error(const std::string& bytes) {
  test::MemoryReader r(bytes);
  auto res = read_archive(r, "b1", {}, [](const Entry&) -> Result<void> { return {}; });
  return res ? std::string() : res.error().message;
}

}  // namespace

TEST_CASE("read_archive refuses duplicate and shadowing entries, unsafe names and a damaged gzip member") {
  const std::tuple<std::string, std::string, unsigned> version{"metadata/version", "1.1.0\n", AE_IFREG};
  const std::string item = "resources/configmaps/namespaces/app/a.json";
  CHECK(read_error(targz({version, {item, cm("a"), AE_IFREG}})) == "");
  CHECK(read_error(targz({version, {item, cm("a"), AE_IFREG}, {item, cm("a", "other"), AE_IFREG}})) ==
        "backup b1: entry " + item + ": appears twice in the archive");
  CHECK(read_error(targz({version, {item, cm("a"), AE_IFREG}, {item + "/", "", AE_IFDIR}})).find(
            "a folder entry with the name of a file entry") != std::string::npos);
  CHECK(read_error(targz({version, {item, cm("a"), AE_IFREG}, {item + "/x.json", "{}", AE_IFREG}})).find(
            "which is a file entry") != std::string::npos);
  CHECK(read_error(targz({version, {"resources/\xff.json", "{}", AE_IFREG}})).find(
            "entry resources/\\xff.json: unsafe name") != std::string::npos);
  CHECK(read_error(targz({version, {"resources/\x1b[2J\n.json", "{}", AE_IFREG}})).find(
            "entry resources/\\x1b[2J\\x0a.json: unsafe name") != std::string::npos);
  CHECK(read_error(targz({version, {"resources/l.json", "", AE_IFLNK}})).find("symbolic links are not allowed") !=
        std::string::npos);

  const std::string good = targz({version, {item, cm("a"), AE_IFREG}});
  std::string crc = good;
  crc[crc.size() - 8] ^= 1;
  CHECK(read_error(crc) == "backup b1: damaged gzip data: CRC-32 mismatch: the data was changed");
  CHECK(read_error(good + "x") == "backup b1: data after the end of the gzip stream");
  CHECK(read_error(good + std::string(4096, '\0')) == "");
  CHECK(read_error(std::string("\x28\xb5\x2f\xfd", 4) + std::string(600, '\0')) ==
        "backup b1: compressed with zstd, which kbk does not read (gzip or plain tar)");
}

TEST_CASE("verify_backup: an intact backup, then each change verify must report") {
  Location loc;
  write_backup(loc, "b1", {{cm_key("a"), cm("a")}, {cm_key("b"), cm("b")}});
  CHECK(problems_of(loc, "b1").empty());

  SECTION("an item changed, the manifest not") {
    write_backup(loc, "b2", {{cm_key("a"), cm("a")}}, [](std::string& m) {
      auto at = m.find("\"sha256\":\"") + 10;
      m.replace(at, 64, std::string(64, '0'));
    });
    auto p = problems_of(loc, "b2");
    REQUIRE(p.size() == 1);
    CHECK(p[0].find("configmaps/app/a: SHA-256 ") == 0);
    CHECK(p[0].find("differs from the manifest's 0000") != std::string::npos);
  }
  SECTION("an item whose identity is not its path's") {
    write_backup(loc, "b2", {{cm_key("a"), cm("other")}});
    auto p = problems_of(loc, "b2");
    REQUIRE_FALSE(p.empty());
    CHECK(p[0] == "entry resources/configmaps/namespaces/app/a.json: its metadata.name differs from the name its path "
                  "gives (\"a\")");
  }
  SECTION("an entry kbk does not write, the manifest of another backup, an item listed twice") {
    write_backup(loc, "b2", {{cm_key("a"), cm("a")}}, [](std::string& m) {
      m.replace(m.find("\"uid\":\"u-1\""), 11, "\"uid\":\"u-9\"");
      auto item = m.substr(m.find("{\"group\""));
      item.pop_back();
      item.pop_back();
      m.insert(m.size() - 2, "," + item);
    }, {{"run.sh", "rm -rf /"}});
    auto p = problems_of(loc, "b2");
    REQUIRE(p.size() == 4);
    CHECK(p[0] == "entry run.sh is not part of a kbk backup");
    CHECK(p[1] == "kbk/manifest.json has uid \"u-9\", the marker \"u-1\" (the archive of another backup?)");
    CHECK(p[2] == "configmaps/app/a: listed twice in kbk/manifest.json");
    CHECK(p[3] == "kbk-manifest.json counts 1 items, kbk/manifest.json lists 2");
  }
  SECTION("the archive changed, the marker's checksum not") {
    BackupPaths p{"b1"};
    auto bytes = loc.backend->get(p.tarball());
    REQUIRE(bytes.ok());
    write_backup(loc, "b2", {{cm_key("a"), cm("a")}});
    auto other = loc.backend->get(BackupPaths{"b2"}.tarball());
    REQUIRE(loc.backend->put(p.tarball(), *other, {}).ok());
    auto problems = problems_of(loc, "b1");
    REQUIRE_FALSE(problems.empty());
    CHECK(problems[0].find("backups/b1/b1.tar.gz: SHA-256 ") == 0);
    // A download notices it at the end, too.
    auto opened = open_backup(*loc.backend, "b1", nullptr, NeedKey::yes);
    REQUIRE(opened.ok());
    auto stream = open_archive_stream(*loc.backend, *opened, Decrypt::no);
    REQUIRE(stream.ok());
    char buf[65536];
    Result<size_t> n = size_t{1};
    while (n && *n > 0) n = (*stream)->read(buf, sizeof buf);
    REQUIRE_FALSE(n.ok());
    CHECK(n.error().message.find("differs from the marker's") != std::string::npos);
  }
  SECTION("a tarball with a flipped gzip CRC, the marker's checksum updated: an error, not a problem") {
    auto bytes = loc.backend->get(BackupPaths{"b1"}.tarball());
    REQUIRE(bytes.ok());
    std::string changed = *bytes;
    changed[changed.size() - 8] ^= 1;
    replace_archive(loc, "b1", changed);
    auto r = verify_backup(*loc.backend, "b1");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
    CHECK(r.error().message == "backup b1: damaged gzip data: CRC-32 mismatch: the data was changed");
  }
}

TEST_CASE("open_backup refuses a marker that names another backup or another object") {
  Location loc;
  write_backup(loc, "b1", {{cm_key("a"), cm("a")}});
  const BackupPaths p{"b1"};
  auto marker = loc.backend->get(p.marker());
  REQUIRE(marker.ok());
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string m = *marker;
    m.replace(m.find(from), from.size(), to);
    REQUIRE(loc.backend->put(p.marker(), m, {}).ok());
    auto r = open_backup(*loc.backend, "b1", nullptr, NeedKey::yes);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
    return r.error().message;
  };
  CHECK(edit("\"name\":\"b1\"", "\"name\":\"b9\"") ==
        "backup b1: kbk-manifest.json names backup \"b9\", not b1 (a marker copied from another backup?)");
  CHECK(edit("backups/b1/b1.tar.gz", "backups/b9/b9.tar.gz") ==
        "backup b1: kbk-manifest.json: archive.key \"backups/b9/b9.tar.gz\" is not this backup's archive "
        "(backups/b1/b1.tar.gz)");
  CHECK(edit("\"phase\":\"Completed\"", "\"phase\":null,\"phase\":1").find("member \"phase\" appears twice") !=
        std::string::npos);
  CHECK(edit("\"items\":1", "\"items\":\"1\"") ==
        "backup b1: kbk-manifest.json: counts.items: expected a non-negative integer, found a string");
  auto bad_name = open_backup(*loc.backend, "../b1", nullptr, NeedKey::yes);
  REQUIRE_FALSE(bad_name.ok());
  CHECK(bad_name.error().code == Errc::config);
}

TEST_CASE("read_document reads within its limit and names the file and field") {
  Location loc;
  REQUIRE(loc.backend->put("backups/b1/x.json", std::string(2000, ' ') + "{}", {}).ok());
  DocumentOptions small;
  small.max_bytes = 1000;
  auto big = read_document(*loc.backend, "backups/b1/x.json", "backup b1: x.json", json::Schema::any(), small);
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().message == "backup b1: x.json: larger than the limit of " + compress::limit_text(1000));
  REQUIRE(loc.backend->put("backups/b1/l.json.gz", compress::gzip(R"({"v1/Pod":["a",{"b":1}]})"), {}).ok());
  DocumentOptions gz;
  gz.gzipped = Gzipped::yes;
  auto list = read_document(*loc.backend, "backups/b1/l.json.gz", "backup b1: l.json.gz", resource_list_schema(), gz);
  REQUIRE_FALSE(list.ok());
  CHECK(list.error().message == "backup b1: l.json.gz: [\"v1/Pod\"][1]: expected a string, found an object");
}

TEST_CASE("crypto::parse_key_object type-checks a key object; too many key objects are refused before any is tried") {
  auto bad = crypto::parse_key_object(R"({"format":"kbk-key","version":1,"keyId":"k","kdf":{"name":"scrypt","N":"65536"},)"
                              R"("wrap":{"alg":"AES-256-GCM","nonce":"","ciphertext":""}})",
                              "backups/b1/kbk-key-k");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "backups/b1/kbk-key-k: kdf.N: expected an integer, found a string");
  CHECK(crypto::parse_key_object("{", "k").error().code == Errc::corrupt);

  Location loc;
  auto user = crypto::parse_user_key(std::string(32, 'k'), "key");
  REQUIRE(user.ok());
  auto key = new_backup_key(*user);
  REQUIRE(key.ok());
  for (int i = 0; i < 17; ++i)
    REQUIRE(loc.backend->put("backups/b1/kbk-key-" + std::to_string(1000 + i), key->object.json, {}).ok());
  auto opened = open_backup_key(*loc.backend, "b1", *user);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().message.find("backup b1 has more than 16 key objects") == 0);
}

TEST_CASE("delete_backup removes a killed backup's hidden upload too") {
  Location loc;
  REQUIRE(loc.backend->put("backups/k/kbk-lock.json", "{}", {}).ok());
  auto w = loc.backend->put_stream("backups/k/k.tar.gz", {});
  REQUIRE(w.ok());
  REQUIRE((*w)->write("partial upload").ok());
  // The writer is left uncommitted, as a killed kbk leaves it: a hidden temp file in the folder.
  size_t hidden = 0;
  for (const auto& e : fs::directory_iterator(loc.dir.path + "/backups/k"))
    if (e.path().filename().string().find(".kbk-tmp-") != std::string::npos) ++hidden;
  REQUIRE(hidden == 1);
  auto n = delete_backup(*loc.backend, "k");
  REQUIRE(n.ok());
  CHECK(*n == 2);
  CHECK_FALSE(fs::exists(loc.dir.path + "/backups/k"));
  (*w)->abort();
}
