// Encryption format v1 (docs/format-encryption.md): round trips, and one clear error for a wrong key, a tampered
// byte, a truncated stream, reordered segments.
#include <kbk/crypto/encryption.hpp>

#include <catch2/catch.hpp>

#include <random>

#include <kbk/util/strings.hpp>

using namespace kbk;
using namespace kbk::crypto;

namespace {

std::string data_of(size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Encrypts in uneven pieces, as a streaming writer would.
std::string encrypt_pieces(const SecretKey& k, const std::string& plain, int log2 = 16) {
  Encryptor e(k, log2);
  std::string out;
  for (size_t off = 0; off < plain.size(); off += 7777) out += e.update(std::string_view(plain).substr(off, 7777));
  out += e.finish();
  return out;
}

Result<std::string> decrypt_pieces(const SecretKey& k, const std::string& cipher, size_t piece = 5000) {
  Decryptor d(k, "backups/b1/b1.kbk");
  std::string out;
  for (size_t off = 0; off < cipher.size(); off += piece) {
    KBK_ASSIGN_OR_RETURN(auto p, d.update(std::string_view(cipher).substr(off, piece)));
    out += p;
  }
  KBK_ASSIGN_OR_RETURN(auto tail, d.finish());
  return out + tail;
}

constexpr size_t k_seg = 1u << 16;  // the tests use 64 KiB segments
constexpr size_t k_sealed = k_seg + 16;

}  // namespace

TEST_CASE("Encryptor/Decryptor: round trips at every size boundary, layout as specified") {
  auto key = SecretKey::random();
  for (size_t n : {size_t{0}, size_t{1}, k_seg - 1, k_seg, k_seg + 1, 3 * k_seg, 3 * k_seg + 12345}) {
    INFO("plaintext " << n);
    const std::string plain = data_of(n, static_cast<unsigned>(n));
    const std::string cipher = encrypt_pieces(key, plain);
    size_t segments = std::max<size_t>(1, (n + k_seg - 1) / k_seg);
    CHECK(cipher.size() == 32 + n + 16 * segments);
    CHECK(cipher.substr(0, 4) == "KBKE");
    CHECK(cipher[4] == 1);
    CHECK(cipher[5] == 16);
    CHECK(is_encrypted_stream(cipher));
    auto back = decrypt_pieces(key, cipher);
    REQUIRE(back.ok());
    CHECK((*back == plain));
    auto one_byte_at_a_time = decrypt_pieces(key, cipher, 1);
    REQUIRE(one_byte_at_a_time.ok());
    CHECK((*one_byte_at_a_time == plain));
  }
  // Two encryptions of the same data differ (fresh stream salt).
  CHECK(encrypt(key, "same") != encrypt(key, "same"));
  CHECK(*decrypt(key, encrypt(key, "hello"), "x") == "hello");
}

TEST_CASE("Decryptor: a wrong data key is named as such") {
  auto cipher = encrypt(SecretKey::random(), "secret");
  auto r = decrypt(SecretKey::random(), cipher, "backups/b1/b1.kbk");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().is(Errc::crypto));
  CHECK(r.error().message.find("backups/b1/b1.kbk: encrypted with another data key") == 0);
}

TEST_CASE("Decryptor: one tampered byte anywhere fails authentication") {
  auto key = SecretKey::random();
  const std::string plain = data_of(3 * k_seg + 100);
  const std::string cipher = encrypt_pieces(key, plain);
  for (size_t pos : {size_t{20}, size_t{32}, 32 + k_sealed + 5, cipher.size() - 1, cipher.size() - 20}) {
    INFO("flipped byte " << pos);
    std::string bad = cipher;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x01);
    auto r = decrypt_pieces(key, bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(Errc::corrupt));
    CHECK(r.error().message.find("failed authentication") != std::string::npos);
  }
  // The data key id in the header is checked before anything else.
  std::string bad = cipher;
  bad[9] = static_cast<char>(bad[9] ^ 0x01);
  auto r = decrypt_pieces(key, bad);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().is(Errc::crypto));
}

