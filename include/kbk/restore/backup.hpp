// Reading a backup out of a location for restore. The whole archive is read and validated before anything is
// applied: a truncated, corrupt or hostile archive (archive::read_archive refuses it, or an item is not a
// JSON object) fails here with one line naming the backup and the entry, and the caller applies nothing.
// Items are kept as their JSON text (json_text.hpp), not as parsed documents: memory grows by about the size
// of the archive's items, not by tens of KiB per object.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <kbk/archive/archive.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/json/json.hpp>
#include <kbk/restore/json_text.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>

namespace kbk::restore {

// One object of the backup, as the API returned it when it was backed up.
struct BackupItem {
  archive::ItemKey key;    // group, version (from apiVersion), resource, original namespace, name
  std::string kind;        // from the object
  std::string path;        // the archive entry it was read from
  JsonText object;         // the entry's text, validated as one JSON object when loaded; object.parse() to read it
};

enum class BackupOrigin { kbk, velero };

struct LoadedBackup {
  std::string name;
  BackupOrigin origin = BackupOrigin::kbk;
  std::string format_version;        // metadata/version, "1.1.0"
  std::vector<BackupItem> items;     // one per group/resource/namespace/name, in the order
                                     // of their first copy in the archive
  std::vector<std::string> warnings; // stray entries, items without apiVersion/kind, ...
  JsonText marker;                   // a kbk backup's marker (the sealed copy for an encrypted one); null for Velero
  // Where the items' texts are kept with Texts::spooled (null: in memory). The plan keeps its objects there too.
  std::shared_ptr<TextSpool> spool;
};

// How a loaded backup holds its items' texts: in memory (diff, small reads), or in a TextSpool (a restore: memory
// does not grow with the objects' size).
enum class Texts { in_memory, spooled };

// Loads backups/<name>/ through archive::open_backup and archive::read_verified (archive/reader.hpp): the checks of
// `kbk backup verify` (marker, checksums of the archive and of every item, identities, gzip CRC, authentication)
// all pass before this returns, so nothing is planned or applied from a backup verify would reject. Requires
// kbk's completion marker (kbk-manifest.json) or, for a Velero backup, velero-backup.json with status.phase
// Completed or PartiallyFailed. For each group/resource the <version>-preferredversion/ copies are used when the
// archive has them, else the legacy path. An encrypted backup (docs/format-archive.md section 5.2) is opened with
// encryption_key and authenticated to its final segment while it is read.
// Errors: Errc::not_found (no such backup), Errc::precondition (incomplete or failed backup), Errc::corrupt
// (archive refused, modified or truncated, or a failed verification; one line naming the backup and the first
// problem), Errc::config (an encrypted backup and no key), Errc::crypto (the key opens none of the key objects).
Result<LoadedBackup> load_backup(storage::Backend& backend, const std::string& name,
                                 const archive::ReaderLimits& limits = {},
                                 const crypto::UserKey* encryption_key = nullptr, Texts texts = Texts::in_memory);

// The same from an archive stream already opened (tests, `--from-file`); `what` names it in errors.
Result<LoadedBackup> load_archive(storage::Reader& reader, const std::string& what,
                                  const archive::ReaderLimits& limits = {}, Texts texts = Texts::in_memory);

}  // namespace kbk::restore
