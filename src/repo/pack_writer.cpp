// PackWriter: blobs into packs (data and metadata apart), packs uploaded by background threads, index files
// published for uploaded packs (every 64 packs and at flush). docs/format-repository.md sections 8, 9, 11.
#include <kbk/repo/repository.hpp>

#include <cstring>

#include <kbk/crypto/hash.hpp>

namespace kbk::repo {

namespace {
constexpr size_t k_max_queued_packs = 2;  // waiting or uploading: with the open pack, 3 x 16 MiB at most
constexpr size_t k_packs_per_index = 64;
}  // namespace

PackWriter::PackWriter(Repository& repo, compress::Setting compression, int uploaders)
    : m_repo(repo), m_compression(compression) {
  for (auto& p : m_open) p.bytes.reserve(k_pack_size + (1u << 20));
  for (int i = 0; i < std::max(1, uploaders); ++i) m_threads.emplace_back([this] { upload_loop(); });
}

PackWriter::~PackWriter() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stop = true;
  }
  m_cv.notify_all();
  for (auto& t : m_threads) t.join();
  // Blobs added but never stored (a failed backup: packs still open, a failed upload) are taken out of the index
  // table again, where add() put them as pending: left there, a later backup through the same repository (the next
  // volume of a run) would take them for stored and write a snapshot naming blobs no pack holds (found by
  // fuzz.repo_tar: a tar stream that failed mid-way, then another).
  for (const auto& p : m_open)
    for (const auto& e : p.entries) m_abandoned.push_back(e.id);
  for (const auto& q : m_queue_entries)
    for (const auto& e : q.second) m_abandoned.push_back(e.id);
  std::lock_guard<std::mutex> il(m_repo.index_mutex());
  for (const Id& id : m_abandoned)
    if (const Location* l = m_repo.table().find(id); l && l->pack == k_pending_pack) m_repo.table().erase(id);
}

Result<Id> PackWriter::add(BlobType type, std::string_view plaintext) {
  Id id = m_repo.blob_id(plaintext);
  KBK_TRY(add(type, id, plaintext));
  return id;
}

Result<bool> PackWriter::add(BlobType type, const Id& id, std::string_view plaintext) {
  {
    std::lock_guard<std::mutex> lock(m_repo.index_mutex());
    if (!m_repo.table().insert(id, Location{k_pending_pack, 0, 0, 0})) return false;
  }
  // Trees and content lists are JSON and ids: zstd's entropy coding halves the hex ids lz4 cannot shrink.
  static const compress::Setting k_metadata{compress::Codec::zstd, 3};
  std::string stored = m_repo.encode_blob(id, plaintext, type == BlobType::data ? m_compression : k_metadata);
  std::unique_lock<std::mutex> lock(m_mutex);
  if (m_error) {
    m_abandoned.push_back(id);
    return unexpected(*m_error);
  }
  OpenPack& p = m_open[type == BlobType::data ? 0 : 1];
  PackEntry e;
  e.type = type;
  e.id = id;
  e.offset = static_cast<uint32_t>(p.bytes.size());
  e.length = static_cast<uint32_t>(stored.size());
  e.raw_length = static_cast<uint32_t>(plaintext.size());
  p.bytes.append(stored);
  p.entries.push_back(e);
  m_stats.blobs_new++;
  m_stats.bytes_new += plaintext.size();
  m_stats.bytes_stored += stored.size();
  if (p.bytes.size() >= k_pack_size) {
    // Bounded memory: wait while too many packs wait for upload.
    m_cv.wait(lock, [&] { return m_queue.size() + m_in_flight < k_max_queued_packs || m_error; });
    if (m_error) return unexpected(*m_error);
    finish_pack(p);
  }
  return true;
}

Result<void> PackWriter::add_stored(BlobType type, const Id& id, std::string_view stored, uint32_t raw_length) {
  std::unique_lock<std::mutex> lock(m_mutex);
  if (m_error) {
    m_abandoned.push_back(id);
    return unexpected(*m_error);
  }
  OpenPack& p = m_open[type == BlobType::data ? 0 : 1];
  PackEntry e;
  e.type = type;
  e.id = id;
  e.offset = static_cast<uint32_t>(p.bytes.size());
  e.length = static_cast<uint32_t>(stored.size());
  e.raw_length = raw_length;
  p.bytes.append(stored);
  p.entries.push_back(e);
  if (p.bytes.size() >= k_pack_size) {
    m_cv.wait(lock, [&] { return m_queue.size() + m_in_flight < k_max_queued_packs || m_error; });
    if (m_error) return unexpected(*m_error);
    finish_pack(p);
  }
  return {};
}

