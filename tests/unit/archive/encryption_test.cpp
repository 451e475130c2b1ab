#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <unistd.h>

#include <kbk/archive/archive.hpp>
#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/crypto/hash.hpp>

#include "test_support.hpp"

using namespace kbk;
using namespace kbk::archive;
namespace fs = std::filesystem;

namespace {

struct MemoryWriter final : storage::Writer {
  std::string* out;
  bool* aborted;
  std::string buf;
  MemoryWriter(std::string* o, bool* a) : out(o), aborted(a) {}
  Result<void> write(std::string_view d) override {
    buf.append(d);
    return {};
  }
  Result<void> commit() override {
    *out = buf;
    return {};
  }
  void abort() override { *aborted = true; }
  uint64_t bytes_written() const override { return buf.size(); }
};

using test::MemoryReader;

constexpr size_t k_segment = 1u << 16;  // segment_size_log2 16: the smallest the format allows

crypto::UserKey user_key(char fill) {
  auto k = crypto::parse_user_key(std::string(32, fill), "test key");
  REQUIRE(k.ok());
  return std::move(*k);
}

std::string plaintext(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 977) & 0xff);
  return s;
}

// Encrypts `plain` through an EncryptingWriter fed in uneven chunks.
std::string encrypt_stream(const crypto::SecretKey& key, const std::string& plain, uint64_t* bytes = nullptr,
                           std::string* sha = nullptr) {
  std::string stored;
  bool aborted = false;
  EncryptingWriter w(std::make_unique<MemoryWriter>(&stored, &aborted), key, 16);
  for (size_t off = 0; off < plain.size();) {
    size_t n = std::min<size_t>(plain.size() - off, 1000 + off % 3001);
    REQUIRE(w.write(std::string_view(plain).substr(off, n)).ok());
    off += n;
  }
  REQUIRE(w.commit().ok());
  CHECK_FALSE(aborted);
  if (bytes) *bytes = w.bytes_written();
  if (sha) *sha = w.stored_sha256();
  return stored;
}

// Reads everything through a DecryptingReader with small reads; the error when it fails.
Result<std::string> decrypt_stream(const crypto::SecretKey& key, std::string stored) {
  DecryptingReader r(std::make_unique<MemoryReader>(std::move(stored)), key, "backups/b1/b1.kbk");
  std::string out;
  char buf[333];
  for (;;) {
    KBK_ASSIGN_OR_RETURN(size_t n, r.read(buf, sizeof buf));
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

struct TempLocation {
  std::string path;
  std::unique_ptr<storage::Backend> backend;
  TempLocation() {
    char tmpl[] = "/tmp/kbk-encryption-test-XXXXXX";
    path = mkdtemp(tmpl);
    auto b = storage::open(path, {});
    REQUIRE(b.ok());
    backend = std::move(*b);
  }
  ~TempLocation() { fs::remove_all(path); }
};

const char* k_full_marker = R"({
  "apiVersion": "kbk.io/v1alpha1", "kind": "BackupManifest", "name": "b1", "uid": "u-1",
  "tool": {"name": "kbk", "version": "0.1.0"},
  "cluster": {"name": "prod-eu-1", "server": "https://secret-api.example.com:6443", "kubeSystemUID": "ks-uid",
              "serverVersion": {"gitVersion": "v1.30.2"}},
  "selection": {"includedNamespaces": ["payments"]},
  "apiGroups": [{"name": "", "preferredVersion": "v1", "versions": ["v1"]}],
  "phase": "PartiallyFailed", "startTimestamp": "2026-11-26T07:00:00Z", "completionTimestamp": "2026-11-26T07:00:09Z",
  "expiration": "2026-12-26T07:00:00Z", "ttl": "720h0m0s",
  "counts": {"items": 42, "warnings": 1, "errors": 2, "skipped": 3, "byResource": {"secrets": 7}},
  "archive": {"key": "backups/b1/b1.kbk", "compression": "gzip", "encrypted": true, "bytes": 1234,
              "sha256": "abababababababababababababababababababababababababababababababab"},
  "errors": ["secrets: namespace payments: Forbidden"], "warnings": ["w"]
})";

}  // namespace