TEST_CASE("Decryptor: a truncated stream is reported as truncated, never as success") {
  auto key = SecretKey::random();
  const std::string plain = data_of(3 * k_seg + 100);
  const std::string cipher = encrypt_pieces(key, plain);
  // Cut at a segment boundary: everything present verifies, the end is missing.
  auto at_boundary = decrypt_pieces(key, cipher.substr(0, 32 + 2 * k_sealed));
  REQUIRE_FALSE(at_boundary.ok());
  CHECK(at_boundary.error().is(Errc::corrupt));
  CHECK(at_boundary.error().message == "backups/b1/b1.kbk: truncated: the object ends after segment 1 without its final segment");
  // Cut inside a segment.
  auto inside = decrypt_pieces(key, cipher.substr(0, 32 + k_sealed + 999));
  REQUIRE_FALSE(inside.ok());
  CHECK(inside.error().message.find("cut short") != std::string::npos);
  // Cut inside the header, and nothing at all.
  auto header = decrypt_pieces(key, cipher.substr(0, 20));
  REQUIRE_FALSE(header.ok());
  CHECK(header.error().message.find("truncated") != std::string::npos);
  // Trailing garbage after the final segment.
  Decryptor d(key, "x");
  REQUIRE(d.update(cipher).ok());
  REQUIRE(d.finish().ok());
  auto extra = d.update("more");
  REQUIRE_FALSE(extra.ok());
  CHECK(extra.error().message.find("data after the final segment") != std::string::npos);
}

TEST_CASE("Decryptor: reordered or dropped segments fail authentication") {
  auto key = SecretKey::random();
  const std::string plain = data_of(3 * k_seg + 100);
  const std::string cipher = encrypt_pieces(key, plain);
  std::string s0 = cipher.substr(32, k_sealed), s1 = cipher.substr(32 + k_sealed, k_sealed);
  std::string swapped = cipher.substr(0, 32) + s1 + s0 + cipher.substr(32 + 2 * k_sealed);
  auto r = decrypt_pieces(key, swapped);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "backups/b1/b1.kbk: segment 0 failed authentication: the object was modified or its segments reordered");
  std::string dropped = cipher.substr(0, 32) + s0 + cipher.substr(32 + 2 * k_sealed);
  auto d = decrypt_pieces(key, dropped);
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().message.find("segment 1 failed authentication") != std::string::npos);
  // A stream's segments do not open in another stream of the same data key (per-stream keys).
  const std::string other = encrypt_pieces(key, plain);
  std::string spliced = cipher.substr(0, 32 + k_sealed) + other.substr(32 + k_sealed);
  CHECK_FALSE(decrypt_pieces(key, spliced).ok());
}

TEST_CASE("Decryptor: not an encrypted object, newer versions") {
  auto key = SecretKey::random();
  auto plain = decrypt(key, std::string(100, 'x'), "backups/b1/b1.tar.gz");
  REQUIRE_FALSE(plain.ok());
  CHECK(plain.error().message == "backups/b1/b1.tar.gz: not a kbk encrypted object");
  std::string v2 = encrypt(key, "x");
  v2[4] = 2;
  auto r = decrypt(key, v2, "o");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().is(Errc::unsupported));
  CHECK(r.error().message.find("version 2") != std::string::npos);
}

TEST_CASE("parse_user_key: 32 raw bytes, 64 hex, base64 of 32, one trailing newline; else a passphrase") {
  const std::string raw = data_of(32, 9);
  auto k1 = parse_user_key(raw, "f");
  REQUIRE(k1.ok());
  CHECK(k1->kind == UserKey::Kind::key);
  CHECK(k1->key.bytes() == raw);
  auto k2 = parse_user_key(util::hex_encode(raw.data(), raw.size()) + "\n", "f");
  REQUIRE(k2.ok());
  CHECK(k2->kind == UserKey::Kind::key);
  CHECK(k2->key.bytes() == raw);
  auto k3 = parse_user_key(util::base64_encode(raw) + "\r\n", "f");
  REQUIRE(k3.ok());
  CHECK(k3->kind == UserKey::Kind::key);
  CHECK(k3->key.bytes() == raw);
  auto k4 = parse_user_key(raw + "\n", "f");  // raw bytes with the newline removed
  REQUIRE(k4.ok());
  CHECK(k4->kind == UserKey::Kind::key);
  auto p = parse_user_key("correct horse battery staple\n", "f");
  REQUIRE(p.ok());
  CHECK(p->kind == UserKey::Kind::passphrase);
  CHECK(p->passphrase == "correct horse battery staple");
  auto p2 = parse_user_key(std::string(63, 'a'), "f");  // almost hex
  CHECK(p2->kind == UserKey::Kind::passphrase);
  auto empty = parse_user_key("\n", "key file /k");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().is(Errc::config));
}

