// The layout of a backup location (docs/format-archive.md): what lives where under backups/<name>/ and
// restores/<name>/, and how a backup is known to be complete (its kbk-manifest.json marker, written last).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/archive/reader.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/json/json.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>

namespace kbk::archive {

// Encrypted backups (section 5.2) store the archive as <name>.kbk and the other objects with ".kbk" appended.
enum class Encrypted { no, yes };

struct BackupPaths {
  std::string name;
  std::string dir() const { return "backups/" + name + "/"; }
  std::string tarball() const { return dir() + name + ".tar.gz"; }
  std::string encrypted_archive() const { return dir() + name + ".kbk"; }
  std::string archive(Encrypted e) const { return e == Encrypted::yes ? encrypted_archive() : tarball(); }
  std::string key_object(const std::string& key_id) const { return dir() + "kbk-key-" + key_id; }
  std::string velero_backup() const { return dir() + "velero-backup.json"; }
  std::string logs(Encrypted e = Encrypted::no) const { return dir() + name + "-logs.gz" + suffix(e); }
  std::string resource_list(Encrypted e = Encrypted::no) const {
    return dir() + name + "-resource-list.json.gz" + suffix(e);
  }
  std::string results(Encrypted e = Encrypted::no) const { return dir() + name + "-results.gz" + suffix(e); }
  static const char* suffix(Encrypted e) { return e == Encrypted::yes ? ".kbk" : ""; }
  std::string marker() const { return dir() + "kbk-manifest.json"; }  // written last: presence = complete
  std::string lock() const { return dir() + "kbk-lock.json"; }        // written first by the one writer
};

struct RestorePaths {
  std::string name;
  std::string dir() const { return "restores/" + name + "/"; }
  std::string logs() const { return dir() + "restore-" + name + "-logs.gz"; }
  std::string results() const { return dir() + "restore-" + name + "-results.gz"; }
  std::string resource_list() const { return dir() + "restore-" + name + "-resource-list.json.gz"; }
  std::string marker() const { return dir() + "kbk-restore.json"; }
};

inline constexpr const char* k_kbk_api_version = "kbk.io/v1alpha1";

// gzip (RFC 1952) of data, as Velero writes its *.gz files; gunzip refuses (Errc::corrupt naming `what`) a
// damaged or truncated stream and output over max_bytes.
std::string gzip(std::string_view data);
Result<std::string> gunzip(std::string_view data, std::string_view what, uint64_t max_bytes = 1ull << 30);

// One backup of a location as `kbk backup list` shows it (docs/format-archive.md section 5, "Listing").
struct BackupListing {
  std::string name;
  std::string phase;    // Completed, PartiallyFailed, Incomplete (kbk without marker), or Velero's phase
  std::string source;   // "kbk" or "velero"
  // RFC 3339 or "". An Incomplete backup's started is its lock's startTimestamp, else the lock's modification time.
  std::string started, completed, expires;
  uint64_t items = 0, warnings = 0, errors = 0, bytes = 0;
  bool encrypted = false;  // the marker's archive.encrypted; for an Incomplete backup, a kbk-key-* object exists
  // The source cluster (prune --group-by cluster): the marker's cluster.kubeSystemUID, else cluster.server;
  // "" for Velero and incomplete backups.
  std::string cluster;
  // The source cluster's name as recorded (backup create --cluster-name), and its kube-system uid; "" when absent.
  std::string cluster_name, kube_system_uid;
  std::map<std::string, std::string> labels;  // the marker's labels (velero-backup.json's metadata.labels)
};

// Every backup under backups/: kbk backups (marker, or lock without marker = Incomplete) and Velero backups
// whose velero-backup.json says Completed or PartiallyFailed. Sorted by name. A backup whose marker or
// velero-backup.json does not read (damaged, another format version, a folder name that is no backup name) is
// an error; with `skipped`, it is left out and its error (one line naming it) appended there instead, so one bad
// backup does not hide the others. Errors of the location itself (unreachable, denied) are returned either way.
Result<std::vector<BackupListing>> list_backups(storage::Backend& backend, std::vector<Error>* skipped = nullptr);

// The marker of a complete kbk backup, nullopt when absent: read within k_max_document_bytes, parsed and checked
// against marker_schema() (documents.hpp) and check_marker(). Errc::corrupt / unsupported naming the backup.
Result<std::optional<json::Document>> read_marker(storage::Backend& backend, const std::string& name);
// What every reader checks of a marker beyond its types: apiVersion kbk.io/v1alpha1 (another kbk.io version is
// Errc::unsupported), kind BackupManifest, name = the backup's folder, archive.key = this backup's own archive
// object (<name>.tar.gz, or <name>.kbk when encrypted): a marker cannot steer a reader to another object.
Result<void> check_marker(const json::Value& marker, const std::string& name, std::string_view what);
// velero-backup.json of backups/<name>/, checked against velero_backup_schema(); nullopt when absent.
Result<std::optional<json::Document>> read_velero_backup(storage::Backend& backend, const std::string& name);

// Removes every object under backups/<name>/, the marker first and the lock last (an interrupted delete lists as
// Incomplete). Errc::not_found when nothing is there.
Result<uint64_t> delete_backup(storage::Backend& backend, const std::string& name);

// `kbk backup verify`: open_backup + read_verified (reader.hpp) with nothing else to do with the entries. problems
// is empty when the backup is intact; a hostile or unreadable archive is an error. An encrypted backup needs `user`
// (else key_required(): Errc::config).
Result<VerifyReport> verify_backup(storage::Backend& backend, const std::string& name,
                                   const crypto::UserKey* user = nullptr);

// A backup name as Kubernetes and Velero accept it (DNS subdomain, at most 253 characters, no '/').
bool valid_backup_name(std::string_view name);

}  // namespace kbk::archive
