// Encryption at rest, format version 1: see docs/format-encryption.md (the layout and the checks are specified
// there; this file follows it section by section).
#include <kbk/crypto/encryption.hpp>

#include <kbk/json/json.hpp>
#include <kbk/json/schema.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <tuple>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <mutex>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <kbk/crypto/hash.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::crypto {
namespace {

constexpr size_t k_key_size = 32;
constexpr size_t k_tag_size = 16;
constexpr size_t k_nonce_size = 12;
constexpr size_t k_header_size = 32;
constexpr char k_magic[4] = {'K', 'B', 'K', 'E'};

[[noreturn]] void openssl_failed(const char* what) {
  std::fprintf(stderr, "kbk: fatal: OpenSSL %s failed\n", what);
  std::abort();
}

const unsigned char* u8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* u8(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// AES-256-GCM seal: ciphertext || tag.
std::string gcm_seal(std::string_view key, std::string_view nonce, std::string_view aad, std::string_view plaintext) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (!ctx) openssl_failed("EVP_CIPHER_CTX_new");
  std::string out(plaintext.size() + k_tag_size, '\0');
  int len = 0;
  if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx, nullptr, nullptr, u8(key), u8(nonce)) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx, nullptr, &len, u8(aad), static_cast<int>(aad.size())) != 1))
    openssl_failed("AES-GCM init");
  int n = 0;
  if (!plaintext.empty() && EVP_EncryptUpdate(ctx, u8(out), &n, u8(plaintext), static_cast<int>(plaintext.size())) != 1)
    openssl_failed("AES-GCM encrypt");
  int f = 0;
  if (EVP_EncryptFinal_ex(ctx, u8(out) + n, &f) != 1) openssl_failed("AES-GCM final");
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(k_tag_size), u8(out) + plaintext.size()) != 1)
    openssl_failed("AES-GCM tag");
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

// AES-256-GCM open; nullopt when the tag does not verify.
std::optional<std::string> gcm_open(std::string_view key, std::string_view nonce, std::string_view aad,
                                    std::string_view sealed) {
  if (sealed.size() < k_tag_size) return std::nullopt;
  const size_t n_plain = sealed.size() - k_tag_size;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (!ctx) openssl_failed("EVP_CIPHER_CTX_new");
  std::string out(n_plain, '\0');
  int len = 0;
  if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx, nullptr, nullptr, u8(key), u8(nonce)) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx, nullptr, &len, u8(aad), static_cast<int>(aad.size())) != 1))
    openssl_failed("AES-GCM init");
  int n = 0;
  if (n_plain && EVP_DecryptUpdate(ctx, u8(out), &n, u8(sealed), static_cast<int>(n_plain)) != 1)
    openssl_failed("AES-GCM decrypt");
  std::string tag(sealed.substr(n_plain));
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(k_tag_size), tag.data()) != 1)
    openssl_failed("AES-GCM set tag");
  int f = 0;
  int ok = EVP_DecryptFinal_ex(ctx, u8(out) + n, &f);
  EVP_CIPHER_CTX_free(ctx);
  if (ok != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return std::nullopt;
  }
  return out;
}

std::string segment_nonce(uint32_t index, bool final) {
  std::string n(k_nonce_size, '\0');
  n[7] = static_cast<char>((index >> 24) & 0xff);
  n[8] = static_cast<char>((index >> 16) & 0xff);
  n[9] = static_cast<char>((index >> 8) & 0xff);
  n[10] = static_cast<char>(index & 0xff);
  n[11] = final ? '\x01' : '\x00';
  return n;
}

std::string key_id_of(const std::string& kek) {
  std::string mac = hmac_sha256(kek, "kbk key id v1");
  return util::hex_encode(mac.data(), 8);
}

std::string stream_key(const SecretKey& data_key, std::string_view salt) {
  return hmac_sha256(data_key.bytes(), "kbk stream v1" + std::string(salt));
}