TEST_CASE("unwrap_data_key refuses hostile scrypt parameters before deriving anything") {
  const auto data_key = SecretKey::random();
  auto pass = parse_user_key("hunter2 hunter2", "f");
  ScryptParams fast;
  fast.n = 1024;
  auto obj = wrap_data_key(data_key, *pass, fast);
  REQUIRE(obj.ok());
  struct Case {
    int64_t n, r, p;
  };
  // 2^40 (the format's range ends at 2^20), not a power of two, 4 GiB of memory (2^20 * 32 * 128), 2^29 blocks.
  for (Case c : {Case{1ll << 40, 8, 1}, Case{3000, 8, 1}, Case{1 << 20, 32, 1}, Case{1 << 20, 8, 16}, Case{1024, 0, 1},
                 Case{1024, 8, 17}, Case{-1024, 8, 1}}) {
    KeyObjectFields f = obj->fields;
    f.scrypt_n = c.n;
    f.scrypt_r = c.r;
    f.scrypt_p = c.p;
    auto r = unwrap_data_key(f, *pass, "backups/b1/kbk-key-1");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(Errc::corrupt));
    CHECK(r.error().message.find("scrypt parameters") != std::string::npos);
  }
  // The default parameters (64 MiB) are within the limits.
  KeyObjectFields def = obj->fields;
  def.scrypt_n = 1 << 16;
  CHECK(unwrap_data_key(def, *pass, "k").error().is(Errc::crypto));  // accepted, then the wrong salt/N fails the tag
}

TEST_CASE("wrap_data_key / unwrap_data_key: key and passphrase, wrong key, wrong kind, tampered object") {
  const auto data_key = SecretKey::random();
  auto user = parse_user_key(data_of(32, 3), "f");
  REQUIRE(user.ok());
  auto obj = wrap_data_key(data_key, *user);
  REQUIRE(obj.ok());
  CHECK(obj->key_id.size() == 16);
  CHECK(obj->json.find("\"format\": \"kbk-key\"") != std::string::npos);
  CHECK(obj->json.find("\"dataKeyId\": \"" + data_key.data_key_id() + "\"") != std::string::npos);
  auto back = unwrap_data_key(obj->fields, *user, "kbk-key-" + obj->key_id);
  REQUIRE(back.ok());
  CHECK(back->bytes() == data_key.bytes());

  auto other = parse_user_key(data_of(32, 4), "f");
  auto wrong = unwrap_data_key(obj->fields, *other, "backups/b1/kbk-key-x");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().is(Errc::crypto));
  CHECK(wrong.error().message == "backups/b1/kbk-key-x: the encryption key does not open this key object (wrong key or passphrase)");

  ScryptParams fast;
  fast.n = 1024;  // keep the test quick; the format allows 2^10..2^20
  auto pass = parse_user_key("hunter2 hunter2", "f");
  auto pobj = wrap_data_key(data_key, *pass, fast);
  REQUIRE(pobj.ok());
  CHECK(pobj->json.find("\"name\": \"scrypt\"") != std::string::npos);
  CHECK(unwrap_data_key(pobj->fields, *pass, "k")->bytes() == data_key.bytes());
  auto wrong_pass = unwrap_data_key(pobj->fields, *parse_user_key("hunter3 hunter3", "f"), "k");
  REQUIRE_FALSE(wrong_pass.ok());
  CHECK(wrong_pass.error().is(Errc::crypto));
  auto kind = unwrap_data_key(pobj->fields, *user, "k");
  REQUIRE_FALSE(kind.ok());
  CHECK(kind.error().message.find("needs a passphrase") != std::string::npos);
  // Two wraps with one passphrase use different salts, hence different key ids.
  CHECK(wrap_data_key(data_key, *pass, fast)->key_id != pobj->key_id);

  KeyObjectFields tampered = obj->fields;
  tampered.key_id[0] = tampered.key_id[0] == 'a' ? 'b' : 'a';
  CHECK(unwrap_data_key(tampered, *user, "k").error().is(Errc::crypto));
  KeyObjectFields newer = obj->fields;
  newer.version = 7;
  CHECK(unwrap_data_key(newer, *user, "k").error().is(Errc::unsupported));
  KeyObjectFields no_version = obj->fields;
  no_version.version = 0;
  CHECK(unwrap_data_key(no_version, *user, "k").error().is(Errc::corrupt));
  // The JSON text the location holds, through json::parse and the key object's schema.
  CHECK(unwrap_data_key(obj->json, *user, "k")->bytes() == data_key.bytes());
  CHECK(unwrap_data_key("{not json", *user, "k").error().is(Errc::corrupt));
  std::string newer_text = obj->json;
  newer_text.replace(newer_text.find("\"version\": 1"), 12, "\"version\": 7");
  CHECK(unwrap_data_key(newer_text, *user, "k").error().is(Errc::unsupported));
  std::string twice = obj->json;
  twice.insert(twice.find("\"version\""), "\"keyId\": \"other\", ");
  CHECK(unwrap_data_key(twice, *user, "k").error().message.find("member \"keyId\" appears twice") != std::string::npos);
}