TEST_CASE("EncryptingWriter and DecryptingReader round-trip across segment boundaries") {
  auto key = crypto::SecretKey::random();
  for (size_t n : {size_t{0}, size_t{1}, k_segment - 1, k_segment, k_segment + 1, 3 * k_segment + 123}) {
    INFO(n);
    const std::string plain = plaintext(n);
    uint64_t bytes = 0;
    std::string sha;
    const std::string stored = encrypt_stream(key, plain, &bytes, &sha);
    const size_t segments = std::max<size_t>(1, (n + k_segment - 1) / k_segment);
    CHECK(stored.size() == 32 + n + 16 * segments);  // the size rule of docs/format-encryption.md
    CHECK(bytes == stored.size());
    CHECK(sha == crypto::sha256_hex(stored));
    CHECK(crypto::is_encrypted_stream(stored));
    if (n >= 64) CHECK(stored.find(plain.substr(0, 64)) == std::string::npos);
    auto back = decrypt_stream(key, stored);
    REQUIRE(back.ok());
    CHECK(*back == plain);
  }
}

TEST_CASE("DecryptingReader reports truncation instead of ending early") {
  auto key = crypto::SecretKey::random();
  const std::string stored = encrypt_stream(key, plaintext(3 * k_segment + 123));
  const size_t seg = k_segment + 16;
  SECTION("cut at a segment boundary") {
    auto r = decrypt_stream(key, stored.substr(0, 32 + 2 * seg));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
    CHECK(r.error().message.find("truncated") != std::string::npos);
    CHECK(r.error().message.find("backups/b1/b1.kbk") != std::string::npos);
  }
  SECTION("cut inside the last segment") {
    auto r = decrypt_stream(key, stored.substr(0, stored.size() - 5));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
  }
  SECTION("only the header") {
    auto r = decrypt_stream(key, stored.substr(0, 32));
    REQUIRE_FALSE(r.ok());
  }
  SECTION("an empty object") {
    auto r = decrypt_stream(key, "");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
  }
}

