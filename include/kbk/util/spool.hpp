// Spooling: data a run must keep until its end but reads back rarely (a restore's objects, the names a verifier
// may have to print), kept in an unlinked temporary file instead of the process's memory.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <kbk/util/error.hpp>

namespace kbk::util {

// Seals what a spool writes under a key that only the process holds, so what reaches the disk (Secrets among a
// restore's objects, the blocks left behind once the file is gone) cannot be read by anyone else. Thread-safe.
class SpoolCipher {
public:
  virtual ~SpoolCipher() = default;
  virtual size_t overhead() const = 0;  // bytes a sealed text has more than the text
  virtual void seal(std::string_view text, std::string& out) = 0;            // appends to out
  virtual bool open(std::string_view sealed, std::string& out) = 0;          // false: not authentic
};

// Texts appended to an unlinked temporary file (mode 0600, in $TMPDIR or /tmp) through a small buffer and read
// back by position: what they cost is page cache the kernel can drop, not the process's memory. Thread-safe.
// The file opens on the first text that leaves the buffer; when it cannot be opened or written, add() fails and
// the caller keeps the text in memory instead.
class TextSpool {
public:
  // With a cipher every text is sealed on its way to the file (and the buffer) and opened when read back.
  explicit TextSpool(std::unique_ptr<SpoolCipher> cipher = nullptr);
  ~TextSpool();
  TextSpool(const TextSpool&) = delete;
  TextSpool& operator=(const TextSpool&) = delete;

  // The offset the text is kept at.
  Result<uint64_t> add(std::string_view text);
  // The text of `size` bytes (as added) at `offset`; without a cipher any range of what was added. A read that fails (an I/O error of the temporary file, a
  // sealed text that does not open) throws std::system_error: what was spooled is needed, and nothing can go on
  // without it.
  std::string read(uint64_t offset, size_t size) const;
  uint64_t bytes() const;  // what the file (and buffer) hold

private:
  Result<void> flush_locked();
  std::unique_ptr<SpoolCipher> m_cipher;
  mutable std::mutex m_mutex;
  std::string m_buf;         // texts from m_file_bytes on, not yet written
  uint64_t m_file_bytes = 0;
  int m_fd = -1;
  bool m_failed = false;     // the file could not be opened or written: add() refuses from then on
};

}  // namespace kbk::util
