// gzip through zlib (see gzip.hpp). zlib checks the header (and its CRC-16 when flagged), the deflate data, the
// trailer's CRC-32 and length; this file adds the streaming with a fixed buffer, the limits and "nothing after".
#include <kbk/compress/gzip.hpp>

#include <zlib.h>

#include <optional>

#include <kbk/util/strings.hpp>

namespace kbk::compress {

// The trailer checks' words in messages (is_trailer_check_failure looks for them).
constexpr const char* k_crc_mismatch = "CRC-32 mismatch: the data was changed";
constexpr const char* k_length_mismatch = "length mismatch: the data was changed";

struct GzipReader::State {
  Source source;
  std::string what;
  InflateLimits limits;
  z_stream zs{};
  bool initialized = false;
  std::string in = std::string(64 * 1024, '\0');
  uint64_t in_total = 0;
  uint64_t out_total = 0;
  bool member_ended = false;
  bool finished = false;
  bool source_ended = false;
  std::optional<Error> failed;

  Error fail(const std::string& problem) {
    failed = Error{Errc::corrupt, what + ": " + problem};
    return *failed;
  }

  // More compressed bytes into zs; false at the end of the source.
  Result<bool> refill() {
    if (source_ended) return false;
    auto n = source(in.data(), in.size());
    if (!n) {
      failed = n.error();
      return unexpected(n.error());
    }
    if (*n == 0) {
      source_ended = true;
      return false;
    }
    in_total += *n;
    zs.next_in = reinterpret_cast<Bytef*>(in.data());
    zs.avail_in = static_cast<uInt>(*n);
    return true;
  }

  // After the member nothing but zero bytes may follow: kbk and Velero write one member; a second one, or other
  // bytes, could hide content; zeros are the block padding libarchive-based writers (bsdtar) add, which GNU gzip
  // ignores too.
  Result<void> check_end() {
    for (;;) {
      for (uInt i = 0; i < zs.avail_in; ++i)
        if (zs.next_in[i] != 0) return fail("data after the end of the gzip stream");
      zs.avail_in = 0;
      KBK_ASSIGN_OR_RETURN(bool more, refill());
      if (!more) return {};
    }
  }
};

GzipReader::GzipReader(Source source, std::string what, const InflateLimits& limits) : m(std::make_unique<State>()) {
  m->source = std::move(source);
  m->what = std::move(what);
  m->limits = limits;
  if (inflateInit2(&m->zs, 15 + 16) == Z_OK) m->initialized = true;
  else m->failed = Error{Errc::internal_error, m->what + ": zlib could not start"};
}

GzipReader::~GzipReader() {
  if (m->initialized) inflateEnd(&m->zs);
}

uint64_t GzipReader::bytes_in() const { return m->in_total; }
uint64_t GzipReader::bytes_out() const { return m->out_total; }

Result<size_t> GzipReader::read(char* buffer, size_t size) {
  State& s = *m;
  if (s.failed) return unexpected(*s.failed);
  if (s.finished || size == 0) return size_t{0};
  for (;;) {
    if (s.member_ended) {
      KBK_TRY(s.check_end());
      s.finished = true;
      return size_t{0};
    }
    if (s.zs.avail_in == 0) {
      KBK_ASSIGN_OR_RETURN(bool more, s.refill());
      if (!more) {
        if (s.in_total == 0) return unexpected(s.fail("empty, not gzip data"));
        return unexpected(s.fail("truncated gzip data (the stream ends inside the compressed data)"));
      }
    }
    s.zs.next_out = reinterpret_cast<Bytef*>(buffer);
    s.zs.avail_out = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    const uInt before = s.zs.avail_out;
    int rc = inflate(&s.zs, Z_NO_FLUSH);
    const size_t produced = before - s.zs.avail_out;
    if (rc == Z_STREAM_END) {
      s.member_ended = true;
    } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
      std::string why = s.zs.msg ? s.zs.msg : "invalid data";
      if (why == "incorrect header check" || why == "unknown compression method")
        return unexpected(s.fail("not gzip data (" + why + ")"));
      if (why == "incorrect data check") why = k_crc_mismatch;
      else if (why == "incorrect length check") why = k_length_mismatch;
      return unexpected(s.fail("damaged gzip data: " + why));
    } else if (rc == Z_MEM_ERROR) {
      return unexpected(s.fail("out of memory while decompressing"));
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return unexpected(s.fail("damaged gzip data (zlib error " + std::to_string(rc) + ")"));
    }
    s.out_total += produced;
    if (s.out_total > s.limits.max_bytes)
      return unexpected(s.fail("decompresses to more than the limit of " + limit_text(s.limits.max_bytes)));
    const uint64_t consumed = s.in_total - s.zs.avail_in;  // read ahead is not yet decompressed
    if (s.out_total > s.limits.ratio_after && s.out_total / std::max<uint64_t>(consumed, 1) > s.limits.max_ratio)
      return unexpected(s.fail("decompression ratio over " + std::to_string(s.limits.max_ratio) +
                               ":1 (a decompression bomb)"));
    if (produced > 0) return produced;
  }
}