TEST_CASE("DecryptingReader refuses a modified object and a wrong data key") {
  auto key = crypto::SecretKey::random();
  const std::string stored = encrypt_stream(key, plaintext(2 * k_segment + 10));
  SECTION("a flipped byte in the second segment") {
    std::string bad = stored;
    bad[32 + k_segment + 16 + 100] ^= 0x01;
    auto r = decrypt_stream(key, bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
    CHECK(r.error().message.find("segment 1") != std::string::npos);
  }
  SECTION("a flipped header byte") {
    std::string bad = stored;
    bad[20] ^= 0x01;
    auto r = decrypt_stream(key, bad);
    REQUIRE_FALSE(r.ok());
  }
  SECTION("two segments swapped") {
    const size_t seg = k_segment + 16;
    std::string bad = stored.substr(0, 32) + stored.substr(32 + seg, seg) + stored.substr(32, seg) + stored.substr(32 + 2 * seg);
    auto r = decrypt_stream(key, bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
  }
  SECTION("another data key") {
    auto r = decrypt_stream(crypto::SecretKey::random(), stored);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::crypto);
  }
}

TEST_CASE("EncryptingWriter aborts the inner writer and commits nothing") {
  std::string stored;
  bool aborted = false;
  {
    EncryptingWriter w(std::make_unique<MemoryWriter>(&stored, &aborted), crypto::SecretKey::random());
    REQUIRE(w.write("some data").ok());
    w.abort();
  }
  CHECK(aborted);
  CHECK(stored.empty());
}

TEST_CASE("seal_marker keeps the listing summary in plaintext and open_marker gives back the full marker") {
  auto key = crypto::SecretKey::random();
  auto sealed = seal_marker(k_full_marker, key);
  REQUIRE(sealed.ok());
  CHECK(sealed->find("secret-api.example.com") == std::string::npos);
  CHECK(sealed->find("payments") == std::string::npos);
  auto outer = json::parse(*sealed);
  REQUIRE(outer.ok());
  CHECK(json::get_string(*outer, {"name"}) == "b1");
  CHECK(json::get_string(*outer, {"phase"}) == "PartiallyFailed");
  CHECK(json::get_string(*outer, {"expiration"}) == "2026-12-26T07:00:00Z");
  CHECK(json::get_string(*outer, {"cluster", "kubeSystemUID"}) == "ks-uid");
  CHECK(json::get_string(*outer, {"cluster", "name"}) == "prod-eu-1");  // listing and prune --cluster read it
  CHECK(json::at(*outer, {"cluster", "server"}) == nullptr);
  CHECK(json::at(*outer, {"counts", "byResource"}) == nullptr);
  CHECK(json::at(*outer, {"counts", "errors"})->GetUint64() == 2);
  CHECK(json::find(*outer, "selection") == nullptr);
  CHECK(json::find(*outer, "apiGroups") == nullptr);
  CHECK(json::find(*outer, "errors") == nullptr);
  CHECK(json::get_string(*outer, {"encryption", "dataKeyId"}) == key.data_key_id());
  CHECK(json::at(*outer, {"encryption", "version"})->GetInt() == 1);
  CHECK(is_encrypted(*outer));
  CHECK(archive_object(&*outer, "b1") == "backups/b1/b1.kbk");

  auto full = open_marker(*outer, key);
  REQUIRE(full.ok());
  auto want = json::parse(k_full_marker);
  REQUIRE(want.ok());
  CHECK(json::to_string(*full) == json::to_string(*want));

  auto wrong = open_marker(*outer, crypto::SecretKey::random());
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == Errc::crypto);

  // The sealed content of another backup does not pass for this one.
  json::set(*outer, "name", json::make_string("b2", outer->GetAllocator()), outer->GetAllocator());
  auto renamed = open_marker(*outer, key);
  REQUIRE_FALSE(renamed.ok());
  CHECK(renamed.error().message.find("another backup") != std::string::npos);

  auto plain = json::parse(R"({"name":"p","archive":{"encrypted":false}})");
  REQUIRE(plain.ok());
  CHECK_FALSE(is_encrypted(*plain));
  CHECK(archive_object(&*plain, "p") == "backups/p/p.tar.gz");
  CHECK(archive_object(nullptr, "v") == "backups/v/v.tar.gz");
  REQUIRE_FALSE(seal_marker(R"({"name":"p","archive":{"encrypted":false}})", key).ok());
}

TEST_CASE("open_marker refuses a plaintext summary that no longer matches the sealed marker") {
  auto key = crypto::SecretKey::random();
  auto sealed = seal_marker(k_full_marker, key);
  REQUIRE(sealed.ok());
  // Each edit an attacker with write access to the location could make to the plaintext part.
  const std::vector<std::pair<std::vector<std::string_view>, std::string>> edits = {
      {{"phase"}, "Completed"},
      {{"archive", "key"}, "backups/b1/b1-logs.gz.kbk"},
      {{"archive", "sha256"}, std::string(64, '0')},
      {{"expiration"}, "2099-01-01T00:00:00Z"},
      {{"cluster", "name"}, "staging"},  // would steer prune --cluster
      {{"cluster", "kubeSystemUID"}, "other-uid"},
  };
  for (const auto& [path, value] : edits) {
    auto outer = json::parse(*sealed);
    REQUIRE(outer.ok());
    json::Value* v = path.size() == 1 ? json::find(*outer, path[0]) : json::at(*outer, {path[0], path[1]});
    REQUIRE(v != nullptr);
    v->SetString(value.c_str(), static_cast<rapidjson::SizeType>(value.size()), outer->GetAllocator());
    auto opened = open_marker(*outer, key);
    INFO(std::string(path.back()));
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error().code == Errc::corrupt);
    CHECK(opened.error().message.find("differs from the sealed marker") != std::string::npos);
  }
  auto outer = json::parse(*sealed);
  REQUIRE(outer.ok());
  json::at(*outer, {"counts", "errors"})->SetUint64(0);
  auto opened = open_marker(*outer, key);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().message.find("counts differ") != std::string::npos);
}