Result<std::string> scrypt_kek(const std::string& passphrase, std::string_view salt, const ScryptParams& p) {
  std::string out(k_key_size, '\0');
  // 128 * r * N bytes of memory, plus slack.
  uint64_t maxmem = 128ull * p.r * p.n + (16ull << 20);
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(), u8(salt), salt.size(), p.n, p.r, p.p, maxmem, u8(out),
                     out.size()) != 1)
    return unexpected(Errc::crypto, "scrypt key derivation failed (N=" + std::to_string(p.n) + ")");
  return out;
}

// The same key object opened again by this process (a backup opens its volume-data repository's key once to check
// it, once for the run's lock and once per worker) derives the same key: scrypt runs once per passphrase, salt and
// parameters (tens to hundreds of milliseconds each, and 32 MiB), and the result is kept, like the passphrase itself,
// in this process's memory only. Only a key that opened its key object is kept (a wrong passphrase typed into kbk ui
// leaves nothing behind), at most k_max of them (a long-running kbk ui sees many), and each is wiped when it is
// dropped and when the process ends.
class KekMemo {
public:
  static constexpr std::size_t k_max = 8;

  ~KekMemo() {
    for (auto& e : m_entries) OPENSSL_cleanse(e.second.data(), e.second.size());
  }

  static std::string id_of(const std::string& passphrase, std::string_view salt, const ScryptParams& p) {
    return sha256_hex(std::to_string(p.n) + "/" + std::to_string(p.r) + "/" + std::to_string(p.p) + "/" +
                      std::to_string(salt.size()) + "/" + std::string(salt) + passphrase);
  }

  std::optional<std::string> recall(const std::string& id) {
    std::lock_guard lock(m_mutex);
    for (const auto& e : m_entries)
      if (e.first == id) return e.second;
    return std::nullopt;
  }

  void remember(const std::string& id, const std::string& kek) {
    std::lock_guard lock(m_mutex);
    for (const auto& e : m_entries)
      if (e.first == id) return;
    if (m_entries.size() == k_max) {
      OPENSSL_cleanse(m_entries.front().second.data(), m_entries.front().second.size());
      m_entries.pop_front();
    }
    m_entries.emplace_back(id, kek);
  }

  std::size_t size() {
    std::lock_guard lock(m_mutex);
    return m_entries.size();
  }

private:
  std::mutex m_mutex;
  std::deque<std::pair<std::string, std::string>> m_entries;  // id -> key, oldest first
};

KekMemo& kek_memo() {
  static KekMemo memo;
  return memo;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

Error bad_object(std::string_view what, const std::string& why) {
  return Error(Errc::corrupt, std::string(what) + ": not a valid kbk key object: " + why);
}

}  // namespace

std::size_t remembered_key_count() { return kek_memo().size(); }

// ---- keys ----

SecretKey::SecretKey(std::string bytes) : m_bytes(std::move(bytes)) {}
SecretKey::~SecretKey() {
  if (!m_bytes.empty()) OPENSSL_cleanse(m_bytes.data(), m_bytes.size());
}
SecretKey SecretKey::random() { return SecretKey(random_bytes(k_key_size)); }
std::string SecretKey::data_key_id() const {
  std::string mac = hmac_sha256(m_bytes, "kbk data key id v1");
  return util::hex_encode(mac.data(), 8);
}

UserKey::~UserKey() {
  if (!passphrase.empty()) OPENSSL_cleanse(passphrase.data(), passphrase.size());
}

Result<UserKey> parse_user_key(std::string_view content, std::string_view what) {
  std::string c(content);
  if (util::ends_with(c, "\r\n")) c.resize(c.size() - 2);
  else if (util::ends_with(c, "\n")) c.resize(c.size() - 1);
  UserKey k;
  if (c.empty()) return unexpected(Errc::config, std::string(what) + ": the encryption key file is empty");
  if (c.size() == k_key_size) {
    k.key = SecretKey(c);
  } else if (c.size() == 64 && std::all_of(c.begin(), c.end(), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)) != 0; })) {
    k.key = SecretKey(*util::hex_decode(c));
  } else if (auto b = c.size() == 44 ? util::base64_decode(c) : std::nullopt; b && b->size() == k_key_size) {
    k.key = SecretKey(*b);
  } else {
    k.kind = UserKey::Kind::passphrase;
    k.passphrase = c;
  }
  OPENSSL_cleanse(c.data(), c.size());
  return k;
}

