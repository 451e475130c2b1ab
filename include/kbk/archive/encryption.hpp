// Encrypted backups (docs/format-archive.md section 5.2, docs/format-encryption.md): the data key of a backup and
// its key objects, storage writers and readers that encrypt and decrypt on the way, and the sealed marker.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/crypto/encryption.hpp>
#include <kbk/crypto/hash.hpp>
#include <kbk/json/json.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>

namespace kbk::archive {

// A new backup's random data key and its key object (to be stored as BackupPaths::key_object(object.key_id)).
struct NewBackupKey {
  crypto::SecretKey data_key;
  crypto::KeyObject object;
};
Result<NewBackupKey> new_backup_key(const crypto::UserKey& user);

// The data key that the user key opens among the key objects (kbk-key-*) directly in `folder` ("backups/b1/"); at
// most k_max_key_objects of them (documents.hpp), each read within k_max_small_bytes.
// `what` names the thing in errors ("backup b1"). Errc::crypto, one line, when none opens:
// "the encryption key does not open backup b1 (tried kbk-key-1, kbk-key-2)", or when there is none.
Result<crypto::SecretKey> open_data_key(storage::Backend& backend, const std::string& folder, const crypto::UserKey& user,
                                        const std::string& what);
// open_data_key for backups/<name>/.
Result<crypto::SecretKey> open_backup_key(storage::Backend& backend, const std::string& name, const crypto::UserKey& user);

// Key rotation (docs/format-encryption.md, "Rotating keys"): what rekey_backup did to backups/<name>/.
struct RekeyResult {
  std::string added;                 // the key object written ("kbk-key-<id>"); empty when the new key already opened one
  std::string key;                   // the key object the new key opens now (added, or the one it already opened)
  std::vector<std::string> removed;  // the key objects the old key opened, removed ("kbk-key-<id>")
};
// Rotates the user key of backup `name` without touching any other object: opens its data key with old_key, writes
// a key object wrapping it with new_key (IfExists::fail), reads that object back and checks it opens with new_key to
// the same data key, and only then removes the key objects old_key opens (none with keep_old). A kill between the
// write and the removal leaves the backup opened by both keys; running again finishes it: a key object new_key
// already opens is reused, and a backup old_key no longer opens but new_key does is left as it is (nothing added
// or removed). Errc::crypto (the "does not open" error of open_data_key) when neither key opens the backup;
// Errc::config when new_key opens the key objects old_key opens (the same key).
Result<RekeyResult> rekey_backup(storage::Backend& backend, const std::string& name, const crypto::UserKey& old_key,
                                 const crypto::UserKey& new_key, bool keep_old);

// Encrypts everything written through it into `inner` (one stream, docs/format-encryption.md). commit() writes
// the final segment first. bytes_written() and stored_sha256() describe the stored (encrypted) bytes.
class EncryptingWriter final : public storage::Writer {
public:
  EncryptingWriter(std::unique_ptr<storage::Writer> inner, const crypto::SecretKey& data_key,
                   int segment_size_log2 = 20);
  Result<void> write(std::string_view data) override;
  Result<void> commit() override;
  void abort() override;
  uint64_t bytes_written() const override { return m_inner ? m_inner->bytes_written() : 0; }
  // SHA-256 (hex) of the encrypted bytes; valid after commit().
  std::string stored_sha256() const { return m_sha256; }

private:
  Result<void> put(const std::string& ciphertext);
  std::unique_ptr<storage::Writer> m_inner;
  crypto::Encryptor m_encryptor;
  crypto::Sha256 m_hash;
  std::string m_sha256;
  bool m_done = false;
};

// Decrypts and authenticates what it reads from `inner`. read() hands out only authenticated bytes and returns 0
// only after the final segment authenticated: a truncated or modified object is an error (Errc::corrupt or
// crypto naming `what`), never a short read.
class DecryptingReader final : public storage::Reader {
public:
  DecryptingReader(std::unique_ptr<storage::Reader> inner, const crypto::SecretKey& data_key, std::string what);
  Result<size_t> read(char* buffer, size_t size) override;

private:
  std::unique_ptr<storage::Reader> m_inner;
  crypto::Decryptor m_decryptor;
  std::string m_plain;
  size_t m_offset = 0;
  std::string m_buffer;
  bool m_finished = false;
};

// ---- the backup's marker -------------------------------------------------------------------------------------

// archive.encrypted of a marker (plain or sealed).
bool is_encrypted(const json::Value& marker);
// The archive's object key: the marker's archive.key, else backups/<name>/<name>.tar.gz (plain kbk, Velero).
std::string archive_object(const json::Value* marker, const std::string& name);

// The sealed marker of an encrypted backup from its full marker JSON (archive.encrypted true): the listing summary
// in plaintext plus "encryption" and "sealed" (docs/format-archive.md section 5.2). Pretty JSON + "\\n".
Result<std::string> seal_marker(std::string_view full_marker_json, const crypto::SecretKey& data_key);
// What the plain marker would have said: for a sealed marker, its sealed content (checked against the outer
// name and uid); for a plain marker, a copy. Errc::crypto / corrupt naming the backup.
Result<json::Document> open_marker(const json::Value& marker, const crypto::SecretKey& data_key);

// "backup X is encrypted: pass --encryption-key-file" (Errc::config: exit 3).
Error key_required(const std::string& name);

// The data key for reading a backup whose marker is `marker` (nullptr: no marker, e.g. an incomplete backup, whose
// key objects decide): nullopt for a plain backup; key_required() when it is encrypted and user is null; the
// opened data key otherwise.
Result<std::optional<crypto::SecretKey>> backup_data_key(storage::Backend& backend, const std::string& name,
                                                         const json::Value* marker, const crypto::UserKey* user);

// A backup's object as a stream, decrypted when data_key is given.
Result<std::unique_ptr<storage::Reader>> open_object(storage::Backend& backend, const std::string& key,
                                                     const crypto::SecretKey* data_key);
// A small object (logs, results, resource list) whole, at most k_max_document_bytes (documents.hpp): decrypted
// when data_key is given.
Result<std::string> read_object(storage::Backend& backend, const std::string& key, const crypto::SecretKey* data_key);

}  // namespace kbk::archive