TEST_CASE("open_backup_key tries every key object and names them when none opens") {
  TempLocation loc;
  auto mine = user_key('m');
  auto other = user_key('o');
  auto nk = new_backup_key(mine);
  REQUIRE(nk.ok());
  BackupPaths p{"b1"};

  auto none = open_backup_key(*loc.backend, "b1", mine);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == Errc::crypto);
  CHECK(none.error().message.find("no key objects") != std::string::npos);

  // A second key object (the same data key wrapped by another user key, as after a key rotation).
  auto wrapped_other = crypto::wrap_data_key(nk->data_key, other);
  REQUIRE(wrapped_other.ok());
  REQUIRE(loc.backend->put(p.key_object(wrapped_other->key_id), wrapped_other->json, {}).ok());
  REQUIRE(loc.backend->put(p.key_object(nk->object.key_id), nk->object.json, {}).ok());
  auto opened = open_backup_key(*loc.backend, "b1", mine);
  REQUIRE(opened.ok());
  CHECK(opened->bytes() == nk->data_key.bytes());
  auto by_other = open_backup_key(*loc.backend, "b1", other);
  REQUIRE(by_other.ok());
  CHECK(by_other->bytes() == nk->data_key.bytes());

  auto wrong = open_backup_key(*loc.backend, "b1", user_key('w'));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == Errc::crypto);
  CHECK(wrong.error().message.rfind("the encryption key does not open backup b1 (tried kbk-key-", 0) == 0);
  CHECK(wrong.error().message.find("kbk-key-" + nk->object.key_id) != std::string::npos);
  CHECK(wrong.error().message.find("kbk-key-" + wrapped_other->key_id) != std::string::npos);
}

TEST_CASE("backup_data_key: nothing for a plain backup, a usage error without a key, the data key with one") {
  TempLocation loc;
  auto user = user_key('m');
  auto nk = new_backup_key(user);
  REQUIRE(nk.ok());
  REQUIRE(loc.backend->put(BackupPaths{"b1"}.key_object(nk->object.key_id), nk->object.json, {}).ok());
  auto enc = json::parse(R"({"name":"b1","archive":{"encrypted":true}})");
  auto plain = json::parse(R"({"name":"p","archive":{"encrypted":false}})");
  REQUIRE(enc.ok());
  REQUIRE(plain.ok());

  auto p = backup_data_key(*loc.backend, "p", &*plain, &user);
  REQUIRE(p.ok());
  CHECK_FALSE(p->has_value());
  auto no_key = backup_data_key(*loc.backend, "b1", &*enc, nullptr);
  REQUIRE_FALSE(no_key.ok());
  CHECK(no_key.error().code == Errc::config);
  CHECK(no_key.error().message == "backup b1 is encrypted: pass --encryption-key-file");
  auto with_key = backup_data_key(*loc.backend, "b1", &*enc, &user);
  REQUIRE(with_key.ok());
  REQUIRE(with_key->has_value());
  CHECK((*with_key)->bytes() == nk->data_key.bytes());
  // No marker (an incomplete backup): its key objects say it is encrypted.
  auto incomplete = backup_data_key(*loc.backend, "b1", nullptr, nullptr);
  REQUIRE_FALSE(incomplete.ok());
  CHECK(incomplete.error().code == Errc::config);
}