Result<UserKey> read_user_key(const std::string& path) {
  auto text = util::read_file(path, util::k_max_input_file);
  if (!text) return unexpected(Errc::config, "encryption key file " + text.error().message);  // names the file
  auto k = parse_user_key(*text, "encryption key file " + path);
  OPENSSL_cleanse(text->data(), text->size());
  return k;
}

Result<KeyObject> wrap_data_key(const SecretKey& data_key, const UserKey& user, const ScryptParams& scrypt) {
  std::string kek, kdf;
  KeyObject out;
  if (user.kind == UserKey::Kind::key) {
    kek = user.key.bytes();
    kdf = "{\"name\": \"none\"}";
  } else {
    std::string salt = random_bytes(16);
    KBK_ASSIGN_OR_RETURN(kek, scrypt_kek(user.passphrase, salt, scrypt));
    out.fields.scrypt_n = static_cast<int64_t>(scrypt.n);
    out.fields.scrypt_r = scrypt.r;
    out.fields.scrypt_p = scrypt.p;
    out.fields.salt = util::base64_encode(salt);
    kdf = "{\"name\": \"scrypt\", \"N\": " + std::to_string(scrypt.n) + ", \"r\": " + std::to_string(scrypt.r) +
          ", \"p\": " + std::to_string(scrypt.p) + ", \"salt\": " + json_string(util::base64_encode(salt)) + "}";
  }
  out.key_id = key_id_of(kek);
  out.fields.format = "kbk-key";
  out.fields.version = k_format_version;
  out.fields.key_id = out.key_id;
  out.fields.data_key_id = data_key.data_key_id();
  out.fields.kdf_name = user.kind == UserKey::Kind::key ? "none" : "scrypt";
  std::string nonce = random_bytes(k_nonce_size);
  std::string sealed = gcm_seal(kek, nonce, "kbk-key v1" + out.key_id, data_key.bytes());
  OPENSSL_cleanse(kek.data(), kek.size());
  out.fields.wrap_alg = "AES-256-GCM";
  out.fields.nonce = util::base64_encode(nonce);
  out.fields.ciphertext = util::base64_encode(sealed);
  out.json = "{\n  \"format\": \"kbk-key\",\n  \"version\": 1,\n  \"keyId\": " + json_string(out.key_id) +
             ",\n  \"dataKeyId\": " + json_string(data_key.data_key_id()) + ",\n  \"kdf\": " + kdf +
             ",\n  \"wrap\": {\"alg\": \"AES-256-GCM\", \"nonce\": " + json_string(util::base64_encode(nonce)) +
             ", \"ciphertext\": " + json_string(util::base64_encode(sealed)) + "},\n  \"created\": " +
             json_string(util::format_rfc3339(std::chrono::system_clock::now())) + "\n}\n";
  return out;
}