TEST_CASE("encryption end to end: data key per backup, user key wraps it, rotation rewraps only the key") {
  auto user = parse_user_key("an old passphrase", "f");
  ScryptParams fast;
  fast.n = 1024;
  const auto data_key = SecretKey::random();
  const std::string archive = data_of(200000, 5);
  const std::string cipher = encrypt(data_key, archive);
  auto key_object = wrap_data_key(data_key, *user, fast);
  REQUIRE(key_object.ok());
  // Rotation: open with the old key, wrap with the new one; the archive bytes are untouched.
  auto opened = unwrap_data_key(key_object->fields, *user, "k");
  REQUIRE(opened.ok());
  auto new_user = parse_user_key(std::string(64, 'f'), "f");
  auto rotated = wrap_data_key(*opened, *new_user);
  REQUIRE(rotated.ok());
  auto reopened = unwrap_data_key(rotated->fields, *new_user, "k");
  REQUIRE(reopened.ok());
  CHECK((*decrypt(*reopened, cipher, "a") == archive));
}

TEST_CASE("passphrase keys: remembered only once they open their object, at most 8, the same key each time") {
  const auto data_key = SecretKey::random();
  ScryptParams fast;
  fast.n = 1024;
  auto pass = parse_user_key("correct horse battery staple", "f");
  auto wrong = parse_user_key("incorrect horse", "f");
  REQUIRE(pass.ok());
  REQUIRE(wrong.ok());
  std::vector<KeyObject> objects;
  for (int i = 0; i < 12; ++i) {  // each wrap has a fresh salt: twelve different derived keys
    auto o = wrap_data_key(data_key, *pass, fast);
    REQUIRE(o.ok());
    objects.push_back(std::move(*o));
  }
  const std::size_t before = remembered_key_count();
  // A wrong passphrase (kbk ui's password field, typed wrong many times) leaves nothing behind.
  for (const auto& o : objects) {
    auto r = unwrap_data_key(o.fields, *wrong, "k");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(Errc::crypto));
  }
  CHECK(remembered_key_count() == before);
  for (int round = 0; round < 2; ++round)  // the second round recalls some and derives the others again
    for (const auto& o : objects) {
      auto r = unwrap_data_key(o.fields, *pass, "k");
      REQUIRE(r.ok());
      CHECK(r->bytes() == data_key.bytes());
      CHECK(remembered_key_count() <= 8);
    }
  CHECK(remembered_key_count() == 8);
  // A remembered key still refuses the wrong passphrase for its object.
  CHECK_FALSE(unwrap_data_key(objects.back().fields, *wrong, "k").ok());
}