std::string gzip(std::string_view data) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

struct GzipWriter::State {
  z_stream zs{};
  std::string out;
};

GzipWriter::GzipWriter() : m(std::make_unique<State>()) {
  deflateInit2(&m->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

GzipWriter::~GzipWriter() { deflateEnd(&m->zs); }

void GzipWriter::write(std::string_view data) {
  m_pending.append(data);
  if (m_pending.size() >= (64u << 10)) drain();
}

void GzipWriter::drain() {
  if (m_pending.empty()) return;
  m->zs.next_in = reinterpret_cast<Bytef*>(m_pending.data());
  m->zs.avail_in = static_cast<uInt>(m_pending.size());
  deflate_some(Z_NO_FLUSH);
  m_pending.clear();
}

void GzipWriter::deflate_some(int flush) {
  char buf[64 << 10];
  for (;;) {
    m->zs.next_out = reinterpret_cast<Bytef*>(buf);
    m->zs.avail_out = sizeof buf;
    const int rc = deflate(&m->zs, flush);
    m->out.append(buf, sizeof buf - m->zs.avail_out);
    if (flush == Z_FINISH ? rc == Z_STREAM_END : (m->zs.avail_in == 0 && m->zs.avail_out != 0)) return;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return;  // (deflate on memory cannot fail otherwise)
  }
}

std::string GzipWriter::finish() {
  m->zs.next_in = reinterpret_cast<Bytef*>(m_pending.data());
  m->zs.avail_in = static_cast<uInt>(m_pending.size());
  deflate_some(Z_FINISH);
  m_pending.clear();
  return std::move(m->out);
}

Result<std::string> gunzip(std::string_view data, std::string_view what, const InflateLimits& limits) {
  size_t offset = 0;
  GzipReader reader(
      [&](char* buffer, size_t size) -> Result<size_t> {
        size_t n = std::min(size, data.size() - offset);
        std::copy(data.data() + offset, data.data() + offset + n, buffer);
        offset += n;
        return n;
      },
      std::string(what), limits);
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    KBK_ASSIGN_OR_RETURN(size_t n, reader.read(buf, sizeof buf));
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

bool is_gzip(std::string_view first_bytes) {
  return first_bytes.size() >= 2 && static_cast<unsigned char>(first_bytes[0]) == 0x1f &&
         static_cast<unsigned char>(first_bytes[1]) == 0x8b;
}

std::string limit_text(uint64_t bytes) { return util::human_bytes(bytes); }

bool is_trailer_check_failure(const Error& e) {
  return e.message.find(k_crc_mismatch) != std::string::npos || e.message.find(k_length_mismatch) != std::string::npos;
}

}  // namespace kbk::compress