Result<SecretKey> unwrap_data_key(const KeyObjectFields& o, const UserKey& user, std::string_view what) {
  if (o.format != "kbk-key") return unexpected(bad_object(what, "\"format\" is not \"kbk-key\""));
  if (o.version < 1) return unexpected(bad_object(what, "no valid \"version\""));
  if (o.version > k_format_version)
    return unexpected(Errc::unsupported, std::string(what) + ": key object version " + std::to_string(o.version) +
                                             " is newer than this kbk reads (" + std::to_string(k_format_version) + ")");
  std::string kek;
  std::string memo_id;  // set for a passphrase: the key is remembered once it opens the object
  if (o.kdf_name == "none") {
    if (user.kind != UserKey::Kind::key)
      return unexpected(Errc::crypto, std::string(what) + ": this key object needs a 32-byte key file, not a passphrase");
    kek = user.key.bytes();
  } else if (o.kdf_name == "scrypt") {
    if (user.kind != UserKey::Kind::passphrase)
      return unexpected(Errc::crypto, std::string(what) + ": this key object needs a passphrase, not a 32-byte key");
    const int64_t n = o.scrypt_n, r = o.scrypt_r, p = o.scrypt_p;
    if (n < 1024 || n > (1 << 20) || (n & (n - 1)) != 0 || r < 1 || r > 32 || p < 1 || p > 16)
      return unexpected(bad_object(what, "scrypt parameters out of range (N=" + std::to_string(n) + ", r=" +
                                             std::to_string(r) + ", p=" + std::to_string(p) + ")"));
    const auto un = static_cast<uint64_t>(n), ur = static_cast<uint64_t>(r), up = static_cast<uint64_t>(p);
    if (128 * un * ur > k_scrypt_max_memory || un * ur * up > k_scrypt_max_work)
      return unexpected(bad_object(what, "scrypt parameters would need more than 256 MiB or 16 times the default work "
                                         "(N=" + std::to_string(n) + ", r=" + std::to_string(r) + ", p=" +
                                             std::to_string(p) + ")"));
    ScryptParams params;
    params.n = un;
    params.r = static_cast<uint32_t>(r);
    params.p = static_cast<uint32_t>(p);
    auto salt = util::base64_decode(o.salt);
    if (!salt || salt->size() != 16) return unexpected(bad_object(what, "scrypt salt is not 16 bytes"));
    memo_id = KekMemo::id_of(user.passphrase, *salt, params);
    if (auto known = kek_memo().recall(memo_id)) {
      kek = std::move(*known);
    } else {
      KBK_ASSIGN_OR_RETURN(kek, scrypt_kek(user.passphrase, *salt, params));
    }
  } else {
    return unexpected(Errc::unsupported, std::string(what) + ": key derivation \"" + util::printable(o.kdf_name, 32) +
                                             "\" is unknown");
  }
  if (o.wrap_alg != "AES-256-GCM") {
    OPENSSL_cleanse(kek.data(), kek.size());
    return unexpected(Errc::unsupported, std::string(what) + ": unknown wrap algorithm");
  }
  auto nonce = util::base64_decode(o.nonce);
  auto sealed = util::base64_decode(o.ciphertext);
  if (!nonce || nonce->size() != k_nonce_size || !sealed || sealed->size() != k_key_size + k_tag_size) {
    OPENSSL_cleanse(kek.data(), kek.size());
    return unexpected(bad_object(what, "wrap nonce or ciphertext has the wrong size"));
  }
  auto opened = gcm_open(kek, *nonce, "kbk-key v1" + o.key_id, *sealed);
  if (opened && !memo_id.empty()) kek_memo().remember(memo_id, kek);
  OPENSSL_cleanse(kek.data(), kek.size());
  if (!opened) return unexpected(Errc::crypto, std::string(what) + ": the encryption key does not open this key object (wrong key or passphrase)");
  SecretKey dk(std::move(*opened));
  if (!o.data_key_id.empty() && o.data_key_id != dk.data_key_id())
    return unexpected(Errc::corrupt, std::string(what) + ": dataKeyId does not match the wrapped key");
  return dk;
}

Result<KeyObjectFields> parse_key_object(std::string_view text, std::string_view what) {
  using json::Field;
  using json::Schema;
  static const Schema schema = Schema::object(
      {Field("format", Schema::string(), json::required), Field("version", Schema::integer(), json::required),
       Field("keyId", Schema::string(json::check_single_line), json::required),
       Field("dataKeyId", Schema::string(json::check_single_line)),
       Field("kdf", Schema::object({Field("name", Schema::string(), json::required), Field("N", Schema::integer()),
                                    Field("r", Schema::integer()), Field("p", Schema::integer()),
                                    Field("salt", Schema::string())}),
             json::required),
       Field("wrap", Schema::object({Field("alg", Schema::string(), json::required),
                                     Field("nonce", Schema::string(), json::required),
                                     Field("ciphertext", Schema::string(), json::required)}),
             json::required),
       Field("created", Schema::string(json::check_rfc3339))});
  KBK_ASSIGN_OR_RETURN(json::Document doc, json::parse(text, what, Errc::corrupt));
  KBK_TRY(schema.check(doc, what));
  KeyObjectFields f;
  auto i64 = [&](std::initializer_list<std::string_view> path) -> int64_t {
    const json::Value* v = json::at(doc, path);
    return v && v->IsInt64() ? v->GetInt64() : 0;
  };
  f.format = json::get_string(doc, {"format"});
  f.version = i64({"version"});
  f.key_id = json::get_string(doc, {"keyId"});
  f.data_key_id = json::get_string(doc, {"dataKeyId"});
  f.kdf_name = json::get_string(doc, {"kdf", "name"});
  f.scrypt_n = i64({"kdf", "N"});
  f.scrypt_r = i64({"kdf", "r"});
  f.scrypt_p = i64({"kdf", "p"});
  f.salt = json::get_string(doc, {"kdf", "salt"});
  f.wrap_alg = json::get_string(doc, {"wrap", "alg"});
  f.nonce = json::get_string(doc, {"wrap", "nonce"});
  f.ciphertext = json::get_string(doc, {"wrap", "ciphertext"});
  return f;
}

