// Repository reclaim for kbk prune (docs/format-repository.md section 13): mark what kept snapshots reach, plan
// per pack (keep, drop, repack), then repack, write one new index, delete old index files, then packs.
#include <kbk/repo/operations.hpp>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <cstring>

#include <kbk/crypto/hash.hpp>

namespace kbk::repo {
namespace {
Id crypto_sha256_id(std::string_view s) {
  auto d = crypto::sha256(s);
  Id id;
  std::memcpy(id.data(), d.data(), 32);
  return id;
}
}  // namespace

Result<PrunePlanRepo> plan_repo_prune(Repository& repo, const std::function<bool(const std::string&)>& keep_backup,
                                      uint64_t max_repack_bytes) {
  return plan_repo_prune_snapshots(
      repo, [&](const Snapshot& s) { return !s.backup || keep_backup(*s.backup); }, max_repack_bytes);
}

Result<PrunePlanRepo> plan_repo_prune_snapshots(Repository& repo, const std::function<bool(const Snapshot&)>& keep,
                                                uint64_t max_repack_bytes) {
  PrunePlanRepo plan;
  KBK_TRY(repo.load_index());
  KBK_ASSIGN_OR_RETURN(auto snaps, repo.list_snapshots());
  for (auto& s : snaps) (keep(s) ? plan.kept : plan.forgotten).push_back(s);
  // One mark per index slot: memory is the index's, plus a bit per slot.
  std::vector<bool> used(repo.table().capacity(), false);
  std::unordered_set<Id, IdHash> seen_trees;
  auto mark = [&](const Id& id) -> bool {
    size_t slot = repo.table().slot_of(id);
    if (slot == SIZE_MAX) return false;
    used[slot] = true;
    return true;
  };
  std::function<Result<void>(const Id&)> visit = [&](const Id& tree) -> Result<void> {
    if (!seen_trees.insert(tree).second) return {};
    if (!mark(tree)) return unexpected(Errc::corrupt, "tree " + to_hex(tree) + " is missing: run kbk repo check");
    KBK_ASSIGN_OR_RETURN(auto nodes, repo.load_tree(tree));
    for (const auto& n : nodes) {
      if (n.subtree) KBK_TRY(visit(*n.subtree));
      for (const auto& id : n.content) mark(id);
      if (n.content_list) {
        std::vector<Id> lists;
        KBK_TRY(repo.list_blobs(n, lists));
        for (const auto& id : lists) mark(id);
        KBK_ASSIGN_OR_RETURN(auto ids, repo.load_content(n));
        for (const auto& id : ids) mark(id);
      }
    }
    return {};
  };
  for (const auto& s : plan.kept) KBK_TRY(visit(s.tree));
  struct PackUse {
    uint64_t used = 0, unused = 0, used_n = 0, unused_n = 0;
  };
  std::vector<PackUse> use(repo.packs().size());
  {
    const auto& t = repo.table();
    t.for_each([&](const Id& id, const Location& loc) {
      const bool u = used[t.slot_of(id)];
      auto& p = use[loc.pack];
      if (u) {
        p.used += loc.length;
        p.used_n++;
        plan.used_blobs++;
        plan.used_bytes += loc.length;
      } else {
        p.unused += loc.length;
        p.unused_n++;
        plan.unused_blobs++;
        plan.unused_bytes += loc.length;
      }
    });
  }
  uint64_t repack_budget = max_repack_bytes;
  for (uint32_t pn = 0; pn < repo.packs().size(); ++pn) {
    const auto& p = use[pn];
    const Id& pack = repo.packs()[pn];
    if (p.used_n == 0) {
      plan.drop_packs.push_back(pack);
      plan.drop_bytes += p.unused;
    } else if (p.unused_n == 0 || p.unused * 5 < (p.used + p.unused) || p.used > repack_budget) {
      plan.keep_packs.push_back(pack);
    } else {
      plan.repack_packs.push_back(pack);
      plan.repack_bytes += p.used;
      plan.repack_reclaim += p.unused;
      repack_budget -= p.used;
    }
  }
  std::unordered_set<Id, IdHash> indexed(repo.packs().begin(), repo.packs().end());
  KBK_TRY(repo.backend().list(std::string(k_prefix) + "data/", [&](const storage::ObjectInfo& o) -> Result<void> {
    auto id = parse_id(o.key.substr(o.key.rfind('/') + 1));
    if (id && !indexed.count(*id)) {
      plan.orphan_packs.push_back(o.key);
      plan.orphan_bytes += o.size;
    }
    return {};
  }));
  return plan;
}

Result<RepoPruneResult> execute_repo_prune(Repository& repo, const PrunePlanRepo& plan) {
  RepoPruneResult out;
  for (const auto& s : plan.forgotten) {
    KBK_TRY(repo.backend().remove(repo.snapshot_key(s.id)));
    out.snapshots_removed++;
  }
  // Which blobs stay: recompute the marks from the kept snapshots through the plan's packs.
  std::unordered_set<Id, IdHash> drop(plan.drop_packs.begin(), plan.drop_packs.end());
  std::unordered_set<Id, IdHash> repack(plan.repack_packs.begin(), plan.repack_packs.end());
  // Used blobs: walk again (cheap next to the data moved) so the plan object stays small.
  std::unordered_set<Id, IdHash> keep_ids;
  std::unordered_set<Id, IdHash> seen;
  std::function<Result<void>(const Id&)> visit = [&](const Id& tree) -> Result<void> {
    if (!seen.insert(tree).second) return {};
    keep_ids.insert(tree);
    KBK_ASSIGN_OR_RETURN(auto nodes, repo.load_tree(tree));
    for (const auto& n : nodes) {
      if (n.subtree) KBK_TRY(visit(*n.subtree));
      for (const auto& id : n.content) keep_ids.insert(id);
      if (n.content_list) {
        std::vector<Id> lists;
        KBK_TRY(repo.list_blobs(n, lists));
        keep_ids.insert(lists.begin(), lists.end());
        KBK_ASSIGN_OR_RETURN(auto ids, repo.load_content(n));
        keep_ids.insert(ids.begin(), ids.end());
      }
    }
    return {};
  };
  for (const auto& s : plan.kept) KBK_TRY(visit(s.tree));
  // Repack: copy used blobs of repacked packs, stored bytes as they are.
  if (!plan.repack_packs.empty()) {
    PackWriter writer(repo, repo.config().compression);
    std::unordered_map<Id, uint64_t, IdHash> sizes;
    KBK_TRY(repo.backend().list(std::string(k_prefix) + "data/", [&](const storage::ObjectInfo& o) -> Result<void> {
      if (auto id = parse_id(o.key.substr(o.key.rfind('/') + 1))) sizes[*id] = o.size;
      return {};
    }));
    for (const auto& pack : plan.repack_packs) {
      KBK_ASSIGN_OR_RETURN(auto header, read_pack_header(repo, pack, sizes[pack]));
      KBK_ASSIGN_OR_RETURN(auto bytes, repo.backend().get(Repository::pack_key(pack)));
      for (const auto& e : header)
        if (keep_ids.count(e.id) && uint64_t(e.offset) + e.length <= bytes.size())
          KBK_TRY(writer.add_stored(e.type, e.id, std::string_view(bytes).substr(e.offset, e.length), e.raw_length));
    }
    KBK_TRY(writer.flush());
    out.packs_written = writer.stats().packs;
  }
  // One new index of every kept blob in a kept or new pack.
  std::unordered_map<uint32_t, PackRecord> recs;
  {
    std::lock_guard<std::mutex> l(repo.index_mutex());
    const auto& packs = repo.packs();
    repo.table().for_each([&](const Id& id, const Location& loc) {
      if (loc.pack == k_pending_pack || !keep_ids.count(id)) return;
      const Id& pack = packs[loc.pack];
      if (drop.count(pack) || repack.count(pack)) return;
      auto& r = recs[loc.pack];
      r.pack = pack;
      PackEntry e;
      e.type = type_of(loc);
      e.id = id;
      e.offset = loc.offset;
      e.length = loc.length;
      e.raw_length = raw_of(loc);
      r.entries.push_back(e);
    });
  }
  std::vector<PackRecord> all;
  for (auto& [pn, r] : recs) {
    std::sort(r.entries.begin(), r.entries.end(), [](const PackEntry& a, const PackEntry& b) { return a.offset < b.offset; });
    all.push_back(std::move(r));
  }
  const std::string stored = repo.seal_object(encode_index(all));
  auto digest = crypto_sha256_id(stored);
  const std::string new_key = std::string(k_prefix) + "index/" + to_hex(digest);
  auto put = repo.backend().put(new_key, stored, {storage::IfExists::fail, "application/octet-stream"});
  if (!put && !put.error().is(Errc::already_exists)) return unexpected(put.error().wrap("writing the new index"));
  // Old index files (every one that was there before this prune's, except the new one), then packs.
  std::vector<std::string> old;
  KBK_TRY(repo.backend().list(std::string(k_prefix) + "index/", [&](const storage::ObjectInfo& o) -> Result<void> {
    if (o.key != new_key) old.push_back(o.key);
    return {};
  }));
  // The repack writer's own index file names the new packs, which the new index also holds: drop it too.
  KBK_TRY(repo.backend().remove_many(old));
  std::vector<std::string> gone;
  for (const auto& p : plan.drop_packs) gone.push_back(Repository::pack_key(p));
  for (const auto& p : plan.repack_packs) gone.push_back(Repository::pack_key(p));
  gone.insert(gone.end(), plan.orphan_packs.begin(), plan.orphan_packs.end());
  KBK_TRY(repo.backend().remove_many(gone));
  out.packs_removed = gone.size();
  out.bytes_freed = plan.drop_bytes + plan.repack_reclaim + plan.orphan_bytes;
  return out;
}

}  // namespace kbk::repo
