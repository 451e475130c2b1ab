// Encrypted backups: key objects, encrypting/decrypting storage streams, the sealed marker
// (docs/format-archive.md section 5.2).
#include <kbk/archive/encryption.hpp>

#include <algorithm>
#include <cstring>

#include <kbk/archive/documents.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::archive {

Result<NewBackupKey> new_backup_key(const crypto::UserKey& user) {
  NewBackupKey k;
  k.data_key = crypto::SecretKey::random();
  KBK_ASSIGN_OR_RETURN(k.object, crypto::wrap_data_key(k.data_key, user));
  return k;
}

namespace {

// The key objects directly in folder: at most k_max_key_objects (a backup has one, a few during a rotation), each
// read within k_max_small_bytes and parsed. on_object gets the object's name ("kbk-key-<id>"), its text and its
// fields or the error that says why it is not one.
Result<std::vector<std::string>> each_key_object(
    storage::Backend& backend, const std::string& folder, const std::string& what,
    const std::function<void(const std::string& key, const std::string& text, const Result<crypto::KeyObjectFields>&)>&
        on_object) {
  std::vector<std::string> keys;
  KBK_TRY(backend.list(folder + "kbk-key-", [&](const storage::ObjectInfo& info) -> Result<void> {
    if (info.key.find('/', folder.size()) != std::string::npos) return {};
    keys.push_back(info.key);
    if (keys.size() > k_max_key_objects)
      return unexpected(Errc::corrupt, what + " has more than " + std::to_string(k_max_key_objects) +
                                           " key objects (" + folder + "kbk-key-*); a backup has one, or a few while "
                                           "its key is rotated");
    return {};
  }));
  std::vector<std::string> tried;
  for (const auto& key : keys) {
    tried.push_back(key.substr(folder.size()));
    auto text = read_bounded(backend, key, key, k_max_small_bytes);
    if (!text) {
      if (text.error().is(Errc::not_found)) continue;  // removed meanwhile (a rotation)
      if (!text.error().is(Errc::corrupt)) return std::move(text).error();
      on_object(key, "", unexpected(std::move(text).error()));
      continue;
    }
    on_object(key, *text, crypto::parse_key_object(*text, key));
  }
  return tried;
}

}  // namespace

Result<crypto::SecretKey> open_data_key(storage::Backend& backend, const std::string& folder, const crypto::UserKey& user,
                                        const std::string& what) {
  std::optional<crypto::SecretKey> found;
  std::optional<Error> other;  // a key object that is not one (parse, unsupported): reported when nothing opens
  KBK_ASSIGN_OR_RETURN(auto tried, each_key_object(backend, folder, what, [&](const std::string& key, const std::string&,
                                                                              const Result<crypto::KeyObjectFields>& f) {
    if (found) return;
    auto dk = f ? crypto::unwrap_data_key(*f, user, key) : Result<crypto::SecretKey>(unexpected(f.error()));
    if (dk) found = std::move(*dk);
    else if (!dk.error().is(Errc::crypto) && !other) other = dk.error();
  }));
  if (found) return std::move(*found);
  if (other) return *other;
  if (tried.empty())
    return unexpected(Errc::crypto, what + " has no key objects (" + folder + "kbk-key-*) in " + backend.display_url());
  return unexpected(Errc::crypto, "the encryption key does not open " + what + " (tried " + util::join(tried, ", ") + ")");
}

Result<crypto::SecretKey> open_backup_key(storage::Backend& backend, const std::string& name, const crypto::UserKey& user) {
  return open_data_key(backend, BackupPaths{name}.dir(), user, "backup " + name);
}

