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
#include <kbk/archive/reader.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/json/json.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>

namespace kbk::archive {

// {"apiVersion": "kbk.io/v1alpha1", "kind": "BackupList", "items": [...]}: one entry per listing, in the order given.
json::Document backup_list_to_json(const std::vector<BackupListing>& rows);

// Reads the archive verified (read_verified: what `backup verify` checks), handing each entry to fn; a backup with
// problems is refused with verification_error's one line once the whole archive is read.
Result<void> read_checked(storage::Backend& b, const OpenBackup& backup, const VerifiedEntryFn& fn);
// The same, handing kbk/manifest.json to fn as `manifest` says (reader.hpp).
Result<void> read_checked(storage::Backend& b, const OpenBackup& backup, const VerifiedEntryFn& fn,
                          ManifestText manifest);

// `backup describe -o json`: the marker, plus with `details` the manifest's "items" (kbk backups: the archive read
// verified) or "resourceList" (Velero backups: the resource list, bounded and type-checked).
Result<json::Document> describe_to_json(storage::Backend& b, const OpenBackup& backup, bool details);

// `backup inspect -o json`: one entry per object of the archive (resource, namespace, name, apiVersion, kind,
// path, bytes), in archive order, the archive read verified.
Result<json::Document> contents_to_json(storage::Backend& b, const OpenBackup& backup);

// "<group-resource>/<namespace>/<name>" (no namespace part for cluster-scoped objects).
std::string item_text(const ItemKey& k);

// What users type for a resource (deploy, deployment, deployments.apps, cm...), matched offline against an item.
bool resource_matches(std::string typed, const ItemKey& k, std::string_view kind);

// One object of a backup: `typed` as resource/namespace/name or resource/name (backup inspect --cat).
// The archive is read verified first. Errc::not_found names what was looked for and the objects of the same name;
// Errc::config for a bad `typed`.
Result<json::Document> find_object(storage::Backend& b, const OpenBackup& backup, const std::string& typed);

}  // namespace kbk::archive
