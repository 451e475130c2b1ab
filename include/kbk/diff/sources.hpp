// The sides `kbk diff` compares a backup with, read into the shape of a loaded backup (restore::LoadedBackup) so
// that both sides go through the same restore plan: the live cluster (read by the walk of backup create, with the
// same scope), and a folder of manifests (`restore create --to-dir` output, a GitOps checkout).
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <optional>

#include <kbk/app/walk.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/restore/backup.hpp>
#include <kbk/restore/options.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>

namespace kbk::diff {

struct LiveObjects {
  restore::LoadedBackup objects;
  std::vector<std::string> errors;    // what could not be read (a 403 on a type or namespace, a broken API group)
  std::vector<std::string> warnings;
};

// Reads what `scope` selects from the cluster with the walk of backup create (app/walk.hpp): the same LISTs, pages
// and parallelism. Pass a scope that does not follow related objects (the restore plan decides what follows on
// both sides alike). API failures are listed in errors (the walk goes on); the error return is for the walk
// itself failing.
Result<LiveObjects> read_live(kube::Client& client, const kube::Discovery& discovery, const app::Scope& scope,
                              const app::WalkOptions& options = {});

// Resource names and scope of kinds, for objects that name only apiVersion and kind (manifests in a folder).
class KindTable {
public:
  // The types of a backup's items (their resources and whether they had a namespace).
  void add_backup(const restore::LoadedBackup& backup);
  // Every type a cluster serves.
  void add_discovery(const kube::Discovery& discovery);
  struct Type {
    std::string resource;
    bool namespaced = true;
    bool known = false;  // false: the scope is unknown (namespaced when the object has a namespace)
  };
  // What was added, else Kubernetes' built-in types (a kind of a Kubernetes group is namespaced unless listed as
  // cluster-scoped), else kubectl's guess of the plural ("s" -> "ses", "y" -> "ies", else + "s").
  Type find(const std::string& group, const std::string& kind) const;

private:
  std::map<std::tuple<std::string, std::string>, Type> m_types;  // (group, kind)
};

// Every *.yaml, *.yml and *.json file under dir (recursively, in name order), each holding objects as kubectl reads
// them (several documents, Lists expanded). Objects without a namespace of a namespaced kind land in
// default_namespace, as `kubectl apply -f` would put them. Errc::config naming FILE for a file that does not
// parse or an object without apiVersion, kind or metadata.name; Errc::not_found when dir does not exist.
Result<restore::LoadedBackup> read_folder(const std::string& dir, const KindTable& kinds,
                                          const std::string& default_namespace);

// The selection backup `name` was taken with (its marker's `selection`; an encrypted backup's sealed marker, opened
// with user), as restore flags, so that `kbk diff backup A --live` compares what A covers. nullopt when the backup
// records none (a Velero backup), or one the restore flags cannot say (the scoped filters): then everything is
// compared. Errors reading the marker are returned.
Result<std::optional<restore::Selection>> recorded_selection(storage::Backend& backend, const std::string& name,
                                                             const crypto::UserKey* user);

}  // namespace kbk::diff
