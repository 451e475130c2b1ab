// The JSON documents that describe what a location holds, built once here for every reader: `kbk backup list`,
// `backup describe` and `backup inspect` print them with -o json, and `kbk ui` serves the same documents under
// /api/... (docs/ui.md), so the page and the CLI cannot drift (docs/output.md, the JSON vocabulary).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/archive/archive.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/json/json.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>

namespace kbk::archive {

// {"apiVersion": "kbk.io/v1alpha1", "kind": "BackupList", "items": [...]}: one entry per listing, in the order given.
json::Document backup_list_to_json(const std::vector<BackupListing>& rows);

// A backup found in a location: its kbk marker (opened when sealed and the key was given) or velero-backup.json.
struct OpenedBackup {
  std::string name;
  std::string source;  // kbk | velero
  json::Document marker;
  bool encrypted = false;
  std::optional<crypto::SecretKey> data_key;  // an encrypted backup opened with its key
  std::string archive;                        // the archive object's key
  const crypto::SecretKey* key() const { return data_key ? &*data_key : nullptr; }
};

// The marker of `name` (kbk or Velero); an interrupted backup and a missing one are Errc::precondition with the
// line the CLI prints.
Result<OpenedBackup> locate_backup(storage::Backend& b, const std::string& name);

enum class NeedKey { yes, no };
// locate_backup, then for an encrypted backup its data key and opened marker. NeedKey::yes (reading contents)
// refuses an encrypted backup without `user` (key_required(): Errc::config); NeedKey::no leaves it sealed.
Result<OpenedBackup> open_backup(storage::Backend& b, const std::string& name, const crypto::UserKey* user, NeedKey need);

// Streams the archive's entries (decrypted and authenticated when encrypted).
Result<void> each_entry(storage::Backend& b, const OpenedBackup& backup,
                        const std::function<Result<void>(const Entry&)>& fn);

// `backup describe -o json`: the marker, plus with `details` the manifest's "items" (kbk backups only).
Result<json::Document> describe_to_json(storage::Backend& b, const OpenedBackup& backup, bool details);

// `backup inspect -o json`: one entry per object of the archive (resource, namespace, name, apiVersion, kind,
// path, bytes), in archive order.
Result<json::Document> contents_to_json(storage::Backend& b, const OpenedBackup& backup);

// "<group-resource>/<namespace>/<name>" (no namespace part for cluster-scoped objects).
std::string item_text(const ItemKey& k);

// What users type for a resource (deploy, deployment, deployments.apps, cm...), matched offline against an item.
bool resource_matches(std::string typed, const ItemKey& k, std::string_view kind);

// One object of a backup: `typed` as resource/namespace/name or resource/name (backup inspect --cat).
// Errc::not_found names what was looked for and the objects of the same name; Errc::usage for a bad `typed`.
Result<json::Document> find_object(storage::Backend& b, const OpenedBackup& backup, const std::string& typed);

}  // namespace kbk::archive