Result<SecretKey> unwrap_data_key(std::string_view key_object_json, const UserKey& user, std::string_view what) {
  KBK_ASSIGN_OR_RETURN(KeyObjectFields fields, parse_key_object(key_object_json, what));
  return unwrap_data_key(fields, user, what);
}

bool is_encrypted_stream(std::string_view first_bytes) {
  return first_bytes.size() >= 4 && std::memcmp(first_bytes.data(), k_magic, 4) == 0;
}

// ---- streams ----

Encryptor::Encryptor(const SecretKey& data_key, int segment_size_log2) {
  if (segment_size_log2 < 16 || segment_size_log2 > 24) segment_size_log2 = 20;
  m_segment_size = size_t{1} << segment_size_log2;
  std::string salt = random_bytes(16);
  m_header.assign(k_magic, 4);
  m_header += static_cast<char>(k_format_version);
  m_header += static_cast<char>(segment_size_log2);
  m_header.append(2, '\0');
  m_header += *util::hex_decode(data_key.data_key_id());
  m_header += salt;
  m_stream_key = stream_key(data_key, salt);
}

Encryptor::~Encryptor() { OPENSSL_cleanse(m_stream_key.data(), m_stream_key.size()); }

std::string Encryptor::seal(std::string_view plaintext, bool final) {
  return gcm_seal(m_stream_key, segment_nonce(m_index++, final), m_header, plaintext);
}

std::string Encryptor::update(std::string_view plaintext) {
  std::string out;
  if (!m_header_sent) {
    out = m_header;
    m_header_sent = true;
  }
  m_total += plaintext.size();
  // A full segment is sealed only once more data follows: the last one must carry the final flag.
  while (!plaintext.empty()) {
    if (m_pending.size() == m_segment_size) {
      out += seal(m_pending, false);
      m_pending.clear();
    }
    size_t take = std::min(plaintext.size(), m_segment_size - m_pending.size());
    m_pending.append(plaintext.substr(0, take));
    plaintext.remove_prefix(take);
  }
  return out;
}

std::string Encryptor::finish() {
  if (m_finished) return {};
  std::string out = update({});
  out += seal(m_pending, true);
  OPENSSL_cleanse(m_pending.data(), m_pending.size());
  m_pending.clear();
  m_finished = true;
  return out;
}

Decryptor::Decryptor(const SecretKey& data_key, std::string what) : m_key(data_key), m_what(std::move(what)) {}
Decryptor::~Decryptor() { OPENSSL_cleanse(m_stream_key.data(), m_stream_key.size()); }

Result<void> Decryptor::parse_header() {
  m_header = m_buffer.substr(0, k_header_size);
  m_buffer.erase(0, k_header_size);
  if (!is_encrypted_stream(m_header)) return unexpected(Errc::corrupt, m_what + ": not a kbk encrypted object");
  int version = static_cast<unsigned char>(m_header[4]);
  int log2 = static_cast<unsigned char>(m_header[5]);
  if (version != k_format_version)
    return unexpected(Errc::unsupported, m_what + ": encryption format version " + std::to_string(version) +
                                             " is not supported (this kbk reads version " + std::to_string(k_format_version) + ")");
  if (log2 < 16 || log2 > 24 || m_header[6] != 0 || m_header[7] != 0)
    return unexpected(Errc::unsupported, m_what + ": unsupported segment size or reserved bits in the encryption header");
  std::string id = util::hex_encode(m_header.data() + 8, 8);
  if (id != m_key.data_key_id())
    return unexpected(Errc::crypto, m_what + ": encrypted with another data key (" + id + ", not " + m_key.data_key_id() + ")");
  m_segment_size = size_t{1} << log2;
  m_stream_key = stream_key(m_key, std::string_view(m_header).substr(16, 16));
  return {};
}

