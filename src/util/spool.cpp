// Spooling to an unlinked temporary file (spool.hpp).
#include <kbk/util/spool.hpp>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <unistd.h>

#include <kbk/util/fs.hpp>

namespace kbk::util {

namespace {
constexpr size_t k_spool_buffer = 256u << 10;
}

TextSpool::TextSpool(std::unique_ptr<SpoolCipher> cipher) : m_cipher(std::move(cipher)) {}

TextSpool::~TextSpool() {
  if (m_fd >= 0) ::close(m_fd);
}

uint64_t TextSpool::bytes() const {
  std::lock_guard lock(m_mutex);
  return m_file_bytes + m_buf.size();
}

Result<void> TextSpool::flush_locked() {
  if (m_buf.empty()) return {};
  if (m_fd < 0) {
    auto fd = util::open_unlinked_temp("kbk-spool");
    if (!fd) return unexpected(fd.error());
    m_fd = *fd;
  }
  KBK_TRY(util::pwrite_all(m_fd, m_buf, m_file_bytes, "a spool file"));
  m_file_bytes += m_buf.size();
  m_buf.clear();
  return {};
}

Result<uint64_t> TextSpool::add(std::string_view text) {
  std::lock_guard lock(m_mutex);
  if (m_failed) return unexpected(Errc::io, "the spool file failed before");
  const uint64_t at = m_file_bytes + m_buf.size();
  if (m_cipher) m_cipher->seal(text, m_buf);
  else m_buf.append(text);
  if (m_buf.size() >= k_spool_buffer) {
    if (auto r = flush_locked(); !r) {
      m_buf.resize(static_cast<size_t>(at - m_file_bytes));
      m_failed = true;
      return unexpected(r.error());
    }
  }
  return at;
}

std::string TextSpool::read(uint64_t offset, size_t size) const {
  const size_t stored = size + (m_cipher ? m_cipher->overhead() : 0);
  std::string out(stored, '\0');
  size_t from_file = stored;  // the bytes before m_file_bytes are in the file, the rest still in the buffer
  {
    std::lock_guard lock(m_mutex);
    if (offset + stored > m_file_bytes + m_buf.size())
      throw std::system_error(EIO, std::generic_category(), "reading a spool file: past its end");
    if (offset + stored > m_file_bytes) {
      from_file = offset < m_file_bytes ? static_cast<size_t>(m_file_bytes - offset) : 0;
      const size_t in_buf = static_cast<size_t>(offset + from_file - m_file_bytes);
      std::memcpy(out.data() + from_file, m_buf.data() + in_buf, stored - from_file);
    }
  }
  // What was written stays where it is (the buffer goes to the file whole, after what is there).
  if (from_file > 0)
    if (auto r = util::pread_all(m_fd, out.data(), from_file, offset, "a spool file"); !r)
      throw std::system_error(EIO, std::generic_category(), r.error().message);
  if (!m_cipher) return out;
  std::string text;
  if (!m_cipher->open(out, text) || text.size() != size)
    throw std::system_error(EIO, std::generic_category(), "reading a spool file: a text does not authenticate");
  return text;
}

}  // namespace kbk::util