void PackWriter::finish_pack(OpenPack& p) {
  if (p.entries.empty()) return;
  const std::string header = m_repo.seal_header(encode_pack_header(p.entries));
  p.bytes.append(header);
  p.bytes.append(encode_pack_trailer(static_cast<uint32_t>(header.size())));
  Id pack_id;
  const std::string r = crypto::random_bytes(32);
  std::memcpy(pack_id.data(), r.data(), 32);
  m_queue.emplace_back(pack_id, std::move(p.bytes));
  m_queue_entries.emplace_back(pack_id, std::move(p.entries));
  p.bytes = std::string();
  p.bytes.reserve(k_pack_size + (1u << 20));
  p.entries.clear();
  m_cv.notify_all();
}

void PackWriter::upload_loop() {
  std::unique_lock<std::mutex> lock(m_mutex);
  for (;;) {
    m_cv.wait(lock, [&] { return m_stop || !m_queue.empty(); });
    if (m_queue.empty()) return;
    auto item = std::move(m_queue.front());
    m_queue.pop_front();
    std::vector<PackEntry> entries;
    for (auto it = m_queue_entries.begin(); it != m_queue_entries.end(); ++it)
      if (it->first == item.first) {
        entries = std::move(it->second);
        m_queue_entries.erase(it);
        break;
      }
    ++m_in_flight;
    m_cv.notify_all();
    lock.unlock();
    auto put = m_repo.backend().put(Repository::pack_key(item.first), item.second,
                                    {storage::IfExists::fail, "application/octet-stream"});
    item.second = std::string();
    if (put) {
      std::lock_guard<std::mutex> il(m_repo.index_mutex());
      const uint32_t pn = m_repo.pack_number(item.first);
      for (const auto& e : entries) m_repo.table().set(e.id, Location{pn, e.offset, e.length, pack_raw(e.raw_length, e.type)});
    }
    lock.lock();
    --m_in_flight;
    if (!put) {
      for (const auto& e : entries) m_abandoned.push_back(e.id);
      if (!m_error) m_error = put.error().wrap("uploading pack " + to_hex(item.first));
    } else {
      m_stats.packs++;
      m_uploaded.push_back(PackRecord{item.first, std::move(entries)});
    }
    m_cv.notify_all();
    if (m_uploaded.size() >= k_packs_per_index && !m_error) {
      std::vector<PackRecord> recs;
      recs.swap(m_uploaded);
      lock.unlock();
      const std::string stored = m_repo.seal_object(encode_index(recs));
      auto digest = crypto::sha256(stored);
      Id iid;
      std::memcpy(iid.data(), digest.data(), 32);
      auto r = m_repo.backend().put(std::string(k_prefix) + "index/" + to_hex(iid), stored,
                                    {storage::IfExists::fail, "application/octet-stream"});
      lock.lock();
      if (!r && !r.error().is(Errc::already_exists) && !m_error) m_error = r.error().wrap("writing an index file");
    }
  }
}

Result<void> PackWriter::publish_index(bool) {
  std::vector<PackRecord> recs;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    recs.swap(m_uploaded);
  }
  if (recs.empty()) return {};
  const std::string stored = m_repo.seal_object(encode_index(recs));
  auto digest = crypto::sha256(stored);
  Id iid;
  std::memcpy(iid.data(), digest.data(), 32);
  auto r = m_repo.backend().put(std::string(k_prefix) + "index/" + to_hex(iid), stored,
                                {storage::IfExists::fail, "application/octet-stream"});
  if (!r && !r.error().is(Errc::already_exists)) return unexpected(r.error().wrap("writing an index file"));
  return {};
}

Result<void> PackWriter::flush() {
  {
    std::unique_lock<std::mutex> lock(m_mutex);
    for (auto& p : m_open) finish_pack(p);
    m_cv.wait(lock, [&] { return (m_queue.empty() && m_in_flight == 0) || m_error; });
    if (m_error) return unexpected(*m_error);
  }
  return publish_index(true);
}

WriterStats PackWriter::stats() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_stats;
}

std::optional<Error> PackWriter::error() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_error;
}

}  // namespace kbk::repo
