// Reading snapshots: walk, find_path, diff, stats.
#include <kbk/repo/operations.hpp>

#include <algorithm>
#include <map>
#include <unordered_set>

#include <kbk/util/strings.hpp>

namespace kbk::repo {

Result<void> walk(Repository& repo, const Id& tree, const std::string& prefix,
                  const std::function<Result<void>(const std::string& path, const Node& node)>& visit) {
  KBK_ASSIGN_OR_RETURN(auto nodes, repo.load_tree(tree));
  for (const auto& n : nodes) {
    const std::string p = prefix.empty() ? n.name : prefix + "/" + n.name;
    KBK_TRY(visit(p, n));
    if (n.type == NodeType::dir && n.subtree) KBK_TRY(walk(repo, *n.subtree, p, visit));
  }
  return {};
}

Result<std::optional<Node>> find_path(Repository& repo, const Snapshot& snapshot, const std::string& path) {
  Id tree = snapshot.tree;
  auto parts = util::split(path, '/');
  std::optional<Node> found;
  for (size_t i = 0; i < parts.size(); ++i) {
    KBK_ASSIGN_OR_RETURN(auto nodes, repo.load_tree(tree));
    auto it = std::find_if(nodes.begin(), nodes.end(), [&](const Node& n) { return n.name == parts[i]; });
    if (it == nodes.end()) return std::optional<Node>();
    found = *it;
    if (i + 1 < parts.size()) {
      if (it->type != NodeType::dir || !it->subtree) return std::optional<Node>();
      tree = *it->subtree;
    }
  }
  return found;
}

namespace {

bool same_content(const Node& a, const Node& b) {
  return a.size == b.size && a.content == b.content && a.content_list == b.content_list;
}
bool same_meta(const Node& a, const Node& b) {
  return a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.mtime_ns == b.mtime_ns &&
         a.link_target == b.link_target && a.xattrs == b.xattrs && a.rdev == b.rdev;
}

Result<void> diff_trees(Repository& repo, const std::optional<Id>& ta, const std::optional<Id>& tb,
                        const std::string& prefix, std::vector<DiffEntry>& out) {
  if (ta && tb && *ta == *tb) return {};
  std::vector<Node> na, nb;
  if (ta) {
    KBK_ASSIGN_OR_RETURN(na, repo.load_tree(*ta));
  }
  if (tb) {
    KBK_ASSIGN_OR_RETURN(nb, repo.load_tree(*tb));
  }
  size_t i = 0, j = 0;
  auto all = [&](const Node& n, const std::string& p, char c) -> Result<void> {
    out.push_back({c, p});
    if (n.type == NodeType::dir && n.subtree) {
      std::optional<Id> none;
      if (c == '+') return diff_trees(repo, none, n.subtree, p, out);
      return diff_trees(repo, n.subtree, none, p, out);
    }
    return {};
  };
  while (i < na.size() || j < nb.size()) {
    if (j >= nb.size() || (i < na.size() && na[i].name < nb[j].name)) {
      KBK_TRY(all(na[i], prefix + na[i].name, '-'));
      ++i;
    } else if (i >= na.size() || nb[j].name < na[i].name) {
      KBK_TRY(all(nb[j], prefix + nb[j].name, '+'));
      ++j;
    } else {
      const Node& a = na[i];
      const Node& b = nb[j];
      const std::string p = prefix + a.name;
      if (a.type != b.type) {
        out.push_back({'T', p});
      } else if (a.type == NodeType::dir) {
        if (!same_meta(a, b)) out.push_back({'U', p + "/"});
        KBK_TRY(diff_trees(repo, a.subtree, b.subtree, p + "/", out));
      } else if (!same_content(a, b)) {
        out.push_back({'M', p});
      } else if (!same_meta(a, b)) {
        out.push_back({'U', p});
      }
      ++i;
      ++j;
    }
  }
  return {};
}

}  // namespace

Result<std::vector<DiffEntry>> diff(Repository& repo, const Snapshot& a, const Snapshot& b) {
  std::vector<DiffEntry> out;
  KBK_TRY(diff_trees(repo, a.tree, b.tree, "", out));
  return out;
}

Result<Stats> stats(Repository& repo) {
  Stats s;
  KBK_ASSIGN_OR_RETURN(auto snaps, repo.list_snapshots());
  s.snapshots = snaps.size();
  for (const auto& sn : snaps) {
    s.files += sn.summary.files;
    s.logical_bytes += sn.summary.bytes_total;
  }
  {
    std::lock_guard<std::mutex> l(repo.index_mutex());
    repo.table().for_each([&](const Id&, const Location& loc) {
      s.blobs++;
      s.raw_bytes += raw_of(loc);
      s.stored_bytes += loc.length;
    });
    s.index_memory = repo.table().memory_bytes();
  }
  KBK_TRY(repo.backend().list(std::string(k_prefix) + "data/", [&](const storage::ObjectInfo& o) -> Result<void> {
    s.packs++;
    s.pack_bytes += o.size;
    return {};
  }));
  s.index_files = repo.index_files().size();
  return s;
}

}  // namespace kbk::repo
