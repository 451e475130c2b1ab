// kbk repo check (docs/format-repository.md section 13): every problem listed, not only the first.
#include <kbk/repo/operations.hpp>
#include <kbk/storage/read.hpp>

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

namespace kbk::repo {

// The header entries of a pack of the given size.
Result<std::vector<PackEntry>> read_pack_header(Repository& repo, const Id& pack, uint64_t size) {
  const std::string key = Repository::pack_key(pack);
  const std::string what = "pack " + to_hex(pack);
  if (size < k_pack_trailer_size) return unexpected(Errc::corrupt, what + " is truncated (" + std::to_string(size) + " bytes)");
  KBK_ASSIGN_OR_RETURN(auto trailer,
                       storage::read_up_to(repo.backend(), key, size - k_pack_trailer_size, k_pack_trailer_size));
  auto hl = decode_pack_trailer(trailer);
  if (!hl) return unexpected(hl.error().wrap(what));
  if (*hl > size - k_pack_trailer_size) return unexpected(Errc::corrupt, what + " is truncated (header cut)");
  KBK_ASSIGN_OR_RETURN(auto stored, storage::read_up_to(repo.backend(), key, size - k_pack_trailer_size - *hl, *hl));
  KBK_ASSIGN_OR_RETURN(auto plain, repo.open_header(stored, what));
  auto entries = decode_pack_header(plain);
  if (!entries) return unexpected(entries.error().wrap(what));
  uint64_t end = entries->empty() ? 0 : entries->back().offset + uint64_t(entries->back().length);
  if (end != size - k_pack_trailer_size - *hl) return unexpected(Errc::corrupt, what + ": header does not match its size");
  return entries;
}

Result<CheckReport> check(Repository& repo, const CheckOptions& o) {
  CheckReport rep;
  std::vector<Error> damaged;
  KBK_TRY(repo.load_index(&damaged));
  for (const auto& e : damaged) rep.errors.push_back(e.message);
  std::unordered_map<Id, uint64_t, IdHash> listed;
  KBK_TRY(repo.backend().list(std::string(k_prefix) + "data/", [&](const storage::ObjectInfo& obj) -> Result<void> {
    auto id = parse_id(obj.key.substr(obj.key.rfind('/') + 1));
    if (id) listed[*id] = obj.size;
    else rep.notes.push_back("unexpected object " + obj.key);
    return {};
  }));
  // Index entries per pack.
  std::vector<Id> packs;
  std::unordered_map<uint32_t, std::vector<std::pair<Id, Location>>> by_pack;
  {
    std::lock_guard<std::mutex> l(repo.index_mutex());
    packs = repo.packs();
    repo.table().for_each([&](const Id& id, const Location& loc) { by_pack[loc.pack].emplace_back(id, loc); });
  }
  std::unordered_set<Id, IdHash> indexed(packs.begin(), packs.end());
  for (const auto& [id, size] : listed)
    if (!indexed.count(id))
      rep.notes.push_back("pack " + to_hex(id) + " is in no index (left by an interrupted backup; prune removes it)");
  std::vector<Id> present;
  for (uint32_t pn = 0; pn < packs.size(); ++pn) {
    const Id& pack = packs[pn];
    auto it = listed.find(pack);
    auto& entries = by_pack[pn];
    if (it == listed.end()) {
      if (!entries.empty())
        for (const auto& [id, loc] : entries)
          rep.errors.push_back("blob " + to_hex(id) + ": its pack " + to_hex(pack) + " is missing");
      continue;
    }
    rep.packs++;
    auto header = read_pack_header(repo, pack, it->second);
    if (!header) {
      rep.errors.push_back(header.error().message);
      for (const auto& [id, loc] : entries) rep.errors.push_back("blob " + to_hex(id) + " in pack " + to_hex(pack) + " is unreadable");
      continue;
    }
    std::unordered_map<Id, const PackEntry*, IdHash> h;
    for (const auto& e : *header) h[e.id] = &e;
    for (const auto& [id, loc] : entries) {
      auto hit = h.find(id);
      if (hit == h.end() || hit->second->offset != loc.offset || hit->second->length != loc.length)
        rep.errors.push_back("blob " + to_hex(id) + ": the index and pack " + to_hex(pack) + "'s header disagree");
    }
    present.push_back(pack);
  }
  // Snapshots and trees.
  std::vector<Error> bad_snaps;
  KBK_ASSIGN_OR_RETURN(auto snaps, repo.list_snapshots(&bad_snaps));
  for (const auto& e : bad_snaps) rep.errors.push_back(e.message);
  rep.snapshots = snaps.size();
  std::unordered_set<Id, IdHash> seen_trees, seen_lists;
  auto need = [&](const Id& id, const std::string& where) {
    if (!repo.locate(id)) rep.errors.push_back(where + ": blob " + to_hex(id) + " is not in the index");
  };
  std::function<void(const Id&, const std::string&)> visit_tree = [&](const Id& tree, const std::string& path) {
    if (!seen_trees.insert(tree).second) return;
    rep.trees++;
    auto nodes = repo.load_tree(tree);
    if (!nodes) {
      rep.errors.push_back((path.empty() ? std::string("/") : path) + ": " + nodes.error().message);
      return;
    }
    for (const auto& n : *nodes) {
      const std::string p = path + "/" + n.name;
      if (n.type == NodeType::dir && n.subtree) visit_tree(*n.subtree, p);
      for (const auto& id : n.content) need(id, p);
      if (n.content_list && seen_lists.insert(*n.content_list).second) {
        auto ids = repo.load_content(n);
        if (!ids) rep.errors.push_back(p + ": " + ids.error().message);
        else
          for (const auto& id : *ids) need(id, p);
      }
    }
  };
  for (const auto& s : snaps) {
    if (!repo.locate(s.tree)) {
      rep.errors.push_back("snapshot " + to_hex(s.id).substr(0, 8) + ": its root tree " + to_hex(s.tree) + " is not in the index");
      continue;
    }
    visit_tree(s.tree, "snapshot " + to_hex(s.id).substr(0, 8) + ":");
  }
  // Data.
  if (o.read_data || o.subset_m) {
    std::sort(present.begin(), present.end());
    for (size_t i = 0; i < present.size(); ++i) {
      if (o.subset_m && (i % o.subset_m) != o.subset_n - 1) continue;
      const Id& pack = present[i];
      const uint64_t size = listed[pack];
      // Up to the listed size: a pack that ends early has each blob past its end reported cut off, the others checked.
      auto all = storage::read_up_to(repo.backend(), Repository::pack_key(pack), 0, size);
      rep.packs_read++;
      if (!all) {
        rep.errors.push_back("pack " + to_hex(pack) + ": " + all.error().message);
        continue;
      }
      auto header = read_pack_header(repo, pack, size);
      if (!header) continue;  // reported above
      for (const auto& e : *header) {
        rep.blobs_checked++;
        if (uint64_t(e.offset) + e.length > all->size()) {
          rep.errors.push_back("blob " + to_hex(e.id) + " in pack " + to_hex(pack) + " is cut off");
          continue;
        }
        auto d = repo.decode_blob(e.id, std::string_view(*all).substr(e.offset, e.length));
        if (!d) rep.errors.push_back(d.error().message + " (pack " + to_hex(pack) + ")");
      }
      if (o.progress) {
        util::ProgressState st;
        st.phase = "check";
        st.items_done = i + 1;
        st.items_total = present.size();
        o.progress->update(st);
      }
    }
  }
  return rep;
}

}  // namespace kbk::repo
