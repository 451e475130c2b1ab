// kbk repo forget: restic's forget policy over a repository's standalone snapshots (docs/format-repository.md
// section 13). The rules are storage/retention.hpp's, the ones kbk prune applies to backups, so --keep-daily means
// the same in both commands.
#include <kbk/repo/operations.hpp>

#include <algorithm>
#include <unordered_map>

namespace kbk::repo {

bool forget_matches(const Snapshot& s, const ForgetFilter& f) {
  if (s.backup) return false;
  if (f.host && s.host != *f.host) return false;
  if (f.path && s.path != *f.path) return false;
  for (const auto& want : f.tags)
    if (std::find(s.tags.begin(), s.tags.end(), want) == s.tags.end()) return false;
  return true;
}

std::vector<ForgetDecision> plan_forget(const std::vector<Snapshot>& snapshots, const ForgetFilter& filter,
                                        const storage::retention::Policy& policy, ForgetGroup group,
                                        storage::retention::TimePoint now) {
  namespace rt = storage::retention;
  std::vector<rt::Item> items;
  std::unordered_map<std::string, const Snapshot*> by_name;
  for (const auto& s : snapshots) {
    if (!forget_matches(s, filter)) continue;
    rt::Item it;
    it.name = to_hex(s.id);  // ties at the same instant: the greater id first, stable across runs
    it.started = rt::TimePoint(std::chrono::duration_cast<rt::TimePoint::duration>(std::chrono::nanoseconds(s.time_ns)));
    switch (group) {
      case ForgetGroup::host_path: it.group = "host " + s.host + ", path " + s.path; break;
      case ForgetGroup::host: it.group = "host " + s.host; break;
      case ForgetGroup::path: it.group = "path " + s.path; break;
      case ForgetGroup::none: break;
    }
    by_name[it.name] = &s;
    items.push_back(std::move(it));
  }
  rt::Policy p = policy;
  p.expired = false;  // snapshots carry no expiry of their own
  std::vector<ForgetDecision> out;
  for (auto& d : rt::apply_grouped(std::move(items), p, now)) {
    ForgetDecision fd;
    fd.snapshot = *by_name.at(d.item.name);
    fd.keep = d.keep;
    fd.reasons = std::move(d.reasons);
    fd.group = d.item.group;
    out.push_back(std::move(fd));
  }
  return out;
}

Result<uint64_t> forget_snapshots(Repository& repo, const std::vector<Snapshot>& snapshots) {
  uint64_t n = 0;
  for (const auto& s : snapshots) {
    if (s.backup)
      return unexpected(Errc::precondition, "snapshot " + to_hex(s.id).substr(0, 8) + " belongs to backup " + *s.backup +
                                                ": it goes with the backup (kbk backup delete " + *s.backup + ")");
    KBK_TRY(repo.backend().remove(repo.snapshot_key(s.id)));
    ++n;
  }
  return n;
}

Result<uint64_t> forget_backup_snapshots(Repository& repo, const std::set<std::string>& backups) {
  KBK_ASSIGN_OR_RETURN(auto snaps, repo.list_snapshots());
  uint64_t n = 0;
  for (const auto& s : snaps) {
    if (!s.backup || !backups.count(*s.backup)) continue;
    KBK_TRY(repo.backend().remove(repo.snapshot_key(s.id)));
    ++n;
  }
  return n;
}

}  // namespace kbk::repo
