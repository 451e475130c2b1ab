// The per-volume decision (decide.hpp).
#include <kbk/volume/decide.hpp>

#include <algorithm>

#include <kbk/util/strings.hpp>

namespace kbk::volume {

std::vector<std::string> annotation_list(const json::Value& pod, const char* key) {
  std::vector<std::string> out;
  for (const auto& part : util::split(json::get_string(pod, {"metadata", "annotations", key}), ','))
    if (auto t = util::trim(part); !t.empty()) out.emplace_back(t);
  return out;
}

namespace {

bool listed(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// Only the workload itself sees these (an emptyDir lives with its pod; an inline CSI volume is the pod's own).
bool workload_only(const std::string& type) { return type == "emptyDir" || type == "csi"; }

bool has_access_mode(const json::Value* claim, const char* mode) {
  const json::Value* modes = claim ? json::at(*claim, {"spec", "accessModes"}) : nullptr;
  if (!modes || !modes->IsArray()) return false;
  for (const auto& m : modes->GetArray())
    if (m.IsString() && std::string_view(m.GetString(), m.GetStringLength()) == mode) return true;
  return false;
}

Decision fs_backup(const DecisionInput& in, const BackupSettings& s, Decision d) {
  std::string type = in.pod_volume ? volume_type_of_pod_volume(*in.pod_volume) : "";
  if (s.fs_backup_via_workload) {
    d.path = PathKind::fs_backup_workload;
  } else if (in.kind == VolumeRef::Kind::pod_volume && workload_only(type)) {
    d.path = PathKind::fs_backup_workload;
    d.reason += "; a " + type + " volume is read through its pod";
  } else if (in.running_use && has_access_mode(in.claim, "ReadWriteOncePod")) {
    d.path = PathKind::fs_backup_workload;
    d.reason += "; a ReadWriteOncePod claim in use is read through its pod";
  } else {
    d.path = PathKind::fs_backup;
  }
  return d;
}

}  // namespace

Decision decide(const DecisionInput& in, const BackupSettings& s) {
  Decision d;
  const bool claim = in.kind == VolumeRef::Kind::claim;
  const std::string driver = in.pv ? json::get_string(*in.pv, {"spec", "csi", "driver"}) : "";
  const std::string type = in.pv ? volume_type_of_pv(*in.pv) : in.pod_volume ? volume_type_of_pod_volume(*in.pod_volume) : "";

  // 1. The policy file.
  if (s.policies) {
    VolumeFilterData data;
    data.persistent_volume = in.pv;
    data.pod_volume = in.pv ? nullptr : in.pod_volume;
    data.claim = in.claim;
    auto m = (data.persistent_volume || data.pod_volume || data.claim) ? s.policies->match(data)
                                                                         : Result<std::optional<PolicyMatch>>(std::nullopt);
    if (m && *m) {
      d.source = Decision::Source::policy;
      d.rule = (*m)->rule;
      d.reason = s.policies->describe((*m)->rule);
      switch ((*m)->action) {
        case PolicyAction::skip: d.path = PathKind::none; return d;
        case PolicyAction::custom:
          d.path = PathKind::none;
          d.warning = true;
          d.reason += ": a custom action is for a Velero plugin; kbk takes no data";
          return d;
        case PolicyAction::fs_backup: return fs_backup(in, s, d);
        case PolicyAction::snapshot:
          if (!claim || !in.pv) {
            d.path = PathKind::none;
            d.warning = true;
            d.reason += ": only a claim's PersistentVolume can be snapshotted";
            return d;
          }
          if (!in.snapshot_class) {
            d.path = PathKind::none;
            d.warning = true;
            d.reason += ": no VolumeSnapshotClass for " + (driver.empty() ? "a " + type + " volume" : "driver " + driver);
            return d;
          }
          d.path = s.snapshot_move_data.value_or(!s.snapshot_volumes.value_or(false)) ? PathKind::snapshot_move
                                                                                        : PathKind::snapshot;
          return d;
      }
    }
  }

  // 2. The pod annotations (and --default-volumes-to-fs-backup with its excludes).
  bool excluded = false;
  for (const auto& [pod, name] : in.pods) {
    if (!pod) continue;
    const std::string who = json::get_string(*pod, {"metadata", "name"});
    if (s.default_volumes_to_fs_backup) {
      if (listed(annotation_list(*pod, k_annotation_backup_volumes_excludes), name)) {
        excluded = true;
        d.source = Decision::Source::annotation;
        d.reason = std::string(k_annotation_backup_volumes_excludes) + " of pod " + who + " names " + name;
      }
    } else if (listed(annotation_list(*pod, k_annotation_backup_volumes), name)) {
      d.source = Decision::Source::annotation;
      d.reason = std::string(k_annotation_backup_volumes) + " of pod " + who + " names " + name;
      return fs_backup(in, s, d);
    }
  }
  if (s.default_volumes_to_fs_backup && !excluded && !in.pods.empty()) {
    d.source = Decision::Source::flag;
    d.reason = "--default-volumes-to-fs-backup";
    return fs_backup(in, s, d);
  }

  // 3. Claims: snapshots as the flags say, else the live volume.
  if (claim) {
    if (s.snapshot_volumes && !*s.snapshot_volumes) {
      d.path = PathKind::none;
      if (!excluded) {
        d.source = Decision::Source::flag;
        d.reason = "--snapshot-volumes=false";
      }
      return d;
    }
    const bool move = s.snapshot_move_data.value_or(!s.snapshot_volumes.value_or(false));
    if (in.snapshot_class) {
      if (!excluded) {
        d.source = s.snapshot_volumes || s.snapshot_move_data ? Decision::Source::flag : Decision::Source::default_;
        d.reason = move ? (s.snapshot_move_data ? "--snapshot-move-data" : "default: CSI driver " + driver + " has a VolumeSnapshotClass")
                        : (s.snapshot_volumes ? "--snapshot-volumes without --snapshot-move-data" : "--snapshot-move-data=false");
      } else {
        d.reason += "; the claim is snapshotted instead";
      }
      d.path = move ? PathKind::snapshot_move : PathKind::snapshot;
      return d;
    }
    const std::string why = driver.empty() ? (type.empty() ? "no volume is bound" : "a " + type + " volume has no CSI snapshots")
                                           : "CSI driver " + driver + " has no VolumeSnapshotClass";
    if (!move) {
      d.path = PathKind::none;
      d.warning = true;
      d.source = Decision::Source::flag;
      d.reason = (s.snapshot_volumes ? std::string("--snapshot-volumes") : std::string("--snapshot-move-data=false")) +
                 " keeps snapshots only, and " + why;
      return d;
    }
    if (excluded) {
      d.path = PathKind::none;
      d.reason += "; " + why + ", so nothing else takes it";
      return d;
    }
    d.source = Decision::Source::default_;
    d.reason = "default: " + why + ", the live volume is read";
    return fs_backup(in, s, d);
  }

  // 4. Pod volumes nobody opted in.
  d.path = PathKind::none;
  if (!excluded) {
    d.source = Decision::Source::default_;
    d.reason = "a " + (type.empty() ? std::string("pod") : type) + " volume is taken only when opted in (" +
               k_annotation_backup_volumes + ", --default-volumes-to-fs-backup or a volume policy)";
  }
  return d;
}

}  // namespace kbk::volume