Result<RekeyResult> rekey_backup(storage::Backend& backend, const std::string& name, const crypto::UserKey& old_key,
                                 const crypto::UserKey& new_key, bool keep_old) {
  const BackupPaths paths{name};
  const std::string folder = paths.dir();
  const std::string what = "backup " + name;
  struct Opened {
    std::string object;  // "kbk-key-<id>"
    crypto::SecretKey data_key;
  };
  std::vector<Opened> by_old, by_new;
  std::optional<Error> other;  // a key object that is not one: reported when neither key opens anything
  KBK_ASSIGN_OR_RETURN(auto tried, each_key_object(backend, folder, what, [&](const std::string& key, const std::string&,
                                                                              const Result<crypto::KeyObjectFields>& f) {
    const std::string object = key.substr(folder.size());
    if (!f) {
      if (!other) other = f.error();
      return;
    }
    for (auto [user, into] : {std::pair{&old_key, &by_old}, std::pair{&new_key, &by_new}}) {
      auto dk = crypto::unwrap_data_key(*f, *user, key);
      if (dk) into->push_back({object, std::move(*dk)});
      else if (!dk.error().is(Errc::crypto) && !other) other = dk.error();
    }
  }));
  for (const auto& o : by_old)
    for (const auto& n : by_new)
      if (o.object == n.object)
        return unexpected(Errc::config, "the new encryption key is the old one (both open " + o.object + " of " + what + ")");
  RekeyResult r;
  if (by_old.empty()) {
    if (!by_new.empty()) {  // rotated already (an earlier run): nothing to do
      r.key = by_new.front().object;
      return r;
    }
    if (other) return *other;
    if (tried.empty())
      return unexpected(Errc::crypto, what + " has no key objects (" + folder + "kbk-key-*) in " + backend.display_url());
    return unexpected(Errc::crypto, "the encryption key does not open " + what + " (tried " + util::join(tried, ", ") + ")");
  }
  const crypto::SecretKey& data_key = by_old.front().data_key;
  for (const auto& group : {&by_old, &by_new})
    for (const auto& o : *group)
      if (o.data_key.bytes() != data_key.bytes())
        return unexpected(Errc::corrupt, what + ": " + o.object + " and " + by_old.front().object +
                                             " wrap different data keys; nothing was changed");
  if (!by_new.empty()) {
    r.key = by_new.front().object;  // written by an interrupted run: reuse it
  } else {
    KBK_ASSIGN_OR_RETURN(crypto::KeyObject object, crypto::wrap_data_key(data_key, new_key));
    const std::string key = paths.key_object(object.key_id);
    storage::PutOptions once;
    once.if_exists = storage::IfExists::fail;
    once.content_type = "application/json";
    KBK_TRY(backend.put(key, object.json, once));
    // Read it back: the old key objects go only once the new one is known to open the backup.
    auto back = read_bounded(backend, key, key, k_max_small_bytes);
    auto fields = back ? crypto::parse_key_object(*back, key) : Result<crypto::KeyObjectFields>(unexpected(back.error()));
    auto check = fields ? crypto::unwrap_data_key(*fields, new_key, key) : Result<crypto::SecretKey>(unexpected(fields.error()));
    if (!check || check->bytes() != data_key.bytes()) {
      (void)backend.remove(key);
      return unexpected(Errc::corrupt, what + ": the new key object " + key +
                                           " did not open with the new key when read back (" +
                                           (check ? std::string("another data key") : check.error().message) +
                                           "); it was removed and nothing else changed");
    }
    r.added = r.key = "kbk-key-" + object.key_id;
  }
  if (keep_old) return r;
  std::vector<std::string> keys;
  for (const auto& o : by_old) {
    keys.push_back(folder + o.object);
    r.removed.push_back(o.object);
  }
  if (auto removed = backend.remove_many(keys); !removed)
    return unexpected(removed.error().code, what + ": " + r.key + " opens it with the new key, but removing " +
                                                util::join(r.removed, ", ") + " failed (" + removed.error().message +
                                                "); both keys open it until a rerun removes them");
  return r;
}

// ---- streams -------------------------------------------------------------------------------------------------

EncryptingWriter::EncryptingWriter(std::unique_ptr<storage::Writer> inner, const crypto::SecretKey& data_key,
                                   int segment_size_log2)
    : m_inner(std::move(inner)), m_encryptor(data_key, segment_size_log2) {}

Result<void> EncryptingWriter::put(const std::string& ciphertext) {
  if (ciphertext.empty()) return {};
  m_hash.update(ciphertext);
  return m_inner->write(ciphertext);
}

Result<void> EncryptingWriter::write(std::string_view data) {
  if (m_done) return unexpected(Errc::internal_error, "encrypting writer: write after commit");
  return put(m_encryptor.update(data));
}

Result<void> EncryptingWriter::commit() {
  if (m_done) return unexpected(Errc::internal_error, "encrypting writer: committed twice");
  m_done = true;
  KBK_TRY(put(m_encryptor.finish()));
  m_sha256 = m_hash.finish_hex();
  return m_inner->commit();
}

void EncryptingWriter::abort() {
  m_done = true;
  if (m_inner) m_inner->abort();
}

