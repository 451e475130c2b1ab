// Opening a backup and reading it verified: the one path `kbk backup verify`, `restore create` (every mode: real,
// --dry-run, --to-dir, --preflight), `backup describe --details` and `backup inspect` take, so restore never
// applies what verify would reject (docs/format-archive.md section 2.1, docs/security.md).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <kbk/archive/archive.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/json/json.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>

namespace kbk::archive {

enum class BackupSource { kbk, velero };

struct OpenBackup {
  std::string name;
  BackupSource source = BackupSource::kbk;
  // kbk: the marker, checked (read_marker), and for an encrypted backup opened with the key its sealed copy; Velero:
  // velero-backup.json, checked (velero_backup_schema).
  json::Document marker;
  bool encrypted = false;
  std::optional<crypto::SecretKey> data_key;  // an encrypted backup opened with the user's key
  std::string archive;                        // the archive object's key
  const crypto::SecretKey* key() const { return data_key ? &*data_key : nullptr; }
};

enum class NeedKey { yes, no };

// backups/<name>/ as a reader finds it: kbk's marker, else a Velero backup whose velero-backup.json says Completed
// or PartiallyFailed. Errors, one line each: Errc::not_found (nothing there), Errc::precondition (an incomplete or
// unfinished backup), Errc::corrupt / unsupported (a marker that does not read), key_required() (an encrypted
// backup without `user` when need is NeedKey::yes; with NeedKey::no the marker stays sealed), Errc::crypto (the key
// opens no key object), Errc::corrupt (the plaintext summary differs from the sealed marker).
Result<OpenBackup> open_backup(storage::Backend& backend, const std::string& name, const crypto::UserKey* user,
                               NeedKey need);

// What a reader found wrong with a backup's content (empty: intact). A stream that cannot be read at all (not a
// tar, truncated, a bad gzip CRC, an unsafe entry, a failed authentication) is an error instead.
struct VerifyReport {
  uint64_t items_checked = 0;
  uint64_t entries = 0;
  std::vector<std::string> problems;
};

// An entry as a verified read hands it out: `object` is the item's parsed JSON (items only; valid during the
// callback), so consumers do not parse it again.
using VerifiedEntryFn = std::function<Result<void>(const Entry& entry, const json::Value* object)>;

// Reads the backup's archive once, handing each entry to on_entry (may be empty) while checking:
//  - the stream: read_archive's rules (clean names, regular files, no duplicates, limits, gzip CRC and length,
//    an encrypted stream authenticated through its final segment);
//  - every item: one JSON object (json::parse: depth, UTF-8, no duplicate members) whose apiVersion, kind,
//    metadata.name and metadata.namespace agree with its path; the legacy and preferred-version copies hold the
//    same bytes;
//  - kbk backups: kbk/manifest.json present, of the marker's name and uid, type-checked, listing every item once
//    with its SHA-256 (and nothing else in the archive), its item count the marker's; kbk/results.json
//    type-checked; no entries a kbk backup does not write; the stored object's SHA-256 and size the marker's.
// Velero backups (no checksums exist) get the stream and item checks. Problems are collected in the report; the
// caller must not use what it collected when there are any (verification_error() makes the one line).
// kbk/manifest.json is read element by element as it streams in (json::parse_split), never held whole, and on_entry
// gets its entry with nothing left to read; with ManifestText::whole it gets the text (backup describe --details).
enum class ManifestText { streamed, whole };
Result<VerifyReport> read_verified(storage::Backend& backend, const OpenBackup& backup, const ReaderLimits& limits,
                                   const VerifiedEntryFn& on_entry, ManifestText manifest = ManifestText::streamed);

// The same checks for an archive stream alone (no location, no marker: `what` names it): the manifest's checks
// apply when the archive holds kbk/manifest.json.
Result<VerifyReport> verify_stream(storage::Reader& reader, const std::string& what, const ReaderLimits& limits,
                                   const VerifiedEntryFn& on_entry);

// The stored archive as a stream (`kbk backup download`): decrypted with Decrypt::yes (an encrypted backup opened
// with its key; authenticated through its final segment); for a kbk backup the stored bytes are hashed on the way
// and the read that reaches the end fails (Errc::corrupt) when their SHA-256 or size is not the marker's.
enum class Decrypt { no, yes };
Result<std::unique_ptr<storage::Reader>> open_archive_stream(storage::Backend& backend, const OpenBackup& backup,
                                                             Decrypt decrypt);

// "backup b1 failed verification: <first problem> (and 3 more; `kbk backup verify b1` lists them)": Errc::corrupt.
Error verification_error(const std::string& name, const VerifyReport& report);

}  // namespace kbk::archive
