// Encryption at rest, format version 1 (docs/format-encryption.md): user keys (key files or passphrases), key
// objects that wrap a per-backup data key, and segmented AES-256-GCM streams.
//
// The stream API works on plain bytes (crypto depends on util only): Encryptor::update() takes plaintext and
// returns the ciphertext ready so far; Decryptor::update() takes ciphertext and returns plaintext whose segments
// have been authenticated. The archive and storage layers wrap their writers and readers with them. Memory is
// bounded by one segment (1 MiB by default).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/util/error.hpp>

namespace kbk::crypto {

inline constexpr int k_format_version = 1;

// 32 secret bytes, wiped when destroyed.
class SecretKey {
public:
  SecretKey() = default;
  explicit SecretKey(std::string bytes);  // must be 32 bytes
  ~SecretKey();
  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;
  SecretKey(SecretKey&&) noexcept = default;
  SecretKey& operator=(SecretKey&&) noexcept = default;

  static SecretKey random();
  const std::string& bytes() const { return m_bytes; }
  bool empty() const { return m_bytes.empty(); }
  // "dataKeyId": 16 hex digits of HMAC-SHA256(key, "kbk data key id v1").
  std::string data_key_id() const;

private:
  std::string m_bytes;
};

// What --encryption-key-file holds: a 32-byte key or a passphrase.
struct UserKey {
  enum class Kind { key, passphrase };
  Kind kind = Kind::key;
  SecretKey key;            // Kind::key
  std::string passphrase;   // Kind::passphrase (wiped on destruction)
  ~UserKey();
};

// Interprets key file content (the rules of the format document). Errc::config for an empty file.
Result<UserKey> parse_user_key(std::string_view content, std::string_view what);
// Reads and parses a key file; Errc::config naming the file when it cannot be read.
Result<UserKey> read_user_key(const std::string& path);

struct ScryptParams {
  uint64_t n = 1u << 16;
  uint32_t r = 8;
  uint32_t p = 1;
};

// What a reader accepts of a key object's scrypt parameters (docs/format-encryption.md): N a power of two from 2^10
// to 2^20, r 1..32, p 1..16, and at most 256 MiB of memory (128 * N * r) and 2^23 hash blocks (N * r * p, 16
// times the default): a key object from a hostile location cannot make opening it take gigabytes or minutes.
inline constexpr uint64_t k_scrypt_max_memory = 256ull << 20;
inline constexpr uint64_t k_scrypt_max_work = 1ull << 23;

// How many passphrase-derived keys this process remembers (at most 8; only keys that opened their key object):
// for tests, and for kbk ui's memory.
std::size_t remembered_key_count();

// A key object's members (docs/format-encryption.md) as a JSON reader found them (the archive module parses and
// type-checks the JSON; this module has no JSON reader). Base64 members are still encoded.
struct KeyObjectFields {
  std::string format;  // "kbk-key"
  int64_t version = 0;
  std::string key_id, data_key_id;
  std::string kdf_name;                         // "none" | "scrypt"
  int64_t scrypt_n = 0, scrypt_r = 0, scrypt_p = 0;
  std::string salt;                             // base64
  std::string wrap_alg, nonce, ciphertext;      // base64
};

struct KeyObject {
  std::string key_id;       // names the object: "kbk-key-" + key_id
  std::string json;         // its content
  KeyObjectFields fields;   // what json holds
};

// Wraps data_key with the user's key into a new key object (a fresh salt for a passphrase).
Result<KeyObject> wrap_data_key(const SecretKey& data_key, const UserKey& user, const ScryptParams& scrypt = {});
// Opens a key object. Errc::crypto when the user key does not open it; Errc::corrupt for a malformed object
// (parameters out of range, wrong sizes), Errc::unsupported for a newer version or unknown algorithm.
Result<SecretKey> unwrap_data_key(const KeyObjectFields& object, const UserKey& user, std::string_view what);
// A key object's JSON (read from outside: json::parse's rules and a type check of every member) as fields;
// Errc::corrupt naming `what` when it is not one.
Result<KeyObjectFields> parse_key_object(std::string_view key_object_json, std::string_view what);
// parse_key_object, then unwrap_data_key.
Result<SecretKey> unwrap_data_key(std::string_view key_object_json, const UserKey& user, std::string_view what);

// True when bytes start with the stream magic ("KBKE").
bool is_encrypted_stream(std::string_view first_bytes);

class Encryptor {
public:
  explicit Encryptor(const SecretKey& data_key, int segment_size_log2 = 20);
  ~Encryptor();
  Encryptor(const Encryptor&) = delete;
  Encryptor& operator=(const Encryptor&) = delete;

  // Ciphertext for what is complete so far (the header comes with the first call).
  std::string update(std::string_view plaintext);
  // The rest, ending with the final segment. Call once.
  std::string finish();
  uint64_t plaintext_bytes() const { return m_total; }

private:
  std::string seal(std::string_view plaintext, bool final);
  std::string m_header;
  std::string m_stream_key;
  std::string m_pending;
  size_t m_segment_size;
  uint32_t m_index = 0;
  uint64_t m_total = 0;
  bool m_header_sent = false;
  bool m_finished = false;
};

class Decryptor {
public:
  // `what` names the object in errors ("backups/b1/b1.kbk").
  Decryptor(const SecretKey& data_key, std::string what);
  ~Decryptor();
  Decryptor(const Decryptor&) = delete;
  Decryptor& operator=(const Decryptor&) = delete;

  // Authenticated plaintext available so far. After an error every later call fails.
  Result<std::string> update(std::string_view ciphertext);
  // The last segment's plaintext; fails when the stream is truncated. Only after finish() succeeded is the
  // whole stream known to be intact.
  Result<std::string> finish();

private:
  Result<void> parse_header();
  Result<std::string> open_segment(std::string_view segment, bool final);
  const SecretKey m_key;
  std::string m_what;
  std::string m_buffer;
  std::string m_header;
  std::string m_stream_key;
  size_t m_segment_size = 0;
  uint32_t m_index = 0;
  bool m_failed = false;
  bool m_done = false;
};

// Whole-buffer helpers (small objects: manifests, results, logs).
std::string encrypt(const SecretKey& data_key, std::string_view plaintext);
Result<std::string> decrypt(const SecretKey& data_key, std::string_view ciphertext, std::string_view what);

}  // namespace kbk::crypto
