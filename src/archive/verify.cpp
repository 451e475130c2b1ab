// kbk backup verify: the archive against its own manifest and the location's marker.
#include <kbk/archive/archive.hpp>
#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>

#include <map>

#include <kbk/crypto/hash.hpp>
#include <kbk/json/json.hpp>

namespace kbk::archive {
namespace {

using crypto::sha256_hex;

// Hashes the stored bytes as the archive reader pulls them.
class HashingReader final : public storage::Reader {
public:
  explicit HashingReader(std::unique_ptr<storage::Reader> inner) : m_inner(std::move(inner)) {}
  Result<size_t> read(char* buffer, size_t size) override {
    KBK_ASSIGN_OR_RETURN(size_t n, m_inner->read(buffer, size));
    m_hash.update(std::string_view(buffer, n));
    return n;
  }
  // Reads what the archive reader left (tar padding after the end marker) and returns the digest.
  Result<std::string> finish() {
    char buf[65536];
    for (;;) {
      KBK_ASSIGN_OR_RETURN(size_t n, read(buf, sizeof buf));
      if (n == 0) break;
    }
    return m_hash.finish_hex();
  }

private:
  std::unique_ptr<storage::Reader> m_inner;
  crypto::Sha256 m_hash;
};

// A Velero backup (no kbk marker) that Velero itself would list: velero-backup.json says Completed or
// PartiallyFailed. nullopt when there is no such backup.
Result<bool> is_velero_backup(storage::Backend& backend, const BackupPaths& paths) {
  auto text = backend.get(paths.velero_backup());
  if (!text) {
    if (text.error().is(Errc::not_found)) return false;
    return unexpected(std::move(text).error());
  }
  auto doc = json::parse(*text, "backup " + paths.name + ": velero-backup.json");
  if (!doc) return false;
  const std::string phase = json::get_string(*doc, {"status", "phase"});
  return phase == "Completed" || phase == "PartiallyFailed";
}

std::string key_text(const ItemKey& k) {
  return k.group_resource() + "/" + (k.namespace_.empty() ? "" : k.namespace_ + "/") + k.name;
}

}  // namespace

Result<VerifyReport> verify_backup(storage::Backend& backend, const std::string& name, const crypto::UserKey* user) {
  BackupPaths paths{name};
  KBK_ASSIGN_OR_RETURN(auto marker, read_marker(backend, name));
  bool velero = false;
  if (!marker) {
    KBK_ASSIGN_OR_RETURN(velero, is_velero_backup(backend, paths));
    if (!velero)
      return unexpected(Errc::not_found, "backup " + name + " not found (no kbk-manifest.json or completed velero-backup.json) in " +
                                             backend.display_url());
  }
  // The stored bytes are hashed as they come; an encrypted archive is decrypted and authenticated after that.
  const json::Value* m = marker ? &*marker : nullptr;
  KBK_ASSIGN_OR_RETURN(auto data_key, backup_data_key(backend, name, m, user));
  // The plaintext marker must agree with its sealed copy: the archive key and checksum used below are then
  // authenticated.
  if (m && data_key) KBK_TRY(open_marker(*m, *data_key));
  const std::string object = archive_object(m, name);
  KBK_ASSIGN_OR_RETURN(auto raw, backend.get_stream(object));
  auto hashing = std::make_unique<HashingReader>(std::move(raw));
  HashingReader& hashed = *hashing;
  std::unique_ptr<storage::Reader> source = std::move(hashing);
  if (data_key)
    source = std::make_unique<DecryptingReader>(std::move(source), *data_key, backend.display_url() + "/" + object);
  storage::Reader& reader = *source;
  VerifyReport report;
  std::map<std::string, std::string> seen;  // item -> sha256 of its legacy file
  std::string manifest_text;
  KBK_TRY(read_archive(reader, name, {}, [&](const Entry& e) -> Result<void> {
    ++report.entries;
    if (e.path == "kbk/manifest.json") manifest_text = std::string(e.data);
    if (!e.is_item) return {};
    // Every item must be a Kubernetes object, whatever its checksum says: restore refuses anything else.
    auto obj = json::parse(e.data, "backup " + name + ": entry " + e.path);
    if (!obj || !obj->IsObject()) {
      report.problems.push_back("entry " + e.path + ": not a JSON object");
      return {};
    }
    const std::string k = key_text(e.key);
    std::string sum = sha256_hex(e.data);
    auto it = seen.find(k);
    if (it == seen.end()) seen.emplace(k, sum);
    else if (it->second != sum) report.problems.push_back(k + ": the copy in " + e.path + " differs from the other copy");
    return {};
  }));
  KBK_ASSIGN_OR_RETURN(std::string stored_sum, hashed.finish());
  if (velero) {
    // Velero writes no checksums: the archive is sound when it reads cleanly and every item is an object.
    report.items_checked = seen.size();
    return report;
  }
  const std::string want_sum = json::get_string(*marker, {"archive", "sha256"});
  if (!want_sum.empty() && want_sum != stored_sum)
    report.problems.push_back(object + ": SHA-256 " + stored_sum + " differs from the marker's " + want_sum);
  if (manifest_text.empty()) {
    report.problems.push_back("kbk/manifest.json is missing from the archive");
    return report;
  }
  KBK_ASSIGN_OR_RETURN(json::Document manifest, json::parse(manifest_text, "backup " + name + ": kbk/manifest.json"));
  const json::Value* items = json::find(manifest, "items");
  if (!items || !items->IsArray()) {
    report.problems.push_back("kbk/manifest.json has no item list");
    return report;
  }
  for (const auto& it : items->GetArray()) {
    ItemKey k{json::get_string(it, {"group"}), json::get_string(it, {"version"}), json::get_string(it, {"resource"}),
              json::get_string(it, {"namespace"}), json::get_string(it, {"name"})};
    const std::string text = key_text(k);
    auto found = seen.find(text);
    if (found == seen.end()) {
      report.problems.push_back(text + ": in the manifest but not in the archive");
      continue;
    }
    ++report.items_checked;
    const std::string want = json::get_string(it, {"sha256"});
    if (found->second != want) report.problems.push_back(text + ": SHA-256 " + found->second + " differs from the manifest's " + want);
    seen.erase(found);
  }
  for (const auto& [k, sum] : seen) report.problems.push_back(k + ": in the archive but not in the manifest");
  return report;
}

}  // namespace kbk::archive