DecryptingReader::DecryptingReader(std::unique_ptr<storage::Reader> inner, const crypto::SecretKey& data_key,
                                   std::string what)
    : m_inner(std::move(inner)), m_decryptor(data_key, std::move(what)), m_buffer(256 * 1024, '\0') {}

Result<size_t> DecryptingReader::read(char* buffer, size_t size) {
  while (m_offset == m_plain.size()) {
    if (m_finished) return size_t{0};
    m_plain.clear();
    m_offset = 0;
    KBK_ASSIGN_OR_RETURN(size_t n, m_inner->read(m_buffer.data(), m_buffer.size()));
    if (n == 0) {
      // The end of the stored bytes: only a stream whose final segment authenticated ends here.
      KBK_ASSIGN_OR_RETURN(m_plain, m_decryptor.finish());
      m_finished = true;
    } else {
      KBK_ASSIGN_OR_RETURN(m_plain, m_decryptor.update(std::string_view(m_buffer.data(), n)));
    }
  }
  const size_t k = std::min(size, m_plain.size() - m_offset);
  std::memcpy(buffer, m_plain.data() + m_offset, k);
  m_offset += k;
  return k;
}

// ---- marker --------------------------------------------------------------------------------------------------

bool is_encrypted(const json::Value& marker) {
  const json::Value* enc = json::at(marker, {"archive", "encrypted"});
  return enc && enc->IsBool() && enc->GetBool();
}

std::string archive_object(const json::Value* marker, const std::string& name) {
  if (marker) {
    std::string key = json::get_string(*marker, {"archive", "key"});
    if (!key.empty()) return key;
  }
  return BackupPaths{name}.tarball();
}

namespace {

void copy_member(json::Value& out, const json::Value& from, const char* key, json::Allocator& a) {
  const json::Value* v = json::find(from, key);
  if (!v) return;
  json::Value copy;
  json::copy_into(copy, *v, a);
  json::set(out, key, std::move(copy), a);
}

}  // namespace

Result<std::string> seal_marker(std::string_view full_marker_json, const crypto::SecretKey& data_key) {
  KBK_ASSIGN_OR_RETURN(json::Document full, json::parse(full_marker_json, "backup marker"));
  if (!full.IsObject() || !is_encrypted(full))
    return unexpected(Errc::internal_error, "seal_marker: the marker does not describe an encrypted archive");
  json::Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  for (const char* k : {"apiVersion", "kind", "name", "uid", "phase", "startTimestamp", "completionTimestamp",
                        "expiration", "ttl", "labels"})
    copy_member(out, full, k, a);
  json::Value counts(rapidjson::kObjectType);
  if (const json::Value* c = json::find(full, "counts"))
    for (const char* k : {"items", "warnings", "errors", "skipped"}) copy_member(counts, *c, k, a);
  out.AddMember("counts", counts, a);
  json::Value cluster(rapidjson::kObjectType);
  cluster.AddMember("name", json::make_string(json::get_string(full, {"cluster", "name"}), a), a);
  cluster.AddMember("kubeSystemUID", json::make_string(json::get_string(full, {"cluster", "kubeSystemUID"}), a), a);
  out.AddMember("cluster", cluster, a);
  copy_member(out, full, "archive", a);
  json::Value enc(rapidjson::kObjectType);
  enc.AddMember("version", crypto::k_format_version, a);
  enc.AddMember("dataKeyId", json::make_string(data_key.data_key_id(), a), a);
  out.AddMember("encryption", enc, a);
  out.AddMember("sealed", json::make_string(util::base64_encode(crypto::encrypt(data_key, full_marker_json)), a), a);
  return json::to_pretty(out) + "\n";
}

