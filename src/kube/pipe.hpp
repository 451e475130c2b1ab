// A bounded byte pipe between threads (kube-internal): the output buffers of an exec session and the stdin,
// stdout and stderr of a fake one. The bound is soft for push() (the producer is the I/O thread, which stops
// reading its socket instead of blocking: see full_and_arm) and hard for write() (the caller blocks).
#pragma once

#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <kbk/util/error.hpp>

namespace kbk::kube {

class Pipe {
public:
  explicit Pipe(size_t capacity) : m_capacity(capacity ? capacity : 1) {}

  // Called (without the lock) when a reader made room after full_and_arm() said full.
  void set_on_room(std::function<void()> f) { m_on_room = std::move(f); }

  // Appends without waiting (may go past the capacity by one chunk). Dropped after discard() or close().
  void push(std::string_view data) {
    std::lock_guard lock(m_mutex);
    if (m_discard || m_closed) return;
    append(data);
    m_readable.notify_all();
  }
  // Appends, waiting while the pipe is at capacity. Errc::cancelled / the failure once the pipe failed;
  // Errc::precondition once the reading side closed it (reader_gone).
  Result<void> write(std::string_view data) {
    std::unique_lock lock(m_mutex);
    while (!data.empty()) {
      m_writable.wait(lock, [&] { return size() < m_capacity || m_error || m_reader_gone || m_closed; });
      if (m_error) return *m_error;
      if (m_reader_gone || m_closed) return unexpected(Errc::precondition, "the pipe was closed by its reader");
      const size_t k = std::min(data.size(), m_capacity - size());
      if (!m_discard) append(data.substr(0, k));
      data.remove_prefix(k);
      m_readable.notify_all();
    }
    return {};
  }
  // Blocks until bytes are there; 0 once closed and empty; the error once failed and empty.
  Result<size_t> read(char* buffer, size_t n) {
    std::function<void()> notify;
    size_t k = 0;
    {
      std::unique_lock lock(m_mutex);
      m_readable.wait(lock, [&] { return size() > 0 || m_closed || m_error; });
      if (size() == 0) {
        if (m_error) return *m_error;
        return size_t{0};
      }
      k = std::min(n, size());
      std::memcpy(buffer, m_data.data() + m_offset, k);
      m_offset += k;
      if (m_offset == m_data.size()) {
        m_data.clear();
        m_offset = 0;
      } else if (m_offset > (1u << 20) && m_offset > m_data.size() / 2) {
        m_data.erase(0, m_offset);
        m_offset = 0;
      }
      m_writable.notify_all();
      if (m_armed && size() < m_capacity / 2 + 1) {
        m_armed = false;
        notify = m_on_room;
      }
    }
    if (notify) notify();
    return k;
  }
  // True when at capacity; then the next read that makes room calls on_room.
  bool full_and_arm() {
    std::lock_guard lock(m_mutex);
    if (m_discard || size() < m_capacity) return false;
    m_armed = true;
    return true;
  }
  // The end of the data (readers get 0 once empty).
  void close() {
    std::lock_guard lock(m_mutex);
    m_closed = true;
    m_readable.notify_all();
    m_writable.notify_all();
  }
  // The producer failed: readers get the error once the data already there is read.
  void fail(const Error& e) {
    std::lock_guard lock(m_mutex);
    if (!m_error) m_error = e;
    m_readable.notify_all();
    m_writable.notify_all();
  }
  // The reader will not read any more: drop what is there and what comes.
  void discard() {
    std::function<void()> notify;
    {
      std::lock_guard lock(m_mutex);
      m_discard = true;
      m_data.clear();
      m_offset = 0;
      m_writable.notify_all();
      if (m_armed) {
        m_armed = false;
        notify = m_on_room;
      }
    }
    if (notify) notify();
  }
  void reader_gone() {
    std::lock_guard lock(m_mutex);
    m_reader_gone = true;
    m_writable.notify_all();
  }
  // Waits until everything written was read (or the pipe ended).
  void wait_drained() {
    std::unique_lock lock(m_mutex);
    m_writable.wait(lock, [&] { return size() == 0 || m_error || m_reader_gone || m_discard; });
  }

private:
  size_t size() const { return m_data.size() - m_offset; }
  void append(std::string_view d) { m_data.append(d); }

  const size_t m_capacity;
  std::mutex m_mutex;
  std::condition_variable m_readable, m_writable;
  std::string m_data;
  size_t m_offset = 0;
  bool m_closed = false;
  bool m_discard = false;
  bool m_armed = false;
  bool m_reader_gone = false;
  std::optional<Error> m_error;
  std::function<void()> m_on_room;
};

}  // namespace kbk::kube
