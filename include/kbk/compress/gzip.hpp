// gzip (RFC 1952), as Velero writes its *.gz files and the backup tarball: the one decoder every reader of a
// backup uses (the tarball, logs, resource list, results), so the rules a hostile or damaged stream meets are the
// same everywhere: the whole member is checked (header, deflate data, CRC-32 and length), nothing but zero padding
// may follow it,
// and the output is bounded (a decompression bomb stops at the limit with an error, never a short result).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <kbk/util/error.hpp>

namespace kbk::compress {

struct InflateLimits {
  uint64_t max_bytes = 1ull << 30;        // decompressed bytes allowed
  // Past ratio_after decompressed bytes, more than max_ratio times the compressed bytes read is a bomb.
  uint64_t ratio_after = 1ull << 30;
  uint64_t max_ratio = 1000;
};

// Pulls compressed bytes from `source` (returns 0 at its end) as it needs them and hands out decompressed bytes
// with a fixed-size buffer: memory does not grow with the stream. read() returns 0 only at the end of a whole,
// checked member with nothing but zero bytes after it. Errors are Errc::corrupt, one line starting with `what`: not gzip,
// damaged data, a wrong CRC or length, truncated, data after the end, over the limit (naming it).
class GzipReader {
public:
  using Source = std::function<Result<size_t>(char* buffer, size_t size)>;
  GzipReader(Source source, std::string what, const InflateLimits& limits = {});
  ~GzipReader();
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  Result<size_t> read(char* buffer, size_t size);
  uint64_t bytes_in() const;   // compressed bytes consumed
  uint64_t bytes_out() const;  // decompressed bytes handed out

private:
  struct State;
  std::unique_ptr<State> m;
};

// One member holding data (deflate, default level).
std::string gzip(std::string_view data);

// The same member built piece by piece: only the compressed bytes are held (a million-item list of names is ~3 MB
// instead of ~30). Also a RapidJSON output stream (Put/Flush), so a document is written straight into it.
class GzipWriter {
public:
  using Ch = char;
  GzipWriter();
  ~GzipWriter();
  GzipWriter(const GzipWriter&) = delete;
  GzipWriter& operator=(const GzipWriter&) = delete;

  void write(std::string_view data);
  void Put(char c) {
    m_pending.push_back(c);
    if (m_pending.size() >= (64u << 10)) drain();
  }
  void Flush() {}
  // The whole member; the writer is spent afterwards.
  std::string finish();

private:
  void drain();
  void deflate_some(int flush);
  struct State;
  std::unique_ptr<State> m;
  std::string m_pending;
};
// The whole decompressed content of a gzip text, within limits (errors as GzipReader's).
Result<std::string> gunzip(std::string_view data, std::string_view what, const InflateLimits& limits = {});
// Whether the bytes start like gzip (1f 8b).
bool is_gzip(std::string_view first_bytes);
// "64 MiB" for messages.
std::string limit_text(uint64_t bytes);
// Whether a GzipReader error is the member's trailer check failing (CRC-32 or length, computed over the whole
// stream): no single entry of what the stream held is at fault, so a reader should not name one.
bool is_trailer_check_failure(const Error& e);

}  // namespace kbk::compress