Result<json::Document> open_marker(const json::Value& marker, const crypto::SecretKey& data_key) {
  const std::string name = json::get_string(marker, {"name"});
  const json::Value* sealed = json::find(marker, "sealed");
  if (!sealed) {
    json::Document copy;
    json::copy_into(copy, marker, copy.GetAllocator());
    return copy;
  }
  const std::string what = "backup " + name + ": kbk-manifest.json";
  const json::Value* version = json::at(marker, {"encryption", "version"});
  if (!version || !version->IsInt() || version->GetInt() > crypto::k_format_version)
    return unexpected(Errc::unsupported, what + ": encryption version " +
                                             (version && version->IsInt() ? std::to_string(version->GetInt()) : "missing") +
                                             "; this kbk reads " + std::to_string(crypto::k_format_version));
  if (!sealed->IsString()) return unexpected(Errc::corrupt, what + ": \"sealed\" is not a string");
  auto raw = util::base64_decode(std::string_view(sealed->GetString(), sealed->GetStringLength()));
  if (!raw) return unexpected(Errc::corrupt, what + ": \"sealed\" is not base64");
  KBK_ASSIGN_OR_RETURN(std::string text, crypto::decrypt(data_key, *raw, what + " (sealed)"));
  KBK_ASSIGN_OR_RETURN(json::Document full, parse_document(text, what + " (sealed)", marker_schema()));
  if (json::find(full, "sealed")) return unexpected(Errc::corrupt, what + ": the sealed marker is sealed again");
  if (json::get_string(full, {"name"}) != name ||
      json::get_string(full, {"uid"}) != json::get_string(marker, {"uid"}))
    return unexpected(Errc::corrupt, what + ": the sealed marker names another backup");
  // The plaintext summary is not authenticated by itself: with the key, it must say what the sealed copy says
  // (so the archive's key and checksum readers use are the authenticated ones, and a modified summary is noticed).
  for (const char* k : {"phase", "startTimestamp", "completionTimestamp", "expiration", "archive", "labels"}) {
    const json::Value* outer = json::find(marker, k);
    const json::Value* inner = json::find(full, k);
    if ((outer == nullptr) != (inner == nullptr) || (outer && !json::equal(*outer, *inner)))
      return unexpected(Errc::corrupt, what + ": its plaintext \"" + std::string(k) +
                                           "\" differs from the sealed marker's (the object was modified)");
  }
  // The source cluster (listing and prune --cluster read it without the key): the same rule, member by member.
  for (const char* k : {"name", "kubeSystemUID"}) {
    const json::Value* outer = json::at(marker, {"cluster", k});
    if (outer && (!outer->IsString() || json::get_string(full, {"cluster", k}) != json::get_string(marker, {"cluster", k})))
      return unexpected(Errc::corrupt, what + ": its plaintext cluster." + std::string(k) +
                                           " differs from the sealed marker's (the object was modified)");
  }
  const json::Value* counts = json::find(marker, "counts");
  if (counts && !counts->IsObject())
    return unexpected(Errc::corrupt, what + ": its plaintext counts are not an object (the object was modified)");
  if (counts)
    for (const auto& c : counts->GetObject()) {
      const json::Value* inner = json::at(full, {"counts", std::string(c.name.GetString(), c.name.GetStringLength())});
      if (!inner || !json::equal(c.value, *inner))
        return unexpected(Errc::corrupt, what + ": its plaintext counts differ from the sealed marker's (the object "
                                             "was modified)");
    }
  return full;
}

Error key_required(const std::string& name) {
  return Error{Errc::config, "backup " + name + " is encrypted: pass --encryption-key-file"};
}

Result<std::optional<crypto::SecretKey>> backup_data_key(storage::Backend& backend, const std::string& name,
                                                         const json::Value* marker, const crypto::UserKey* user) {
  bool encrypted = false;
  if (marker) {
    encrypted = is_encrypted(*marker);
  } else {
    // No marker (an incomplete backup): its key objects tell.
    BackupPaths paths{name};
    KBK_TRY(backend.list(paths.dir() + "kbk-key-", [&](const storage::ObjectInfo&) -> Result<void> {
      encrypted = true;
      return {};
    }));
  }
  if (!encrypted) return std::optional<crypto::SecretKey>{};
  if (!user) return key_required(name);
  KBK_ASSIGN_OR_RETURN(crypto::SecretKey key, open_backup_key(backend, name, *user));
  return std::optional<crypto::SecretKey>(std::move(key));
}

Result<std::unique_ptr<storage::Reader>> open_object(storage::Backend& backend, const std::string& key,
                                                     const crypto::SecretKey* data_key) {
  KBK_ASSIGN_OR_RETURN(auto reader, backend.get_stream(key));
  if (!data_key) return reader;
  return std::unique_ptr<storage::Reader>(
      std::make_unique<DecryptingReader>(std::move(reader), *data_key, backend.display_url() + "/" + key));
}

Result<std::string> read_object(storage::Backend& backend, const std::string& key, const crypto::SecretKey* data_key) {
  return read_bounded(backend, key, key, k_max_document_bytes, data_key);
}

}  // namespace kbk::archive