Result<std::string> Decryptor::open_segment(std::string_view segment, bool final) {
  auto plain = gcm_open(m_stream_key, segment_nonce(m_index, final), m_header, segment);
  if (!plain) {
    // Tell truncation from tampering: a segment that opens as non-final where the stream ends means the rest
    // of the stream is missing.
    if (final && gcm_open(m_stream_key, segment_nonce(m_index, false), m_header, segment))
      return unexpected(Errc::corrupt, m_what + ": truncated: the object ends after segment " + std::to_string(m_index) +
                                           " without its final segment");
    if (final)
      return unexpected(Errc::corrupt, m_what + ": the last segment (" + std::to_string(m_index) +
                                           ") failed authentication: the object was modified or cut short");
    return unexpected(Errc::corrupt, m_what + ": segment " + std::to_string(m_index) +
                                         " failed authentication: the object was modified or its segments reordered");
  }
  ++m_index;
  return std::move(*plain);
}

Result<std::string> Decryptor::update(std::string_view ciphertext) {
  if (m_failed) return unexpected(Errc::corrupt, m_what + ": decryption already failed");
  if (m_done) {
    if (ciphertext.empty()) return std::string();
    m_failed = true;
    return unexpected(Errc::corrupt, m_what + ": data after the final segment");
  }
  m_buffer.append(ciphertext);
  std::string out;
  if (m_header.empty()) {
    if (m_buffer.size() < k_header_size) return out;
    auto h = parse_header();
    if (!h) {
      m_failed = true;
      return unexpected(std::move(h).error());
    }
  }
  const size_t sealed = m_segment_size + k_tag_size;
  // Open a full segment only when more bytes follow it: only then is it certainly not the final one.
  size_t pos = 0;
  while (m_buffer.size() - pos > sealed) {
    auto p = open_segment(std::string_view(m_buffer).substr(pos, sealed), false);
    if (!p) {
      m_failed = true;
      return unexpected(std::move(p).error());
    }
    out += *p;
    pos += sealed;
  }
  m_buffer.erase(0, pos);
  return out;
}

Result<std::string> Decryptor::finish() {
  if (m_failed) return unexpected(Errc::corrupt, m_what + ": decryption already failed");
  if (m_done) return std::string();
  if (m_header.empty()) {
    m_failed = true;
    return unexpected(Errc::corrupt, m_what + (m_buffer.size() >= 4 && !is_encrypted_stream(m_buffer)
                                                   ? ": not a kbk encrypted object"
                                                   : ": truncated: the object ends inside its encryption header"));
  }
  if (m_buffer.size() < k_tag_size) {
    m_failed = true;
    return unexpected(Errc::corrupt, m_what + ": truncated: the object ends after segment " +
                                         std::to_string(m_index == 0 ? 0 : m_index - 1) + " without its final segment");
  }
  auto p = open_segment(m_buffer, true);
  if (!p) {
    m_failed = true;
    return unexpected(std::move(p).error());
  }
  m_buffer.clear();
  m_done = true;
  return p;
}

std::string encrypt(const SecretKey& data_key, std::string_view plaintext) {
  Encryptor e(data_key);
  std::string out = e.update(plaintext);
  out += e.finish();
  return out;
}

Result<std::string> decrypt(const SecretKey& data_key, std::string_view ciphertext, std::string_view what) {
  Decryptor d(data_key, std::string(what));
  KBK_ASSIGN_OR_RETURN(std::string out, d.update(ciphertext));
  KBK_ASSIGN_OR_RETURN(std::string tail, d.finish());
  return out + tail;
}

}  // namespace kbk::crypto