TEST_CASE("read_archive reads an encrypted archive to its final segment") {
  auto key = crypto::SecretKey::random();
  std::string stored;
  bool aborted = false;
  auto enc = std::make_unique<EncryptingWriter>(std::make_unique<MemoryWriter>(&stored, &aborted), key, 16);
  auto w = make_writer(std::move(enc));
  REQUIRE(w.ok());
  for (int i = 0; i < 400; ++i) {
    ItemKey k{"", "v1", "configmaps", "app", "cm" + std::to_string(i)};
    std::string value;  // hex that gzip cannot shrink much: the archive spans several segments
    for (int j = 0; j < 20; ++j) value += crypto::sha256_hex(std::to_string(i * 100 + j));
    std::string body = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm)" + std::to_string(i) +
                       R"("},"data":{"k":")" + value + "\"}}";
    REQUIRE((*w)->add_item(k, body, false).ok());
  }
  REQUIRE((*w)->finish().ok());
  REQUIRE(stored.size() > 2 * (k_segment + 16));  // several segments
  auto read_all = [&](std::string data) {
    DecryptingReader r(std::make_unique<MemoryReader>(std::move(data)), key, "b1.kbk");
    size_t items = 0;
    auto res = read_archive(r, "b1", {}, [&](const Entry& e) -> Result<void> {
      items += e.is_item;
      return {};
    });
    return std::make_pair(res, items);
  };
  auto [ok, items] = read_all(stored);
  REQUIRE(ok.ok());
  CHECK(items == 400);
  // The final segment is cut off at a segment boundary: the tar may already be complete, the stream is not.
  const size_t seg = k_segment + 16;
  const size_t full_segments = (stored.size() - 32) / seg;
  auto [cut, cut_items] = read_all(stored.substr(0, 32 + full_segments * seg));
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().code == Errc::corrupt);
}

namespace {

// Every object key under backups/<name>/ with its content.
std::map<std::string, std::string> folder_objects(storage::Backend& b, const std::string& name) {
  std::map<std::string, std::string> out;
  REQUIRE(b.list(BackupPaths{name}.dir(), [&](const storage::ObjectInfo& info) -> Result<void> {
               auto text = b.get(info.key);
               REQUIRE(text.ok());
               out[info.key] = *text;
               return {};
             }).ok());
  return out;
}

// backups/b1/ of an encrypted backup: one key object for `user`, an archive and a marker.
crypto::SecretKey encrypted_backup(storage::Backend& b, const crypto::UserKey& user) {
  auto nk = new_backup_key(user);
  REQUIRE(nk.ok());
  BackupPaths p{"b1"};
  REQUIRE(b.put(p.key_object(nk->object.key_id), nk->object.json, {}).ok());
  REQUIRE(b.put(p.encrypted_archive(), "KBKE archive bytes", {}).ok());
  REQUIRE(b.put(p.marker(), "{\"sealed\":\"x\"}", {}).ok());
  return nk->data_key;
}

}  // namespace

TEST_CASE("rekey_backup wraps the same data key for the new key and removes what the old key opened") {
  TempLocation loc;
  auto& b = *loc.backend;
  auto old_key = user_key('a');
  auto new_key = user_key('b');
  const crypto::SecretKey data_key = encrypted_backup(b, old_key);
  const auto before = folder_objects(b, "b1");

  auto r = rekey_backup(b, "b1", old_key, new_key, false);
  REQUIRE(r.ok());
  CHECK(r->added.rfind("kbk-key-", 0) == 0);
  CHECK(r->key == r->added);
  REQUIRE(r->removed.size() == 1);
  CHECK(before.count("backups/b1/" + r->removed[0]) == 1);

  auto by_new = open_backup_key(b, "b1", new_key);
  REQUIRE(by_new.ok());
  CHECK(by_new->bytes() == data_key.bytes());
  auto by_old = open_backup_key(b, "b1", old_key);
  REQUIRE_FALSE(by_old.ok());
  CHECK(by_old.error().code == Errc::crypto);

  // Only the key objects changed: the archive and the marker are byte for byte what they were.
  const auto after = folder_objects(b, "b1");
  CHECK(after.size() == 3);
  CHECK(after.at("backups/b1/b1.kbk") == before.at("backups/b1/b1.kbk"));
  CHECK(after.at("backups/b1/kbk-manifest.json") == before.at("backups/b1/kbk-manifest.json"));
  CHECK(after.count("backups/b1/" + r->added) == 1);

  // Run again: the old key opens nothing, the new one does: nothing to do, nothing changed.
  auto again = rekey_backup(b, "b1", old_key, new_key, false);
  REQUIRE(again.ok());
  CHECK(again->added.empty());
  CHECK(again->removed.empty());
  CHECK(again->key == r->added);
  CHECK(folder_objects(b, "b1") == after);
}

