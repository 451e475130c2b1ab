// The layout of a backup location (docs/format-archive.md): what lives where under backups/<name>/ and
// restores/<name>/, and how a backup is known to be complete (its kbk-manifest.json marker, written last).
#pragma once

#include <string>

namespace kbk::archive {

struct BackupPaths {
  std::string name;
  std::string dir() const { return "backups/" + name + "/"; }
  std::string tarball() const { return dir() + name + ".tar.gz"; }
  std::string velero_backup() const { return dir() + "velero-backup.json"; }
  std::string logs() const { return dir() + name + "-logs.gz"; }
  std::string resource_list() const { return dir() + name + "-resource-list.json.gz"; }
  std::string results() const { return dir() + name + "-results.gz"; }
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

}  // namespace kbk::archive
