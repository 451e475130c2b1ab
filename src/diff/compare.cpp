// Comparing two sides (diff.hpp): each is planned as a restore would plan it, then the planned objects are paired
// by their identity on the `to` side and compared as parsed JSON (member order does not count).
#include <kbk/diff/diff.hpp>

#include <algorithm>
#include <tuple>

#include <kbk/restore/plan.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::diff {

const char* change_name(Change c) {
  switch (c) {
    case Change::added: return "added";
    case Change::removed: return "removed";
    case Change::changed: return "changed";
  }
  return "changed";
}

std::string ObjectChange::display() const {
  return group_resource() + "/" + (namespace_.empty() ? "" : namespace_ + "/") + name;
}

restore::Selection mapped_selection(const restore::Selection& selection, const restore::NamespaceMap& mappings) {
  restore::Selection s = selection;
  auto map_list = [&](std::vector<std::string>& list) {
    for (std::string& ns : list)
      if (auto f = mappings.find(ns); f != mappings.end()) ns = f->second;
  };
  map_list(s.include_namespaces);
  map_list(s.exclude_namespaces);
  // resource/namespace/name patterns name a namespace too.
  auto map_names = [&](std::vector<std::string>& list) {
    for (std::string& pattern : list) {
      auto parts = util::split(pattern, '/');
      if (parts.size() != 3) continue;
      if (auto f = mappings.find(std::string(parts[1])); f != mappings.end())
        pattern = std::string(parts[0]) + "/" + f->second + "/" + std::string(parts[2]);
    }
  };
  map_names(s.include_names);
  map_names(s.exclude_names);
  return s;
}

namespace {

using Key = std::tuple<std::string, std::string, std::string, std::string>;  // group, resource, namespace, name

struct Planned {
  restore::Plan plan;
  std::map<Key, size_t> index;  // planned (not skipped, not synthesized) items
};

// Labels a restore adds to every object it creates (kbk's, and Velero's for a cluster Velero restored): bookkeeping
// of the restore, not of the application, so a restored object compares equal to its backup.
const char* const k_restore_labels[] = {restore::k_label_backup_name, restore::k_label_restore_name,
                                        "velero.io/backup-name", "velero.io/restore-name"};

// Annotations a controller keeps on the objects it manages (the Deployment controller counts rollouts in
// deployment.kubernetes.io/revision): they change with every rollout the user's change causes, so they would show
// each such change twice, and a restored Deployment starts counting again.
const char* const k_controller_annotations[] = {"deployment.kubernetes.io/revision"};

// Drops the restore labels, the controllers' annotations, and a labels or annotations map left empty (or empty
// already), on both sides alike.
void normalize(restore::PlannedItem& it) {
  const std::string& text = it.object.text();
  if (text.find("/restore-name\"") == std::string::npos && text.find("/backup-name\"") == std::string::npos &&
      text.find("\"labels\":{}") == std::string::npos && text.find("\"annotations\":{}") == std::string::npos &&
      text.find("deployment.kubernetes.io/") == std::string::npos)
    return;
  json::Document obj = it.object.parse();
  json::Value* meta = json::at(obj, {"metadata"});
  if (!meta || !meta->IsObject()) return;
  auto drop = [&](const char* field, auto& keys) {
    json::Value* m = json::find(*meta, field);
    if (!m || !m->IsObject()) return;
    for (const char* k : keys) json::erase(*m, k);
    if (m->MemberCount() == 0) json::erase(*meta, field);
  };
  drop("labels", k_restore_labels);
  drop("annotations", k_controller_annotations);
  it.object = restore::JsonText::of(obj);
}

// A namespace's `default` ServiceAccount is made by the cluster: a restore merges into it and `restore create
// --to-dir` does not write it, so a folder of manifests rarely holds it. Present on one side only, it is not a
// difference; on both, it is compared.
bool cluster_made(const restore::PlannedItem& it) {
  return it.group.empty() && it.resource == "serviceaccounts" && it.target_name == "default";
}

Result<Planned> plan_side(restore::LoadedBackup& side, const restore::Selection& selection,
                          const std::shared_ptr<const app::Application>& applications,
                          const restore::NamespaceMap& mappings, const std::string& what, Report& report) {
  restore::PlanOptions po;
  po.applications = applications;
  po.backup_name = "diff";
  po.restore_name = "diff";
  po.selection = selection;
  po.namespace_mappings = mappings;
  po.restore_labels = restore::RestoreLabels::omit;
  po.restore_status = restore::RestoreStatus::no;
  KBK_ASSIGN_OR_RETURN(restore::Plan plan, restore::make_plan_releasing_backup(side, po));
  Planned p;
  for (size_t i = 0; i < plan.items.size(); ++i) {
    const restore::PlannedItem& it = plan.items[i];
    if (it.synthesized) continue;
    if (it.skip) {
      if (it.skip->failed) report.errors.push_back(what + ": " + it.display() + ": " + it.skip->message);
      else ++report.not_compared[it.skip->reason];
      continue;
    }
    normalize(plan.items[i]);
    p.index.emplace(Key{it.group, it.resource, it.target_namespace, it.target_name}, i);
  }
  p.plan = std::move(plan);
  return p;
}

ObjectChange make_change(Change c, const restore::PlannedItem& it) {
  ObjectChange oc;
  oc.change = c;
  oc.group = it.group;
  oc.version = it.version;
  oc.resource = it.resource;
  oc.kind = it.kind;
  oc.namespace_ = it.target_namespace;
  oc.name = it.target_name;
  return oc;
}

}  // namespace

