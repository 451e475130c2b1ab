// Appliers that need no cluster: plan only (--dry-run=client) and a folder of manifests (--to-dir).
#include <kbk/restore/applier.hpp>

#include <filesystem>
#include <mutex>
#include <optional>

#include <kbk/util/fs.hpp>

namespace kbk::restore {
namespace {

class PlanOnlyApplier : public Applier {
public:
  std::string mode() const override { return "dry-run=client"; }
  bool dry_run() const override { return true; }
  ItemResult apply(const PlannedItem& item) override {
    if (item.action == ItemAction::merge_service_account)
      return {Outcome::skipped, "managed-by-cluster",
              "the default ServiceAccount is left to the cluster (imagePullSecrets and annotations would be merged)"};
    return {Outcome::created, "would-create", ""};
  }
};

class DirApplier : public Applier {
public:
  explicit DirApplier(std::string dir) : m_dir(std::move(dir)) {}
  std::string mode() const override { return "to-dir " + m_dir; }
  bool dry_run() const override { return true; }
  ItemResult apply(const PlannedItem& item) override {
    if (item.action == ItemAction::merge_service_account)
      return {Outcome::skipped, "managed-by-cluster",
              "the default ServiceAccount is left to the cluster (imagePullSecrets and annotations are merged on restore)"};
    std::string file = manifest_file_name(item);
    // A name too long for one file is this item's problem; any other failure to write is the folder's (full,
    // read-only, gone) and stops the run with one line instead of one per remaining item.
    if (file.size() > 255) return {Outcome::failed, "name-too-long", "the manifest's file name would exceed 255 bytes"};
    json::Document obj = item.object.parse();
    json::Document status = item.status.parse();
    if (status.IsObject()) {
      json::Value st;
      json::copy_into(st, status, obj.GetAllocator());
      json::set(obj, "status", std::move(st), obj.GetAllocator());
    }
    std::string text = json::to_yaml(obj);
    if (halted()) return {Outcome::skipped, "not-attempted", "the restore stopped before this item"};
    if (auto r = util::write_file_atomic(util::path_join(m_dir, file), text, 0600); !r) {
      std::lock_guard lock(m_mutex);
      if (!m_halted)
        m_halted = Error{Errc::io, "--to-dir " + m_dir + ": " + r.error().message + "; stopped after " +
                                       std::to_string(m_written) + " manifest(s) written"};
      return {Outcome::failed, "write-failed", r.error().message};
    }
    std::lock_guard lock(m_mutex);
    ++m_written;
    return {Outcome::created, "written", file};
  }
  std::optional<Error> halted() const override {
    std::lock_guard lock(m_mutex);
    return m_halted;
  }

private:
  std::string m_dir;
  mutable std::mutex m_mutex;
  std::optional<Error> m_halted;
  size_t m_written = 0;
};

}  // namespace

std::unique_ptr<Applier> make_plan_only_applier() { return std::make_unique<PlanOnlyApplier>(); }

Result<std::unique_ptr<Applier>> make_dir_applier(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) return unexpected(Errc::config, "--to-dir " + dir + ": exists and is not a folder");
    if (!fs::is_empty(dir, ec) || ec)
      return unexpected(Errc::config, "--to-dir " + dir + ": folder is not empty (give an empty or new folder)");
  } else {
    fs::create_directories(dir, ec);
    if (ec) return unexpected(Errc::io, "--to-dir " + dir + ": " + ec.message());
    fs::permissions(dir, fs::perms::owner_all, ec);
  }
  return std::unique_ptr<Applier>(std::make_unique<DirApplier>(dir));
}

}  // namespace kbk::restore