TEST_CASE("rekey_backup keep_old and an interrupted rotation leave both keys opening the backup; a rerun finishes it") {
  TempLocation loc;
  auto& b = *loc.backend;
  auto old_key = user_key('a');
  auto new_key = user_key('b');
  const crypto::SecretKey data_key = encrypted_backup(b, old_key);

  // keep_old stops where a kill between the write and the removal would: both keys open the backup.
  auto kept = rekey_backup(b, "b1", old_key, new_key, true);
  REQUIRE(kept.ok());
  CHECK_FALSE(kept->added.empty());
  CHECK(kept->removed.empty());
  for (const auto* k : {&old_key, &new_key}) {
    auto opened = open_backup_key(b, "b1", *k);
    REQUIRE(opened.ok());
    CHECK(opened->bytes() == data_key.bytes());
  }
  CHECK(folder_objects(b, "b1").size() == 4);

  // The rerun reuses the key object written before (no second one) and removes the old key's.
  auto rerun = rekey_backup(b, "b1", old_key, new_key, false);
  REQUIRE(rerun.ok());
  CHECK(rerun->added.empty());
  CHECK(rerun->key == kept->added);
  CHECK(rerun->removed.size() == 1);
  const auto after = folder_objects(b, "b1");
  CHECK(after.size() == 3);
  CHECK(after.count("backups/b1/" + kept->added) == 1);
  CHECK_FALSE(open_backup_key(b, "b1", old_key).ok());
  auto by_new = open_backup_key(b, "b1", new_key);
  REQUIRE(by_new.ok());
  CHECK(by_new->bytes() == data_key.bytes());
}

TEST_CASE("rekey_backup refuses a wrong old key and the same key, changing nothing; a passphrase can be the new key") {
  TempLocation loc;
  auto& b = *loc.backend;
  auto old_key = user_key('a');
  const crypto::SecretKey data_key = encrypted_backup(b, old_key);
  const auto before = folder_objects(b, "b1");

  auto wrong = rekey_backup(b, "b1", user_key('w'), user_key('b'), false);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == Errc::crypto);
  CHECK(wrong.error().message.rfind("the encryption key does not open backup b1 (tried kbk-key-", 0) == 0);

  auto same = rekey_backup(b, "b1", old_key, user_key('a'), false);
  REQUIRE_FALSE(same.ok());
  CHECK(same.error().code == Errc::config);
  CHECK(same.error().message.find("the new encryption key is the old one") == 0);

  auto missing = rekey_backup(b, "nope", old_key, user_key('b'), false);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("has no key objects") != std::string::npos);
  CHECK(folder_objects(b, "b1") == before);

  auto passphrase = crypto::parse_user_key("correct horse battery staple\n", "test passphrase");
  REQUIRE(passphrase.ok());
  REQUIRE(passphrase->kind == crypto::UserKey::Kind::passphrase);
  auto r = rekey_backup(b, "b1", old_key, *passphrase, false);
  REQUIRE(r.ok());
  auto by_passphrase = open_backup_key(b, "b1", *passphrase);
  REQUIRE(by_passphrase.ok());
  CHECK(by_passphrase->bytes() == data_key.bytes());
  CHECK_FALSE(open_backup_key(b, "b1", old_key).ok());
}