Result<Report> compare(restore::LoadedBackup& from, restore::LoadedBackup& to, const Options& options) {
  Report report;
  KBK_ASSIGN_OR_RETURN(Planned a, plan_side(from, options.selection, options.applications, options.namespace_mappings, "from", report));
  KBK_ASSIGN_OR_RETURN(Planned b, plan_side(to, mapped_selection(options.selection, options.namespace_mappings), options.applications, {},
                                            "to", report));
  auto count = [&](const ObjectChange& oc, Change c) {
    Counts& k = report.by_kind[oc.group_kind()];
    Counts* both[] = {&k, &report.counts};
    for (Counts* x : both) {
      if (c == Change::added) ++x->added;
      else if (c == Change::removed) ++x->removed;
      else ++x->changed;
    }
  };
  // Both indexes are ordered by key: one merge pass.
  auto ia = a.index.begin(), ib = b.index.begin();
  while (ia != a.index.end() || ib != b.index.end()) {
    const bool take_a = ib == b.index.end() || (ia != a.index.end() && ia->first < ib->first);
    const bool take_b = ia == a.index.end() || (ib != b.index.end() && ib->first < ia->first);
    if (take_a) {
      restore::PlannedItem& it = a.plan.items[ia->second];
      if (cluster_made(it)) {
        ++report.not_compared["managed-by-cluster"];
        it.object.release();
        ++ia;
        continue;
      }
      ObjectChange oc = make_change(Change::removed, it);
      oc.from = it.object.text();
      count(oc, Change::removed);
      report.changes.push_back(std::move(oc));
      it.object.release();
      ++ia;
      continue;
    }
    if (take_b) {
      restore::PlannedItem& it = b.plan.items[ib->second];
      if (cluster_made(it)) {
        ++report.not_compared["managed-by-cluster"];
        it.object.release();
        ++ib;
        continue;
      }
      ObjectChange oc = make_change(Change::added, it);
      oc.to = it.object.text();
      count(oc, Change::added);
      report.changes.push_back(std::move(oc));
      it.object.release();
      ++ib;
      continue;
    }
    restore::PlannedItem& x = a.plan.items[ia->second];
    restore::PlannedItem& y = b.plan.items[ib->second];
    bool same = x.object.text() == y.object.text();
    if (!same) {
      json::Document dx = x.object.parse(), dy = y.object.parse();
      same = json::equal(dx, dy);
    }
    if (same) {
      ++report.counts.unchanged;
      ++report.by_kind[(y.group.empty() ? y.kind : y.kind + "." + y.group)].unchanged;
    } else {
      ObjectChange oc = make_change(Change::changed, y);
      oc.from = x.object.text();
      oc.to = y.object.text();
      count(oc, Change::changed);
      report.changes.push_back(std::move(oc));
    }
    x.object.release();
    y.object.release();
    ++ia;
    ++ib;
  }
  std::sort(report.changes.begin(), report.changes.end(), [](const ObjectChange& l, const ObjectChange& r) {
    return std::tie(l.group, l.resource, l.namespace_, l.name) < std::tie(r.group, r.resource, r.namespace_, r.name);
  });
  return report;
}

}  // namespace kbk::diff
